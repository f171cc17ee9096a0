/**
 * Event sink `cloudflare-queues`: each topic is a Cloudflare Queue producer binding, fed with `sendBatch`
 * within the platform's limits (100 messages, 256,000 bytes a batch, 128,000 a message). A message holds
 * one CloudEvent as text, or, for a topic that packs rows, many CloudEvents as NDJSON text.
 */
import { DropgateError, describeError } from '../../errors.js';
import type { EventBatch, EventSink, PublishFailure } from '../../ports.js';
import { publishInRequests } from '../publish-in-requests.js';

/** A Queue producer binding (`env.ORDERS`), as much of it as this sink uses. */
export interface QueueBinding {
  send(body: unknown, options?: { contentType?: 'text' | 'json' | 'bytes' | 'v8' }): Promise<unknown>;
  sendBatch(
    messages: Iterable<{ body: unknown; contentType?: 'text' | 'json' | 'bytes' | 'v8' }>,
  ): Promise<unknown>;
}

/** Cloudflare's limits: what miniflare checks loosely (it lets batches up to 288,000 bytes through). */
export const QUEUE_LIMITS = { maxMessages: 100, maxBatchBytes: 256_000, maxMessageBytes: 128_000 } as const;

export interface CloudflareQueuesEventSinkOptions {
  /** The queue producer binding of each topic. */
  queues: ReadonlyMap<string, QueueBinding>;
  /** Topics whose messages carry up to this many events each, as NDJSON (one event per line). */
  rowsPerMessage?: ReadonlyMap<string, number>;
  /** sendBatch calls in flight at once per publish (default 4); with more than one, order is not kept. */
  maxInFlight?: number;
}

export function createCloudflareQueuesEventSink(options: CloudflareQueuesEventSinkOptions): EventSink {
  const maxInFlight = options.maxInFlight ?? 4;
  const queueOf = (topic: string) => {
    const queue = options.queues.get(topic);
    if (!queue) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `topic ${topic} has no queue binding: add [[queues.producers]] binding for it to wrangler.toml`,
        { context: { topic } },
      );
    }
    return queue;
  };
  const send = async (queue: QueueBinding, topic: string, messages: string[]) => {
    try {
      await queue.sendBatch(messages.map((body) => ({ body, contentType: 'text' as const })));
    } catch (error) {
      // Queues answers a refused batch and an outage alike; our own checks keep batches within limits.
      throw new DropgateError(
        'PUBLISH_FAILED',
        `sending to queue of topic ${topic} failed: ${describeError(error)}`,
        {
          cause: error,
          context: { topic },
        },
      );
    }
  };

  return {
    // Cloudflare Queues does not promise delivery order.
    capabilities: { ordered: false, maxMessageBytes: QUEUE_LIMITS.maxMessageBytes },

    async publish(topic: string, events: EventBatch): Promise<{ failed: PublishFailure[] }> {
      const queue = queueOf(topic);
      const rows = options.rowsPerMessage?.get(topic) ?? 1;
      const decoder = new TextDecoder();
      if (rows <= 1) {
        return publishInRequests(
          events,
          {
            maxEvents: QUEUE_LIMITS.maxMessages,
            maxBytes: QUEUE_LIMITS.maxBatchBytes,
            maxMessageBytes: QUEUE_LIMITS.maxMessageBytes,
            maxInFlight,
          },
          async (request) => {
            const messages: string[] = [];
            for (let index = 0; index < request.length; index++)
              messages.push(decoder.decode(request.body(index)));
            await send(queue, topic, messages);
            return { failed: [] };
          },
        );
      }
      // Packed: a request is one batch of messages of up to `rows` events each (packMessages says why 98
      // messages' worth of events never make more than 100); every event counts its newline.
      return publishInRequests(
        events,
        {
          maxEvents: (QUEUE_LIMITS.maxMessages - 2) * rows,
          maxBytes: QUEUE_LIMITS.maxBatchBytes,
          maxMessageBytes: QUEUE_LIMITS.maxMessageBytes,
          maxInFlight,
          eventBytes: (batch, index) => batch.body(index).byteLength + 1,
        },
        async (request) => {
          const messages = packMessages(request, rows, decoder);
          if (messages.length > QUEUE_LIMITS.maxMessages) {
            throw new DropgateError('INVARIANT_BROKEN', `packed ${messages.length} messages into one batch`);
          }
          await send(queue, topic, messages);
          return { failed: [] };
        },
      );
    },

    async close() {},
  };
}

/**
 * The request's events as NDJSON messages of at most `rows` events and `QUEUE_LIMITS.maxMessageBytes`
 * bytes each, filled greedily. Of a request of at most 256,000 bytes and 98 * `rows` events, at most 100
 * messages come out: a cut made for bytes leaves that message and the next over 128,000 bytes together,
 * and every other such cut gives a disjoint pair, so two cuts at most fit in 256,000 bytes; the other
 * messages hold `rows` events each (but the last), so there are at most 98 of them.
 */
export function packMessages(request: EventBatch, rows: number, decoder = new TextDecoder()): string[] {
  const messages: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  for (let index = 0; index < request.length; index++) {
    const size = request.body(index).byteLength + 1;
    if (lines.length > 0 && (lines.length >= rows || bytes + size > QUEUE_LIMITS.maxMessageBytes)) {
      messages.push(lines.join(''));
      lines = [];
      bytes = 0;
    }
    lines.push(`${decoder.decode(request.body(index))}\n`);
    bytes += size;
  }
  if (lines.length > 0) messages.push(lines.join(''));
  return messages;
}
