/**
 * A Publish request (google.pubsub.v1.PublishRequest) as protobuf bytes, written directly: the topic,
 * then each message's data, attributes and ordering key. The library's serializer copies every message
 * into a protobufjs object (`fromObject`) and writes it field by field through a list of writer
 * operations, a few objects per field: profiled on the one-row-a-message bench it was about a fifth of
 * the main thread's CPU, and much of its garbage collection. Here a request is one buffer: each body
 * copied once, and the attributes a block's events share (one object) encoded once and copied into
 * each of their messages. Field numbers from google/pubsub/v1/pubsub.proto.
 */
import type { PubSubMessage } from './pubsub-sink.js';

/** Length-delimited fields: (field number << 3) | 2. */
const TAG = {
  requestTopic: 0x0a, // PublishRequest.topic = 1
  requestMessage: 0x12, // PublishRequest.messages = 2
  messageData: 0x0a, // PubsubMessage.data = 1
  messageAttribute: 0x12, // PubsubMessage.attributes = 2, map<string, string>: entries { key = 1; value = 2 }
  messageOrderingKey: 0x2a, // PubsubMessage.ordering_key = 5
  entryKey: 0x0a,
  entryValue: 0x12,
} as const;

const encoder = new TextEncoder();

/** Each attributes object's entries, encoded once: a block's messages share one object. */
const encodedAttributes = new WeakMap<object, Uint8Array>();

export function publishRequestBytes(topicPath: string, messages: readonly PubSubMessage[]): Uint8Array {
  const topic = encoder.encode(topicPath);
  const attributes: Uint8Array[] = new Array(messages.length);
  const orderingKeys: Array<Uint8Array | undefined> = new Array(messages.length);
  const lengths: number[] = new Array(messages.length);
  let total = fieldLength(topic.length);
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    const entries = attributesBytes(message.attributes);
    const key = message.orderingKey === undefined ? undefined : encoder.encode(message.orderingKey);
    attributes[index] = entries;
    orderingKeys[index] = key;
    const length =
      fieldLength(message.data.byteLength) +
      entries.length +
      (key === undefined ? 0 : fieldLength(key.length));
    lengths[index] = length;
    total += fieldLength(length);
  }
  const bytes = new Uint8Array(total);
  let at = writeField(bytes, 0, TAG.requestTopic, topic);
  for (let index = 0; index < messages.length; index++) {
    at = writeHead(bytes, at, TAG.requestMessage, lengths[index]!);
    at = writeField(bytes, at, TAG.messageData, messages[index]!.data);
    bytes.set(attributes[index]!, at);
    at += attributes[index]!.length;
    const key = orderingKeys[index];
    if (key !== undefined) at = writeField(bytes, at, TAG.messageOrderingKey, key);
  }
  if (at !== total) throw new Error(`Publish request encoded to ${at} bytes, ${total} expected`);
  return bytes;
}

function attributesBytes(attributes: Readonly<Record<string, string>>): Uint8Array {
  let bytes = encodedAttributes.get(attributes);
  if (bytes !== undefined) return bytes;
  const entries = Object.entries(attributes).map(([key, value]) => {
    const name = encoder.encode(key);
    const text = encoder.encode(value);
    return { name, text, length: fieldLength(name.length) + fieldLength(text.length) };
  });
  bytes = new Uint8Array(entries.reduce((sum, entry) => sum + fieldLength(entry.length), 0));
  let at = 0;
  for (const { name, text, length } of entries) {
    at = writeHead(bytes, at, TAG.messageAttribute, length);
    at = writeField(bytes, at, TAG.entryKey, name);
    at = writeField(bytes, at, TAG.entryValue, text);
  }
  encodedAttributes.set(attributes, bytes);
  return bytes;
}

/** A length-delimited field of `length` bytes: tag, varint length, bytes (the sink sizes requests with it). */
export function fieldLength(length: number): number {
  return 1 + varintLength(length) + length;
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length++;
  }
  return length;
}

function writeHead(bytes: Uint8Array, at: number, tag: number, length: number): number {
  bytes[at++] = tag;
  while (length >= 0x80) {
    bytes[at++] = (length & 0x7f) | 0x80;
    length = Math.floor(length / 0x80);
  }
  bytes[at++] = length;
  return at;
}

function writeField(bytes: Uint8Array, at: number, tag: number, value: Uint8Array): number {
  at = writeHead(bytes, at, tag, value.byteLength);
  bytes.set(value, at);
  return at + value.byteLength;
}
