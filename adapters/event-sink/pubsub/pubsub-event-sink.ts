/**
 * An event sink publishing to Google Cloud Pub/Sub topics, one message per event, as CloudEvents in the
 * structured content mode (data = the event's JSON document, as serialized) or the binary one (`ce-`
 * attributes, data = the event's `data`). It calls the Publish RPC itself with explicit message lists
 * (`v1.PublisherClient`), not the library's batching publisher: the pipeline already hands over batches
 * and awaits them, so a slow topic holds back `publish` (and so the parser), memory stays bounded by the
 * requests in flight, and each request's outcome maps onto the indices of its events. The client honours
 * PUBSUB_EMULATOR_HOST as every Google library does.
 */
import { PubSub, v1 } from '@google-cloud/pubsub';
import { DropgateError, describeError } from '../../errors.js';
import {
  PARTITION_KEY_ATTRIBUTE,
  type EventBatch,
  type EventSink,
  type PublishFailure,
} from '../../ports.js';
import { KeyOrder, pausedMessage, publishInKeyOrder, type OrderedCall } from '../key-order.js';
import { publishPacked } from '../packed-events.js';
import { publishInRequests, type RequestLimits } from '../publish-in-requests.js';
import { binaryMessage } from './binary-message.js';

export type PubSubMode = 'structured' | 'binary';

interface PubSubMessage {
  data: Uint8Array;
  attributes: Record<string, string>;
  /** The event's partition key: Pub/Sub delivers a key's messages in order to subscriptions that ask. */
  orderingKey?: string;
}

/** The one call of the publisher client the sink makes, and its close: a test may watch requests. */
export interface PublisherClientLike {
  publish(
    request: { topic: string; messages: PubSubMessage[] },
    options: { timeout: number; retry: null; isBundling: false },
  ): Promise<unknown>;
  close(): Promise<void>;
}

export interface PubSubEventSinkOptions {
  projectId: string;
  /** CloudEvents content mode of every message (default `structured`). */
  mode?: PubSubMode;
  /** Topics whose messages go out in another mode than `mode` (a dataset's `pubsubMode`). */
  modes?: ReadonlyMap<string, PubSubMode>;
  /** Publish requests of one `publish` call in flight at once (default 4). */
  maxInFlight?: number;
  /** Publish requests of the whole sink in flight at once, whatever the calls (default 8). */
  maxInFlightPerSink?: number;
  /** How long one Publish request may take before it counts as failed, retryably (default 60 s). */
  requestTimeoutMs?: number;
  /** The client to publish with; default one made by `new PubSub({ projectId })`. */
  client?: PublisherClientLike;
  /**
   * Topics whose events go out packed, up to N a message (structured mode only), in the CloudEvents batch
   * format: Pub/Sub bills at least 1 KB a message, so small events cost far less packed.
   */
  rowsPerMessage?: ReadonlyMap<string, number>;
}

/** Pub/Sub's limits (cloud.google.com/pubsub/quotas): per Publish request, and per message's attributes. */
export const PUBSUB_LIMITS = {
  requestMessages: 1_000,
  /** A Publish request's serialized size, topic name and attributes included: 10 MB. */
  requestBytes: 10_000_000,
  attributes: 100,
  attributeKeyBytes: 256,
  attributeValueBytes: 1_024,
  orderingKeyBytes: 1_024,
} as const;

/**
 * The largest event body the sink sends: the 10 MB of a request, less room for the topic's name and a
 * message's attributes at their limits (100 of 256 + 1,024 bytes, framed).
 */
export const PUBSUB_MAX_MESSAGE_BYTES = 9_800_000;

/**
 * What binary mode may add to a message beyond the body it comes from: each of at most 100 members
 * gains `ce-` and protobuf framing (a few bytes) and loses its quotes, colon and comma; `content-type` is
 * a new key.
 */
const BINARY_EXTRA_BYTES = 2_048;

const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

/** gRPC status codes (grpc.io/docs/guides/status-codes). */
const Code = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** What can succeed when sent again: an outage, throttling, a timeout (which may have published: at least once). */
const RETRYABLE_CODES = new Set<number>([
  Code.CANCELLED,
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
  Code.ABORTED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
]);

type PublisherClientOptions = ConstructorParameters<typeof v1.PublisherClient>[0];

/**
 * The options `new PubSub()` resolves (credentials, PUBSUB_EMULATOR_HOST, gRPC message sizes) for a
 * low-level client; its type allows a string port, which it only ever sets as a number.
 */
export function publisherClientOptions(projectId: string, apiEndpoint?: string): PublisherClientOptions {
  return new PubSub({ projectId, ...(apiEndpoint ? { apiEndpoint } : {}) }).options as PublisherClientOptions;
}

/** Pub/Sub's topic ids: 3-255 characters, a letter first, not starting with `goog`. */
const TOPIC_ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

export function isPubSubTopicId(topic: string): boolean {
  return TOPIC_ID.test(topic);
}

export function createPubSubEventSink(options: PubSubEventSinkOptions): EventSink {
  const { projectId } = options;
  const defaultMode = options.mode ?? 'structured';
  const timeout = options.requestTimeoutMs ?? 60_000;
  const maxInFlight = options.maxInFlight ?? 4;
  const client = options.client ?? new v1.PublisherClient(publisherClientOptions(projectId));
  const slots = new Slots(options.maxInFlightPerSink ?? 8);
  const callOptions = { timeout, retry: null, isBundling: false } as const;
  const rowsPerMessage = options.rowsPerMessage ?? new Map<string, number>();
  const modes = options.modes ?? new Map<string, PubSubMode>();
  const modeOf = (topic: string) => modes.get(topic) ?? defaultMode;
  const packedBinary = [...rowsPerMessage].find(([topic, rows]) => rows > 1 && modeOf(topic) === 'binary');
  if (packedBinary) {
    throw new DropgateError(
      'CONFIG_INVALID',
      `rowsPerMessage packs the events of ${packedBinary[0]} into CloudEvents batches, which binary mode cannot carry: use structured mode`,
    );
  }
  /** Per topic: Pub/Sub orders by key within a topic. */
  const keyOrders = new Map<string, KeyOrder>();

  const topicPath = (topic: string) => {
    if (!isPubSubTopicId(topic)) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `"${topic}" is not a Pub/Sub topic id (3-255 letters, digits and - _ . ~ + %, a letter first, not goog...)`,
      );
    }
    return `projects/${projectId}/topics/${topic}`;
  };

  /** A request's failure that no event of it gets past: no topic, no permission, no credentials. */
  const wholePublishFault = (topic: string, error: { code?: unknown }): DropgateError | undefined => {
    const where = `Pub/Sub topic "${topic}" of project "${projectId}"`;
    const detail = describeError(error);
    switch (error.code) {
      case Code.NOT_FOUND:
        return new DropgateError(
          'CONFIG_INVALID',
          `${where} does not exist: create it or configure an existing topic (${detail})`,
          { cause: error, context: { topic, projectId } },
        );
      case Code.PERMISSION_DENIED:
        return new DropgateError(
          'CONFIG_INVALID',
          `${where} refuses this service account: it needs roles/pubsub.publisher on the topic (${detail})`,
          { cause: error, context: { topic, projectId } },
        );
      case Code.UNAUTHENTICATED:
        return new DropgateError('CONFIG_INVALID', `${where} refused the credentials (${detail})`, {
          cause: error,
          context: { topic, projectId },
        });
    }
    return undefined;
  };

  return {
    // Requests run several at once and Pub/Sub delivers without ordering keys in any order; events with a
    // partition key keep their key's order (key-order.ts).
    capabilities: { ordered: false, maxMessageBytes: PUBSUB_MAX_MESSAGE_BYTES },

    async publish(topic: string, events: EventBatch) {
      const rows = rowsPerMessage.get(topic) ?? 1;
      let order = keyOrders.get(topic);
      if (!order) keyOrders.set(topic, (order = new KeyOrder()));
      return publishInKeyOrder(order, events, (admitted, call) =>
        publishPacked(admitted, rows, PUBSUB_MAX_MESSAGE_BYTES, (messages) =>
          publishEach(topic, messages, call),
        ),
      );
    },

    async close() {
      await client.close();
    },
  };

  /** Each event of the batch as one message, each key's in order. */
  async function publishEach(
    topic: string,
    events: EventBatch,
    call: OrderedCall,
  ): Promise<{ failed: PublishFailure[] }> {
    if (events.length === 0) return { failed: [] };
    const path = topicPath(topic);
    const mode = modeOf(topic);
    const limits: RequestLimits = {
      maxEvents: PUBSUB_LIMITS.requestMessages,
      maxBytes: PUBSUB_LIMITS.requestBytes - fieldBytes(utf8Length(path)),
      maxMessageBytes: PUBSUB_LIMITS.requestBytes,
      maxInFlight,
      eventBytes: (batch, index) => messageBytesBound(batch, index, mode),
    };
    return publishInRequests(events, limits, async (request) => {
      const failed: PublishFailure[] = [];
      const messages: PubSubMessage[] = [];
      /** The index in `request` of each message sent. */
      const sent: number[] = [];
      const keys = new Set<string>();
      for (let index = 0; index < request.length; index++) {
        const message = toMessage(request, index, mode);
        if (typeof message === 'string') failed.push({ index, message, retryable: false });
        else {
          if (message.orderingKey !== undefined) keys.add(message.orderingKey);
          messages.push(message);
          sent.push(index);
        }
      }
      if (messages.length === 0) return { failed };
      // The request's turn is taken as it starts, before it waits for a slot: a request holding a slot
      // never waits for one behind it.
      const turn = keys.size > 0 ? await call.turn(keys) : undefined;
      let sendAgain = true;
      try {
        if (turn?.paused !== undefined) {
          const message = pausedMessage(turn.paused);
          for (const index of sent) failed.push({ index, message, retryable: true });
        } else {
          const release = await slots.acquire();
          try {
            await client.publish({ topic: path, messages }, callOptions);
            sendAgain = false;
          } catch (error) {
            const fault = wholePublishFault(topic, error as { code?: unknown });
            if (fault) throw fault;
            const code = (error as { code?: unknown }).code;
            const retryable = typeof code !== 'number' || RETRYABLE_CODES.has(code);
            const message = `Pub/Sub did not take the request to ${topic}: ${describeError(error)}`;
            for (const index of sent) failed.push({ index, message, retryable });
          } finally {
            release();
          }
        }
      } finally {
        turn?.done(sendAgain);
      }
      failed.sort((left, right) => left.index - right.index);
      return { failed };
    });
  }
}

/**
 * Event `index` as a Pub/Sub message, or why Pub/Sub cannot take it. Structured: the body itself with
 * `content-type: application/cloudevents+json`. Both modes carry the event's own attributes (`type`,
 * `dataset`, `schemaversion`), so a subscription filter reads the same whichever the mode.
 */
function toMessage(events: EventBatch, index: number, mode: PubSubMode): PubSubMessage | string {
  const body = events.body(index);
  if (body.byteLength > PUBSUB_MAX_MESSAGE_BYTES) {
    return `event of ${body.byteLength} bytes is larger than the ${PUBSUB_MAX_MESSAGE_BYTES} bytes a Pub/Sub message may hold here`;
  }
  let message: PubSubMessage;
  if (mode === 'binary') {
    try {
      message = binaryMessage(body);
    } catch (error) {
      return `cannot send the event in binary mode: ${describeError(error)}`;
    }
    message.attributes = { ...events.attributes(index), ...message.attributes };
  } else {
    message = {
      data: body,
      // A packed message's attributes name the batch format as its content type.
      attributes: { 'content-type': STRUCTURED_CONTENT_TYPE, ...events.attributes(index) },
    };
  }
  const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
  if (key !== undefined) {
    if (utf8Length(key) > PUBSUB_LIMITS.orderingKeyBytes) {
      return `partition key of ${utf8Length(key)} bytes is longer than the ${PUBSUB_LIMITS.orderingKeyBytes} bytes of a Pub/Sub ordering key`;
    }
    message.orderingKey = key;
  }
  return attributesProblem(message.attributes) ?? message;
}

/** Why Pub/Sub would refuse these attributes (and with them the whole request), if it would. */
function attributesProblem(attributes: Record<string, string>): string | undefined {
  const keys = Object.keys(attributes);
  if (keys.length > PUBSUB_LIMITS.attributes) {
    return `event has ${keys.length} attributes; a Pub/Sub message holds at most ${PUBSUB_LIMITS.attributes}`;
  }
  for (const key of keys) {
    if (utf8Length(key) > PUBSUB_LIMITS.attributeKeyBytes) {
      return `attribute name "${key.slice(0, 40)}..." is longer than Pub/Sub's ${PUBSUB_LIMITS.attributeKeyBytes} bytes`;
    }
    if (key.startsWith('goog')) return `attribute name "${key}" is reserved by Pub/Sub (goog...)`;
    const bytes = utf8Length(attributes[key]!);
    if (bytes > PUBSUB_LIMITS.attributeValueBytes) {
      return `attribute "${key}" of ${bytes} bytes is longer than Pub/Sub's ${PUBSUB_LIMITS.attributeValueBytes} bytes`;
    }
  }
  return undefined;
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

/** The events of a block share one attributes object: its size is counted once. */
const attributesSizes = new WeakMap<object, number>();

function attributesBytes(attributes: Readonly<Record<string, string>> | undefined): number {
  if (!attributes) return 0;
  let bytes = attributesSizes.get(attributes);
  if (bytes === undefined) {
    bytes = 0;
    for (const [key, value] of Object.entries(attributes))
      bytes += entryBytes(utf8Length(key), utf8Length(value));
    attributesSizes.set(attributes, bytes);
  }
  return bytes;
}

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

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** A counting semaphore: at most `size` holders at once, the others served in order of arrival. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
