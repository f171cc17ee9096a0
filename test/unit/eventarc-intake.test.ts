/**
 * The `eventarc` intake's reading of Cloud Storage CloudEvents: binary and structured mode, what is
 * ignored (other types, other buckets) and what is refused as malformed (400).
 */
import { describe, expect, it } from 'vitest';
import { createEventarcIntake } from '../../adapters/intake/eventarc/eventarc-intake.js';
import { refusal } from '../integration/support/refusal.js';
import {
  binaryCloudEvent,
  objectResource,
  structuredCloudEvent,
  type NotifiedObject,
} from '../support/gcs-notifications.js';

const BUCKET = 'acme-uploads';
const intake = createEventarcIntake({ bucket: BUCKET, auth: 'none' });
const object: NotifiedObject = {
  bucket: BUCKET,
  key: 'vendors/acme/orders/2026-12-02/orders.csv',
  generation: '1733133600123456',
};

const post = ({ headers, body }: { headers: Record<string, string>; body: string }) =>
  intake.receive(
    new Request('http://gateway.test/v1/notifications/eventarc', { method: 'POST', headers, body }),
  );

const finalized = {
  landings: [
    {
      bucket: BUCKET,
      key: object.key,
      version: object.generation,
      kind: 'finalized',
      via: 'eventarc',
      eventTime: '2026-12-02T10:00:00.123456Z',
    },
  ],
  reply: { eventId: '9876543210' },
};

describe('the eventarc intake', () => {
  it('is served at POST /v1/notifications/eventarc, inline unless configured otherwise', () => {
    expect(intake).toMatchObject({
      type: 'eventarc',
      method: 'POST',
      path: '/v1/notifications/eventarc',
      mode: 'inline',
    });
  });

  it('lands the generation of a finalized object in binary mode', async () => {
    expect(await post(binaryCloudEvent(object))).toEqual(finalized);
  });

  it('lands the generation of a finalized object in structured mode', async () => {
    expect(await post(structuredCloudEvent(object))).toEqual(finalized);
  });

  it('reads structured data_base64 as well as data', async () => {
    const { headers, body } = structuredCloudEvent(object);
    const { data, ...event } = JSON.parse(body) as Record<string, unknown>;
    const encoded = JSON.stringify({
      ...event,
      data_base64: Buffer.from(JSON.stringify(data)).toString('base64'),
    });
    expect(await post({ headers, body: encoded })).toEqual(finalized);
  });

  for (const eventType of ['OBJECT_DELETE', 'OBJECT_ARCHIVE', 'OBJECT_METADATA_UPDATE']) {
    it(`acknowledges and ignores the CloudEvent of ${eventType}`, async () => {
      const result = await post(binaryCloudEvent({ ...object, eventType }));
      expect(result).toMatchObject({
        ignored: expect.stringContaining('only google.cloud.storage.object.v1.finalized'),
      });
      expect(result).not.toHaveProperty('landings');
    });
  }

  it("acknowledges and ignores an object of another bucket than the store's", async () => {
    const result = await post(structuredCloudEvent({ ...object, bucket: 'someone-else' }));
    expect(result).toMatchObject({
      ignored: expect.stringContaining('bucket someone-else is not acme-uploads'),
    });
  });

  describe('refuses a malformed delivery with 400 naming what is wrong', () => {
    const binary = binaryCloudEvent(object);
    const without = (name: string) =>
      Object.fromEntries(Object.entries(binary.headers).filter(([header]) => header !== name));
    const cases: Array<[string, { headers: Record<string, string>; body: string }, RegExp]> = [
      [
        'no ce-type',
        { ...binary, headers: without('ce-type') },
        /not a CloudEvent: header ce-type is missing/,
      ],
      ['no ce-id', { ...binary, headers: without('ce-id') }, /header ce-id is missing/],
      [
        'another specversion',
        { ...binary, headers: { ...binary.headers, 'ce-specversion': '0.3' } },
        /specversion "0.3" is not 1.0/,
      ],
      [
        'a body that is not JSON',
        { ...binary, body: 'hello' },
        /the event data \(the request body\) is not JSON/,
      ],
      [
        'a body that is not an object resource',
        { ...binary, body: JSON.stringify({ name: object.key }) },
        /has no "generation" string/,
      ],
      [
        'a source naming another bucket than the data',
        {
          ...binary,
          headers: { ...binary.headers, 'ce-source': '//storage.googleapis.com/projects/_/buckets/other' },
        },
        /names another bucket than its data's acme-uploads/,
      ],
      [
        'a subject naming another object than the data',
        { ...binary, headers: { ...binary.headers, 'ce-subject': 'objects/else.csv' } },
        /subject "objects\/else.csv" is not objects\/<the data's name>/,
      ],
      [
        'a structured event that is not JSON',
        { headers: { 'content-type': 'application/cloudevents+json' }, body: '{' },
        /structured CloudEvent is not JSON/,
      ],
      [
        'a structured event without data',
        {
          headers: { 'content-type': 'application/cloudevents+json' },
          body: JSON.stringify({ specversion: '1.0', id: '1', type: 't', source: 's' }),
        },
        /carries no data/,
      ],
      [
        'a batch',
        {
          headers: { 'content-type': 'application/cloudevents-batch+json' },
          body: JSON.stringify([{ data: objectResource(object) }]),
        },
        /a batch of CloudEvents is not accepted/,
      ],
    ];
    for (const [name, delivery, message] of cases) {
      it(name, async () => {
        const error = await refusal(post(delivery));
        expect(error.code).toBe('BAD_REQUEST');
        expect(error.message).toMatch(message);
      });
    }
  });
});
