/**
 * What the Pub/Sub sinks share, whatever carries their requests (gRPC on Node, REST on Workers): topic
 * ids, Pub/Sub's limits, events as messages in the structured or binary content mode, packing, requests
 * cut to the limits and a few in flight, and a refused request mapped onto its events. A transport only
 * sends one Publish request and says how many bytes a message adds to one. Web APIs only.
 */
import { DropgateError, describeError } from '../../errors.js';
import {
  PARTITION_KEY_ATTRIBUTE,
  type EventBatch,
  type EventSink,
  type PublishFailure,
} from '../../ports.js';
import { KeyOrder, pausedMessage, publishInKeyOrder, type OrderedCall } from '../key-order.js';
import { publishPacked } from '../packed-events.js';
import { publishInRequests, RequestSlots } from '../publish-in-requests.js';
import { utf8Length } from '../utf8-length.js';
import { binaryMessage } from './binary-message.js';

export type PubSubMode = 'structured' | 'binary';

export interface PubSubMessage {
  data: Uint8Array;
  attributes: Record<string, string>;
  /** The event's partition key: Pub/Sub delivers a key's messages in order to subscriptions that ask. */
  orderingKey?: string;
}

/**
 * One transport's Publish call. A refusal throws an error whose `code` is the gRPC status code (REST
 * answers name the same statuses); an error without a numeric code (a timeout, the network) counts as
 * retryable.
 */
export interface PubSubTransport {
  publish(topicPath: string, messages: PubSubMessage[]): Promise<void>;
  close(): Promise<void>;
  /** The largest event body the transport can carry in one request: what the sink promises. */
  readonly maxMessageBytes: number;
  /** The bytes a request to `topicPath` takes before any message. */
  requestOverheadBytes(topicPath: string): number;
  /** At least the bytes event `index` adds to a request, in `mode`. */
  messageBytes(events: EventBatch, index: number, mode: PubSubMode): number;
}

export interface PubSubSinkOptions {
  projectId: string;
  /** CloudEvents content mode of every message (default `structured`). */
  mode?: PubSubMode;
  /** Topics whose messages go out in another mode than `mode` (a dataset's `pubsubMode`). */
  modes?: ReadonlyMap<string, PubSubMode>;
  /** Publish requests of one `publish` call in flight at once (default 4). */
  maxInFlight?: number;
  /** Publish requests of the whole sink in flight at once, whatever the calls (default 8). */
  maxInFlightPerSink?: number;
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
 * What binary mode may add to a message beyond the body it comes from: each of at most 100 members
 * gains `ce-` and some framing (a few bytes) and loses its quotes, colon and comma; `content-type` is a
 * new key.
 */
export const BINARY_EXTRA_BYTES = 2_048;

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

/** gRPC status codes (grpc.io/docs/guides/status-codes), by the names REST answers give them too. */
export const GRPC_CODES = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const Code = GRPC_CODES;

/** What can succeed when sent again: an outage, throttling, a timeout (which may have published: at least once). */
export const RETRYABLE_CODES = new Set<number>([
  Code.CANCELLED,
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
  Code.ABORTED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
]);

/** Pub/Sub's topic ids: 3-255 characters, a letter first, not starting with `goog`. */
const TOPIC_ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

export function isPubSubTopicId(topic: string): boolean {
  return TOPIC_ID.test(topic);
}

export function createPubSubSink(transport: PubSubTransport, options: PubSubSinkOptions): EventSink {
  const { projectId } = options;
  const defaultMode = options.mode ?? 'structured';
  const maxInFlight = options.maxInFlight ?? 4;
  const { maxMessageBytes } = transport;
  const slots = new RequestSlots(options.maxInFlightPerSink ?? 8);
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
    capabilities: { ordered: false, maxMessageBytes },

    async publish(topic: string, events: EventBatch) {
      const rows = rowsPerMessage.get(topic) ?? 1;
      let order = keyOrders.get(topic);
      if (!order) keyOrders.set(topic, (order = new KeyOrder()));
      return publishInKeyOrder(order, events, (admitted, call) =>
        publishPacked(admitted, rows, maxMessageBytes, (messages) => publishEach(topic, messages, call)),
      );
    },

    async close() {
      await transport.close();
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
    const limits = {
      maxEvents: PUBSUB_LIMITS.requestMessages,
      maxBytes: PUBSUB_LIMITS.requestBytes - transport.requestOverheadBytes(path),
      maxMessageBytes: PUBSUB_LIMITS.requestBytes,
      maxInFlight,
      eventBytes: (batch: EventBatch, index: number) => transport.messageBytes(batch, index, mode),
    };
    return publishInRequests(events, limits, async (request) => {
      const failed: PublishFailure[] = [];
      const messages: PubSubMessage[] = [];
      /** The index in `request` of each message sent. */
      const sent: number[] = [];
      const keys = new Set<string>();
      for (let index = 0; index < request.length; index++) {
        const message = toMessage(request, index, mode, maxMessageBytes);
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
            await transport.publish(path, messages);
            sendAgain = false;
          } catch (error) {
            // The transport's own verdict (no token for these credentials, the token service down) stands.
            if (error instanceof DropgateError) throw error;
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
function toMessage(
  events: EventBatch,
  index: number,
  mode: PubSubMode,
  maxMessageBytes: number,
): PubSubMessage | string {
  const body = events.body(index);
  if (body.byteLength > maxMessageBytes) {
    return `event of ${body.byteLength} bytes is larger than the ${maxMessageBytes} bytes a Pub/Sub message may hold here`;
  }
  const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
  if (key !== undefined && utf8Length(key) > PUBSUB_LIMITS.orderingKeyBytes) {
    return `partition key of ${utf8Length(key)} bytes is longer than the ${PUBSUB_LIMITS.orderingKeyBytes} bytes of a Pub/Sub ordering key`;
  }
  const ordering = key !== undefined ? { orderingKey: key } : {};
  if (mode === 'binary') {
    let message: PubSubMessage;
    try {
      message = binaryMessage(body);
    } catch (error) {
      return `cannot send the event in binary mode: ${describeError(error)}`;
    }
    message.attributes = { ...events.attributes(index), ...message.attributes };
    return attributesProblem(message.attributes) ?? { ...message, ...ordering };
  }
  const attributes = structuredAttributes(events.attributes(index));
  return typeof attributes === 'string' ? attributes : { data: body, attributes, ...ordering };
}

/**
 * A structured message's attributes for the events carrying `attributes`, or why Pub/Sub would refuse
 * them. A block's events share one attributes object, so its messages share one too, built and checked
 * once: a copy and its checks per message took about a tenth to a quarter of the sink's CPU, protobuf
 * encoding included (bench/README.md, Pub/Sub).
 */
const structuredAttributeSets = new WeakMap<object, Record<string, string> | string>();
const NO_ATTRIBUTES = {};

function structuredAttributes(
  attributes: Readonly<Record<string, string>> | undefined,
): Record<string, string> | string {
  const key = attributes ?? NO_ATTRIBUTES;
  let made = structuredAttributeSets.get(key);
  if (made === undefined) {
    // A packed message's attributes name the batch format as its content type.
    const merged = { 'content-type': STRUCTURED_CONTENT_TYPE, ...attributes };
    made = attributesProblem(merged) ?? merged;
    structuredAttributeSets.set(key, made);
  }
  return made;
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

/** The events of a block share one attributes object: its size, as a transport counts it, is counted once. */
export function cachedAttributesBytes(
  count: (attributes: Readonly<Record<string, string>>) => number,
): (attributes: Readonly<Record<string, string>> | undefined) => number {
  const sizes = new WeakMap<object, number>();
  return (attributes) => {
    if (!attributes) return 0;
    let bytes = sizes.get(attributes);
    if (bytes === undefined) {
      bytes = count(attributes);
      sizes.set(attributes, bytes);
    }
    return bytes;
  };
}
