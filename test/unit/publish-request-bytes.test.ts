/**
 * The Pub/Sub sink encodes its Publish requests itself (publish-request-bytes.ts): the bytes must be the
 * ones the library's protobuf code writes for the same request, and decode to the same messages.
 */
import { protos } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { publishRequestBytes } from '../../adapters/event-sink/pubsub/publish-request-bytes.js';
import type { PubSubMessage } from '../../adapters/event-sink/pubsub/pubsub-sink.js';
import { seededRandom } from '../faults/support/figures.js';

const { PublishRequest } = protos.google.pubsub.v1;
const topic = 'projects/dropgate-test/topics/orders';

function libraryBytes(messages: PubSubMessage[]): Uint8Array {
  return PublishRequest.encode({ topic, messages }).finish();
}

describe('publishRequestBytes', () => {
  it('writes what the library writes: shared and own attributes, ordering keys, empty and multi-byte values', () => {
    const shared = { 'content-type': 'application/cloudevents+json', dataset: 'orders', type: 'ünïcode ✓' };
    const messages: PubSubMessage[] = [
      { data: new TextEncoder().encode('{"id":"a"}'), attributes: shared },
      { data: new Uint8Array(0), attributes: shared, orderingKey: 'customer-7' },
      { data: new Uint8Array(300).fill(0x61), attributes: {}, orderingKey: '' },
      { data: new Uint8Array([0, 255, 128]), attributes: { '': '', ключ: 'значение' } },
      { data: new TextEncoder().encode('{"id":"e"}'), attributes: shared },
    ];
    const bytes = publishRequestBytes(topic, messages);
    expect(Buffer.compare(bytes, libraryBytes(messages))).toBe(0);
    const decoded = PublishRequest.decode(bytes);
    expect(decoded.topic).toBe(topic);
    expect(decoded.messages.map((message) => Buffer.from(message.data!).toString('hex'))).toEqual(
      messages.map((message) => Buffer.from(message.data).toString('hex')),
    );
    expect(decoded.messages.map((message) => message.attributes)).toEqual(
      messages.map((message) => message.attributes),
    );
    expect(decoded.messages[1]!.orderingKey).toBe('customer-7');
  });

  it('agrees with the library on 300 random requests, lengths across varint boundaries', () => {
    const random = seededRandom(300);
    const sizes = [0, 1, 127, 128, 16_383, 16_384, 70_000];
    for (let request = 0; request < 300; request++) {
      const attributes = Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, index) => [
          `key-${index}`,
          'v'.repeat(sizes[Math.floor(random() * 5)]!),
        ]),
      );
      const messages: PubSubMessage[] = Array.from({ length: 1 + Math.floor(random() * 20) }, () => ({
        data: new Uint8Array(sizes[Math.floor(random() * sizes.length)]!).fill(0x7b),
        attributes,
        ...(random() < 0.3 ? { orderingKey: 'k'.repeat(Math.floor(random() * 200)) } : {}),
      }));
      expect(Buffer.compare(publishRequestBytes(topic, messages), libraryBytes(messages))).toBe(0);
    }
  });
});
