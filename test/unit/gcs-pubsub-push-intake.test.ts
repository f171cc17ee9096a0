/**
 * The `gcs-pubsub-push` intake's reading of GCS notifications: both push shapes, both payload formats,
 * what is ignored (other event types, other buckets) and what is refused as malformed (400).
 */
import { describe, expect, it } from 'vitest';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import { refusal } from '../integration/support/refusal.js';
import {
  notificationAttributes,
  objectResource,
  unwrappedPush,
  wrappedPush,
  type NotifiedObject,
} from '../support/gcs-notifications.js';

const BUCKET = 'acme-uploads';
const intake = createGcsPubsubPushIntake({ bucket: BUCKET, auth: 'none' });
const object: NotifiedObject = {
  bucket: BUCKET,
  key: 'vendors/acme/orders/2026-12-02/orders one.csv',
  generation: '1733133600123456',
};

const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  intake.receive(
    new Request('http://gateway.test/v1/notifications/gcs-pubsub-push', {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );

const finalized = {
  landings: [
    {
      bucket: BUCKET,
      key: object.key,
      version: object.generation,
      kind: 'finalized',
      via: 'gcs-pubsub-push',
      eventTime: '2026-12-02T10:00:00.123456Z',
    },
  ],
  reply: { messageId: '1234567890' },
};

describe('the gcs-pubsub-push intake', () => {
  it('is served at POST /v1/notifications/gcs-pubsub-push, inline unless configured otherwise', () => {
    expect(intake).toMatchObject({ type: 'gcs-pubsub-push', method: 'POST', mode: 'inline' });
    expect(intake.path).toBe('/v1/notifications/gcs-pubsub-push');
    expect(createGcsPubsubPushIntake({ bucket: BUCKET, auth: 'none', mode: 'background' }).mode).toBe(
      'background',
    );
  });

  for (const format of ['JSON_API_V1', 'NONE'] as const) {
    it(`lands the notified generation of a wrapped ${format} OBJECT_FINALIZE`, async () => {
      expect(await post(wrappedPush(object, format))).toEqual(finalized);
    });

    it(`lands the notified generation of an unwrapped ${format} OBJECT_FINALIZE`, async () => {
      const { headers, body } = unwrappedPush(object, format);
      expect(await post(body, headers)).toEqual(finalized);
    });
  }

  it('reads a wrapped push as wrapped when it carries the x-goog-pubsub-* headers too', async () => {
    const { headers } = unwrappedPush(object);
    const metadata = Object.fromEntries(
      Object.entries(headers).filter(([name]) => name.startsWith('x-goog-pubsub-')),
    );
    expect(await post(wrappedPush(object), { 'content-type': 'application/json', ...metadata })).toEqual(
      finalized,
    );
  });

  it('reads message_id when a push carries only the snake_case spelling', async () => {
    const push = wrappedPush(object) as { message: Record<string, unknown> };
    delete push.message.messageId;
    push.message.message_id = 'snake-42';
    expect(await post(push)).toMatchObject({ reply: { messageId: 'snake-42' } });
  });

  it('takes the object from the JSON_API_V1 data when the attributes leave it out', async () => {
    const push = wrappedPush(object) as { message: { attributes: Record<string, string> } };
    const { eventType, payloadFormat } = push.message.attributes;
    push.message.attributes = { eventType: eventType!, payloadFormat: payloadFormat! };
    expect(await post(push)).toMatchObject({
      landings: [{ bucket: BUCKET, key: object.key, version: object.generation }],
    });
  });

  for (const eventType of [
    'OBJECT_DELETE',
    'OBJECT_ARCHIVE',
    'OBJECT_METADATA_UPDATE',
    'OBJECT_SOMETHING_NEW',
  ]) {
    it(`acknowledges and ignores ${eventType}`, async () => {
      const result = await post(wrappedPush({ ...object, eventType }));
      expect(result).toEqual({
        ignored: `${eventType} of gs://${BUCKET}/${object.key}#${object.generation}: only OBJECT_FINALIZE is ingested`,
        reply: { messageId: '1234567890' },
      });
    });
  }

  it("acknowledges and ignores a notification of another bucket than the store's", async () => {
    const result = await post(wrappedPush({ ...object, bucket: 'someone-else' }, 'NONE'));
    expect(result).toMatchObject({
      ignored: expect.stringContaining('bucket someone-else is not acme-uploads'),
    });
    expect(result).not.toHaveProperty('landings');
  });

  describe('refuses a malformed push with 400 naming what is wrong', () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['a body that is not JSON', () => post('{"message":'), /not a Pub\/Sub push: the body is not JSON/],
      ['JSON without a message', () => post({ subscription: 's' }), /has no "message" object/],
      [
        'an unwrapped push without its metadata headers',
        () => post(JSON.stringify(objectResource(object))),
        /no "message" object.*--push-no-wrapper-write-metadata/,
      ],
      [
        'data that is not base64',
        () => post({ message: { attributes: notificationAttributes(object), data: '!!not base64!!' } }),
        /message.data of the push is not base64/,
      ],
      [
        'a JSON_API_V1 message without data',
        () => post({ message: { attributes: notificationAttributes(object) } }),
        /JSON_API_V1 notification carries no data/,
      ],
      [
        'data that is not an object resource',
        () =>
          post({
            message: {
              attributes: notificationAttributes(object),
              data: Buffer.from('{"kind":"storage#object"}').toString('base64'),
            },
          }),
        /the notification data has no "generation" string: not a GCS object resource/,
      ],
      [
        'no eventType attribute',
        () => post({ message: { attributes: { payloadFormat: 'NONE', bucketId: BUCKET } } }),
        /no eventType attribute/,
      ],
      [
        'an unknown payload format',
        () =>
          post({
            message: { attributes: { ...notificationAttributes(object, 'NONE'), payloadFormat: 'XML' } },
          }),
        /payloadFormat "XML" is not JSON_API_V1 or NONE/,
      ],
      [
        'NONE without an objectId',
        () => {
          const { objectId: _objectId, ...attributes } = notificationAttributes(object, 'NONE');
          return post({ message: { attributes } });
        },
        /has no objectId/,
      ],
      [
        'a generation that is not a version token',
        () =>
          post({
            message: {
              attributes: { ...notificationAttributes(object, 'NONE'), objectGeneration: '12 abc' },
            },
          }),
        /objectGeneration "12 abc" is not a generation/,
      ],
      [
        'attributes that disagree with the data',
        () => {
          const push = wrappedPush(object) as { message: { attributes: Record<string, string> } };
          push.message.attributes.objectGeneration = '7';
          return post(push);
        },
        /objectGeneration attribute "7" disagrees with the object resource's "1733133600123456"/,
      ],
      [
        'an attribute that is not a string',
        () => post({ message: { attributes: { eventType: 1 } } }),
        /message.attributes.eventType of the push is not a string/,
      ],
    ];
    for (const [name, send, message] of cases) {
      it(name, async () => {
        const error = await refusal(send());
        expect(error.code).toBe('BAD_REQUEST');
        expect(error.message).toMatch(message);
      });
    }
  });

  it('refuses a body past the notification limit with 413 before parsing it', async () => {
    const error = await refusal(post('x'.repeat(300 * 1024)));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
