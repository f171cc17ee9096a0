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
import { Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import { PARTITION_KEY_ATTRIBUTE, type EventBatch, type EventSink } from '../../ports.js';
import {
  BINARY_EXTRA_BYTES,
  cachedAttributesBytes,
  createPubSubSink,
  STRUCTURED_CONTENT_TYPE,
  type PubSubMessage,
  type PubSubMode,
  type PubSubSinkOptions,
} from './pubsub-sink.js';
import { fieldLength, publishRequestBytes } from './publish-request-bytes.js';
import { utf8Length } from '../utf8-length.js';

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
  let publish: (topic: string, messages: PubSubMessage[]) => Promise<void>;
  let close: () => Promise<void>;
  if (options.client) {
    const { client } = options;
    const callOptions = { timeout, retry: null, isBundling: false } as const;
    publish = async (topic, messages) => void (await client.publish({ topic, messages }, callOptions));
    close = () => client.close();
  } else {
    ({ publish, close } = createPubSubPublisher(options.projectId, timeout));
  }
  return createPubSubSink(
    {
      maxMessageBytes: PUBSUB_MAX_MESSAGE_BYTES,
      publish,
      close,
      requestOverheadBytes: (path) => fieldLength(utf8Length(path)),
      messageBytes: messageBytesBound,
    },
    options,
  );
}

/**
 * How the sink sends a Publish request without a `client` given: encoded here (publishRequestBytes), sent
 * on the gRPC stub of the library's own client (callPublish). The bench sends recorded requests with it
 * too, to measure the emulator's rate without the pipeline.
 */
export function createPubSubPublisher(
  projectId: string,
  timeoutMs: number,
): { publish(topic: string, messages: PubSubMessage[]): Promise<void>; close(): Promise<void> } {
  const client = new v1.PublisherClient(publisherClientOptions(projectId));
  // The client's gRPC stub: its channel, credentials and (for the emulator) insecure connection.
  const stub = client.initialize() as unknown as Promise<UnaryCaller>;
  stub.catch(() => undefined); // a failure surfaces at the first publish
  return {
    async publish(topic, messages) {
      const bytes = publishRequestBytes(topic, messages);
      await callPublish(await stub, topic, bytes, timeoutMs);
    },
    close: () => client.close(),
  };
}

/** What the sink calls on the client's gRPC stub (a `@grpc/grpc-js` Client). */
interface UnaryCaller {
  makeUnaryRequest<Request, Response>(
    method: string,
    serialize: (value: Request) => Buffer,
    deserialize: (value: Buffer) => Response,
    argument: Request,
    metadata: Metadata,
    options: CallOptions,
    callback: (error: ServiceError | null, value?: Response) => void,
  ): unknown;
}

const PUBLISH_METHOD = '/google.pubsub.v1.Publisher/Publish';
const API_CLIENT = `gl-node/${process.versions.node} grpc/dropgate`;

/**
 * One Publish call with the request already encoded (publish-request-bytes.ts), on the stub the library
 * made: its serializer would copy every message into protobufjs objects first. The metadata is what the
 * library sends: the routing header naming the topic, and the client's name. A refusal rejects with the
 * gRPC status error (its numeric `code`), a deadline past with DEADLINE_EXCEEDED, as the library's own
 * calls do.
 */
function callPublish(stub: UnaryCaller, topic: string, request: Uint8Array, timeout: number): Promise<void> {
  const metadata = new Metadata();
  metadata.set('x-goog-request-params', `topic=${encodeURIComponent(topic)}`);
  metadata.set('x-goog-api-client', API_CLIENT);
  return new Promise((resolve, reject) => {
    stub.makeUnaryRequest<Uint8Array, Buffer>(
      PUBLISH_METHOD,
      (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      (bytes) => bytes,
      request,
      metadata,
      { deadline: Date.now() + timeout },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

/**
 * At least the bytes event `index` adds to a serialized Publish request: its body (or, in binary mode,
 * what that can grow to) and its attributes, each field with its protobuf tag and length.
 */
function messageBytesBound(events: EventBatch, index: number, mode: PubSubMode): number {
  const body = events.body(index).byteLength;
  const attributes = events.attributes(index);
  let bytes = fieldLength(body) + attributesBytes(attributes);
  const key = attributes?.[PARTITION_KEY_ATTRIBUTE];
  if (key !== undefined) bytes += fieldLength(utf8Length(key));
  bytes += mode === 'binary' ? BINARY_EXTRA_BYTES : CONTENT_TYPE_ENTRY_BYTES;
  // The message itself is a field of the request: a tag and a length of at most 4 bytes.
  return bytes + 5;
}

/** A structured message's `content-type` attribute, counted once rather than per message. */
const CONTENT_TYPE_ENTRY_BYTES = entryBytes(utf8Length('content-type'), utf8Length(STRUCTURED_CONTENT_TYPE));

const attributesBytes = cachedAttributesBytes((attributes) => {
  let bytes = 0;
  for (const [key, value] of Object.entries(attributes))
    bytes += entryBytes(utf8Length(key), utf8Length(value));
  return bytes;
});

/** A map entry `key -> value` as a field of the message. */
function entryBytes(key: number, value: number): number {
  return fieldLength(fieldLength(key) + fieldLength(value));
}
