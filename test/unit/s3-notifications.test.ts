/**
 * S3 notifications in every envelope users meet, read into landings: keys decoded as S3 encodes them,
 * versions as the `s3` store names them, and for one key only the newest record by sequencer.
 */
import { describe, expect, it } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';
import {
  compareSequencers,
  createSequencerWatermark,
  decodeS3Key,
  parseS3Notification,
  s3VersionToken,
} from '../../adapters/intake/s3-notifications.js';
import { eventBridgeEvent, s3Record, s3TestEvent, snsEnvelope } from '../support/s3-notification-messages.js';

describe('S3 notification parsing', () => {
  it('reads several records of one message, decoding each key and naming its version', () => {
    const body = JSON.stringify({
      Records: [
        s3Record({ key: 'vendors/acme/orders/red+flower+%281%29.csv', eTag: 'e1', sequencer: '0A' }),
        s3Record({ key: 'vendors/acme/orders/b.csv', versionId: 'v-2', eTag: 'e2', sequencer: '0B' }),
      ],
    });
    expect(parseS3Notification(body, 'sqs')).toEqual({
      landings: [
        expect.objectContaining({
          bucket: 'uploads',
          key: 'vendors/acme/orders/red flower (1).csv',
          version: 'etag:e1',
          kind: 'finalized',
          via: 'sqs',
          sequencer: '0A',
        }),
        expect.objectContaining({
          key: 'vendors/acme/orders/b.csv',
          version: 'version-id:v-2',
          sequencer: '0B',
        }),
      ],
    });
  });

  it.each([
    ['red+flower.csv', 'red flower.csv'],
    ['c%2B%2B+notes.csv', 'c++ notes.csv'],
    ['caf%C3%A9+%E6%97%A5%E6%9C%AC.csv', 'café 日本.csv'],
    ['a%2Fb%3D1.csv', 'a/b=1.csv'],
    ['%28copy%29+%281%29.csv', '(copy) (1).csv'],
  ])('decodes the form-encoded key %s as %s', (encoded, key) => {
    expect(decodeS3Key(encoded)).toBe(key);
  });

  it('refuses a key that is not URL-encoded, naming it', () => {
    const body = JSON.stringify({ Records: [s3Record({ key: 'bad%zz.csv' })] });
    expect(() => parseS3Notification(body, 'sqs')).toThrow(/bad%zz\.csv/);
  });

  it('reads an SNS envelope whose Message is the S3 notification (no raw message delivery)', () => {
    const s3 = { Records: [s3Record({ key: 'vendors/acme/orders/a+b.csv', eTag: 'e1' })] };
    const result = parseS3Notification(JSON.stringify(snsEnvelope(s3)), 'sqs');
    expect(result).toMatchObject({ landings: [{ key: 'vendors/acme/orders/a b.csv', version: 'etag:e1' }] });
  });

  it('reads an EventBridge Object Created event, whose key is not form-encoded and fields are etag and version-id', () => {
    const event = eventBridgeEvent({
      key: 'vendors/acme/orders/a+b (1).csv',
      etag: 'e9',
      versionId: 'v-9',
      sequencer: '0C',
    });
    expect(parseS3Notification(JSON.stringify(event), 'sqs')).toEqual({
      landings: [
        {
          bucket: 'uploads',
          key: 'vendors/acme/orders/a+b (1).csv',
          version: 'version-id:v-9',
          kind: 'finalized',
          via: 'sqs',
          eventTime: event.time,
          sequencer: '0C',
        },
      ],
    });
    const unversioned = eventBridgeEvent({ key: 'k.csv', etag: 'e9' });
    expect(parseS3Notification(JSON.stringify(unversioned), 'sqs')).toMatchObject({
      landings: [{ version: 'etag:e9' }],
    });
  });

  it('ignores the s3:TestEvent, with a reason', () => {
    expect(parseS3Notification(JSON.stringify(s3TestEvent()), 'sqs')).toEqual({
      ignored: 'an S3 test event',
    });
    expect(parseS3Notification(JSON.stringify(snsEnvelope(s3TestEvent())), 'sqs')).toEqual({
      ignored: 'an S3 test event',
    });
  });

  it('passes removals on as deletions and ignores events that create nothing', () => {
    const removed = JSON.stringify({
      Records: [s3Record({ key: 'k.csv', eventName: 'ObjectRemoved:Delete', eTag: undefined })],
    });
    expect(parseS3Notification(removed, 'sqs')).toMatchObject({ landings: [{ kind: 'deleted' }] });
    const restored = JSON.stringify({
      Records: [s3Record({ key: 'k.csv', eventName: 'ObjectRestore:Completed' })],
    });
    expect(parseS3Notification(restored, 'sqs')).toEqual({
      ignored: 'no object created or removed (events: ObjectRestore:Completed)',
    });
    const tagged = eventBridgeEvent({ key: 'k.csv', detailType: 'Object Tags Added' });
    expect(parseS3Notification(JSON.stringify(tagged), 'sqs')).toEqual({
      ignored: 'an EventBridge "Object Tags Added" event is not ingested',
    });
  });

  it('keeps, of one key named twice in a message, only the newer record by sequencer', () => {
    const body = JSON.stringify({
      Records: [
        s3Record({ key: 'k.csv', eTag: 'newer', sequencer: '0055AED6DCD90281E6' }),
        s3Record({ key: 'k.csv', eTag: 'older', sequencer: '0055AED6DCD90281E5' }),
      ],
    });
    expect(parseS3Notification(body, 'sqs')).toMatchObject({
      landings: [{ key: 'k.csv', version: 'etag:newer' }],
    });
  });

  it.each([
    ['{', 'the message body is not JSON'],
    ['[]', 'the notification is not a JSON object'],
    ['{"hello":"world"}', 'the message is no S3 notification'],
    [JSON.stringify({ Records: [s3Record({ key: '' })] }), 'Records[0].s3.object.key is missing'],
    [JSON.stringify({ Type: 'Notification', Message: 'not json' }), 'the SNS Message is not JSON'],
  ])('refuses %s with BAD_REQUEST naming what is wrong', (body, message) => {
    let thrown: unknown;
    try {
      parseS3Notification(body, 'sqs');
    } catch (error) {
      thrown = error;
    }
    expect(isDropgateError(thrown, 'BAD_REQUEST')).toBe(true);
    expect((thrown as Error).message).toContain(message);
  });
});

describe('S3 version tokens and sequencers', () => {
  it('names a version by its version id, else by its ETag without quotes', () => {
    // The tokens are the s3 store's own, so a notified version and the store's `stat` agree.
    expect(s3VersionToken({ versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY', eTag: 'abc' })).toBe(
      'version-id:3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
    );
    expect(s3VersionToken({ eTag: 'd41d8cd98f00b204e9800998ecf8427e' })).toBe(
      'etag:d41d8cd98f00b204e9800998ecf8427e',
    );
    expect(s3VersionToken({ eTag: '"d41d8cd98f00b204e9800998ecf8427e-2"' })).toBe(
      'etag:d41d8cd98f00b204e9800998ecf8427e-2',
    );
    // Objects written while versioning was off carry the version id "null", which names no single version.
    expect(s3VersionToken({ versionId: 'null', eTag: 'abc' })).toBe('etag:abc');
    expect(s3VersionToken({})).toBeUndefined();
  });

  it('orders sequencers of different lengths by right-padding the shorter with zeros', () => {
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6')).toBeLessThan(0);
    expect(compareSequencers('0055AED6DCD90281E6', '0055AED6DCD90281E5')).toBeGreaterThan(0);
    expect(compareSequencers('0055AED6DCD9028', '0055AED6DCD90281E5')).toBeLessThan(0);
    expect(compareSequencers('0055AED6DCD903', '0055AED6DCD90281E5')).toBeGreaterThan(0);
    expect(compareSequencers('0A', '0A000')).toBe(0);
  });

  it('knows a notification older than one handled for the same key as stale, and forgets the oldest keys', () => {
    const watermark = createSequencerWatermark(2);
    const landing = (key: string, sequencer: string) => ({
      bucket: 'b',
      key,
      kind: 'finalized' as const,
      via: 'sqs',
      sequencer,
    });
    watermark.handled(landing('a', '0B'));
    expect(watermark.isStale(landing('a', '0A'))).toBe(true);
    expect(watermark.isStale(landing('a', '0C'))).toBe(false);
    expect(watermark.isStale(landing('other', '00'))).toBe(false);
    watermark.handled(landing('b', '01'));
    watermark.handled(landing('c', '01'));
    expect(watermark.isStale(landing('a', '0A'))).toBe(false);
  });
});
