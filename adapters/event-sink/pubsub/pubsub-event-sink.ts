/**
 * An event sink publishing to Google Cloud Pub/Sub topics over gRPC, one message per event, as
 * CloudEvents in the structured content mode (data = the event's JSON document, as serialized) or the
 * binary one (`ce-` attributes, data = the event's `data`). It calls the Publish RPC itself with explicit
 * message lists (`v1.PublisherClient`), not the library's batching publisher: the pipeline already hands
 * over batches and awaits them, so a slow topic holds back `publish` (and so the parser), memory stays
 * bounded by the requests in flight, and each request's outcome maps onto the indices of its events. The
 * client honours PUBSUB_EMULATOR_HOST as every Google library does. What it shares with the REST sink of
 * Workers is in pubsub-sink.ts.
 */
import { PubSub, v1 } from '@google-cloud/pubsub';
import { PARTITION_KEY_ATTRIBUTE, type EventBatch, type EventSink } from '../../ports.js';
import {
  BINARY_EXTRA_BYTES,
  cachedAttributesBytes,
  createPubSubSink,
  STRUCTURED_CONTENT_TYPE,
  utf8Length,
  type PubSubMode,
  type PubSubSinkOptions,
} from './pubsub-sink.js';

/** The one call of the publisher client the sink makes, and its close: a test may watch requests. */
export interface PublisherClientLike {
  publish(
    request: {
      topic: string;
      messages: Array<{ data: Uint8Array; attributes: Record<string, string>; orderingKey?: string }>;
    },
    options: { timeout: number; retry: null; isBundling: false },
  ): Promise<unknown>;
  close(): Promise<void>;
}

export interface PubSubEventSinkOptions extends PubSubSinkOptions {
  /** How long one Publish request may take before it counts as failed, retryably (default 60 s). */
  requestTimeoutMs?: number;
  /** The client to publish with; default one made by `new PubSub({ projectId })`. */
  client?: PublisherClientLike;
}

/**
 * The largest event body the sink sends: the 10 MB of a request, less room for the topic's name and a
 * message's attributes at their limits (100 of 256 + 1,024 bytes, framed).
 */
export const PUBSUB_MAX_MESSAGE_BYTES = 9_800_000;

type PublisherClientOptions = ConstructorParameters<typeof v1.PublisherClient>[0];

/**
 * The options `new PubSub()` resolves (credentials, PUBSUB_EMULATOR_HOST, gRPC message sizes) for a
 * low-level client; its type allows a string port, which it only ever sets as a number.
 */
export function publisherClientOptions(projectId: string, apiEndpoint?: string): PublisherClientOptions {
  return new PubSub({ projectId, ...(apiEndpoint ? { apiEndpoint } : {}) }).options as PublisherClientOptions;
}

export function createPubSubEventSink(options: PubSubEventSinkOptions): EventSink {
  const timeout = options.requestTimeoutMs ?? 60_000;
  const client = options.client ?? new v1.PublisherClient(publisherClientOptions(options.projectId));
  const callOptions = { timeout, retry: null, isBundling: false } as const;
  return createPubSubSink(
    {
      maxMessageBytes: PUBSUB_MAX_MESSAGE_BYTES,
      async publish(topic, messages) {
        await client.publish({ topic, messages }, callOptions);
      },
      close: () => client.close(),
      requestOverheadBytes: (path) => fieldBytes(utf8Length(path)),
      messageBytes: messageBytesBound,
    },
    options,
  );
}

/**
 * At least the bytes event `index` adds to a serialized Publish request: its body (or, in binary mode,
 * what that can grow to) and its attributes, each field with its protobuf tag and length.
 */
function messageBytesBound(events: EventBatch, index: number, mode: PubSubMode): number {
  const body = events.body(index).byteLength;
  const attributes = events.attributes(index);
  let bytes = fieldBytes(body) + attributesBytes(attributes);
  const key = attributes?.[PARTITION_KEY_ATTRIBUTE];
  if (key !== undefined) bytes += fieldBytes(utf8Length(key));
  bytes +=
    mode === 'binary'
      ? BINARY_EXTRA_BYTES
      : entryBytes(utf8Length('content-type'), utf8Length(STRUCTURED_CONTENT_TYPE));
  // The message itself is a field of the request: a tag and a length of at most 4 bytes.
  return bytes + 5;
}

const attributesBytes = cachedAttributesBytes((attributes) => {
  let bytes = 0;
  for (const [key, value] of Object.entries(attributes))
    bytes += entryBytes(utf8Length(key), utf8Length(value));
  return bytes;
});

/** A map entry `key -> value` as a field of the message. */
function entryBytes(key: number, value: number): number {
  return fieldBytes(fieldBytes(key) + fieldBytes(value));
}

/** A length-delimited protobuf field of `length` bytes: tag, length, bytes. */
function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}
