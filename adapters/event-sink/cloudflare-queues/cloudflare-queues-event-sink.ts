/**
 * Event sink `cloudflare-queues`: each topic is a Cloudflare Queue producer binding, fed with `sendBatch`
 * within the platform's limits (100 messages and 256,000 bytes a batch, 128,000 bytes a message, each
 * message's ~100 bytes of metadata counted). A message holds one CloudEvent as text, or, for a topic that
 * packs rows, many in the CloudEvents batch format (a JSON array; packed-events.ts).
 */
import { DropgateError, describeError } from '../../errors.js';
import type { EventBatch, EventSink, PublishFailure } from '../../ports.js';
import { publishPacked } from '../packed-events.js';
import { publishInRequests } from '../publish-in-requests.js';

/** A Queue producer binding (`env.ORDERS`), as much of it as this sink uses. */
export interface QueueBinding {
  send(body: unknown, options?: { contentType?: 'text' | 'json' | 'bytes' | 'v8' }): Promise<unknown>;
  sendBatch(
    messages: Iterable<{ body: unknown; contentType?: 'text' | 'json' | 'bytes' | 'v8' }>,
  ): Promise<unknown>;
}

/**
 * Cloudflare's limits (developers.cloudflare.com/queues/platform/limits/): a KB is 1,000 bytes, and "up
 * to ~100 bytes of internal metadata" of every message count towards them. Miniflare checks less: it
 * takes a body of 128,000 bytes and batches up to 288,000.
 */
export const QUEUE_LIMITS = {
  maxMessages: 100,
  maxBatchBytes: 256_000,
  maxMessageBytes: 128_000,
  metadataBytes: 100,
} as const;

/** The largest body a message can carry with its metadata: what `capabilities.maxMessageBytes` promises. */
export const QUEUE_MAX_BODY_BYTES = QUEUE_LIMITS.maxMessageBytes - QUEUE_LIMITS.metadataBytes;

export interface CloudflareQueuesEventSinkOptions {
  /** The queue producer binding of each topic. */
  queues: ReadonlyMap<string, QueueBinding>;
  /** Topics whose messages carry up to this many events each, in the CloudEvents batch format. */
  rowsPerMessage?: ReadonlyMap<string, number>;
  /** sendBatch calls in flight at once per publish (default 4); with more than one, order is not kept. */
  maxInFlight?: number;
}

export function createCloudflareQueuesEventSink(options: CloudflareQueuesEventSinkOptions): EventSink {
  // A packed message wraps even a lone event in brackets: where any topic packs, events get 2 bytes less.
  const packs = [...(options.rowsPerMessage?.values() ?? [])].some((rows) => rows > 1);
  const maxEventBytes = QUEUE_MAX_BODY_BYTES - (packs ? 2 : 0);
  const decoder = new TextDecoder();
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

  /** Each event of the batch as one text message of at most `maxBodyBytes` bytes. */
  function publishEach(topic: string, events: EventBatch, maxBodyBytes: number) {
    const queue = queueOf(topic);
    const limits = {
      maxEvents: QUEUE_LIMITS.maxMessages,
      maxBytes: QUEUE_LIMITS.maxBatchBytes,
      maxMessageBytes: QUEUE_LIMITS.maxMessageBytes,
      maxInFlight: options.maxInFlight ?? 4,
      // A body past what the sink promises is never planned into a batch: it is refused instead.
      eventBytes: (batch: EventBatch, index: number) => {
        const bytes = batch.body(index).byteLength;
        return bytes > maxBodyBytes ? Number.MAX_SAFE_INTEGER : bytes + QUEUE_LIMITS.metadataBytes;
      },
    };
    return publishInRequests(events, limits, async (request) => {
      const messages: Array<{ body: string; contentType: 'text' }> = [];
      for (let index = 0; index < request.length; index++)
        messages.push({ body: decoder.decode(request.body(index)), contentType: 'text' });
      try {
        await queue.sendBatch(messages);
      } catch (error) {
        // Queues answers a refused batch and an outage alike; our own checks keep batches within limits.
        throw new DropgateError(
          'PUBLISH_FAILED',
          `sending to queue of topic ${topic} failed: ${describeError(error)}`,
          { cause: error, context: { topic } },
        );
      }
      return { failed: [] };
    });
  }

  return {
    // Cloudflare Queues does not promise delivery order.
    capabilities: { ordered: false, maxMessageBytes: maxEventBytes },

    async publish(topic: string, events: EventBatch): Promise<{ failed: PublishFailure[] }> {
      const rows = options.rowsPerMessage?.get(topic) ?? 1;
      const { failed } = await publishPacked(events, rows, QUEUE_MAX_BODY_BYTES, (messages) =>
        publishEach(topic, messages, rows > 1 ? QUEUE_MAX_BODY_BYTES : maxEventBytes),
      );
      for (const failure of failed) {
        const bytes = events.body(failure.index).byteLength;
        if (bytes > maxEventBytes) {
          failure.message =
            `event of ${bytes} bytes is larger than the ${maxEventBytes} bytes a Queues message leaves ` +
            `it (${QUEUE_LIMITS.maxMessageBytes} bytes a message, ~${QUEUE_LIMITS.metadataBytes} of them metadata` +
            `${packs ? ', 2 the brackets of a packed message' : ''})`;
        }
      }
      return { failed };
    },

    async close() {},
  };
}
