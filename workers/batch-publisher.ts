/**
 * Publishes a file's row blocks (events and dead letters) with retries while the parser runs ahead (a few
 * blocks in flight), one publish per block (the sink splits it into its own requests), and reports blocks
 * durable strictly in row order.
 */
import {
  PARTITION_KEY_ATTRIBUTE,
  type Checkpoint,
  type EventBatch,
  type EventSink,
  type OutgoingEvent,
} from '../adapters/ports.js';
import type { Rejection } from './envelope.js';
import { DropgateError, describeError, isDropgateError, isRetryable } from '../adapters/errors.js';
import { retryWithBackoff, type RetryOptions, type RetryPolicy } from '../adapters/retry.js';
import { EncodedEvents } from './event-batch.js';
import type { FileObserver } from './file-observer.js';
import type { RowBlock } from './row-block.js';

const MAX_IN_FLIGHT = 4;

export interface BatchPublisherOptions {
  sink: EventSink;
  topic: string;
  deadLetterTopic: string;
  retry: RetryPolicy;
  /** Aborted when the process is shutting down: a publish stops waiting to retry and fails SHUTTING_DOWN. */
  signal?: AbortSignal;
  start: Checkpoint;
  /** Called after each block is durable, in row order. */
  onDurable: (checkpoint: Checkpoint) => Promise<void>;
  /** The id of row `row`'s event. */
  eventId: (row: number) => string;
  eventAttributes: Readonly<Record<string, string>>;
  deadLetter: (rejection: Rejection) => OutgoingEvent;
  /** Gets a `publish` step per block and each retry of a publish. */
  observer?: FileObserver;
}

export class BatchPublisher {
  private window: Promise<void>[] = [];
  private last: Promise<void> = Promise.resolve();
  private durable: Checkpoint;

  constructor(private readonly options: BatchPublisherOptions) {
    this.durable = { ...options.start };
  }

  /** What is durably published so far. */
  get checkpoint(): Checkpoint {
    return { ...this.durable };
  }

  /**
   * Starts publishing `block` behind the blocks before it. Resolves at once while fewer than
   * MAX_IN_FLIGHT blocks are in flight, else once the oldest is durable, rethrowing its failure.
   */
  async add(block: RowBlock): Promise<void> {
    while (this.window.length >= MAX_IN_FLIGHT) await this.window.shift();
    // Each send settles after the one before it and fails if it failed, so `last` carries any failure.
    const sending = this.send(block, this.last);
    sending.catch(() => undefined);
    this.last = sending;
    this.window.push(sending);
  }

  /** Waits until everything added is durable. */
  async drain(): Promise<Checkpoint> {
    await this.last;
    return this.checkpoint;
  }

  /** Waits until no block is in flight, whether it succeeded or not, and returns what is durable. */
  async settle(): Promise<Checkpoint> {
    await this.last.catch(() => undefined);
    return this.checkpoint;
  }

  private async send(block: RowBlock, previous: Promise<void>): Promise<void> {
    const end = this.options.observer?.step('publish', {
      topic: this.options.topic,
      rows: block.rows.length,
      rejected: block.rejections.length,
      firstRow: block.rows[0] ?? block.lastRow,
      lastRow: block.lastRow,
    });
    try {
      await this.sendBlock(block, previous);
    } catch (error) {
      end?.({ error });
      throw error;
    }
    end?.();
  }

  private async sendBlock(block: RowBlock, previous: Promise<void>): Promise<void> {
    const { topic, deadLetterTopic, eventId, eventAttributes, deadLetter } = this.options;
    const { keys } = block;
    const events = new EncodedEvents(
      block.bytes,
      block.ends,
      (index) => eventId(block.rows[index]!),
      keys ? (index) => withPartitionKey(eventAttributes, keys[index]) : () => eventAttributes,
    );
    const dead = block.rejections.map(deadLetter);
    const [refused] = await Promise.all([
      this.publish(topic, events),
      dead.length > 0 ? this.publish(deadLetterTopic, EncodedEvents.of(dead)) : [],
    ]);
    if (refused.length > 0) {
      const decoder = new TextDecoder();
      const refusedDead = refused.map(({ index, reason }) =>
        deadLetter({
          row: block.rows[index]!,
          line: block.lines[index]!,
          issues: [{ field: '', reason: `sink refused the event: ${reason}` }],
          raw: decoder.decode(events.body(index)),
        }),
      );
      const refusedAgain = await this.publish(deadLetterTopic, EncodedEvents.of(refusedDead));
      if (refusedAgain.length > 0) {
        throw new DropgateError(
          'PUBLISH_REFUSED',
          `dead-letter topic ${deadLetterTopic} refused an event: ${refusedAgain[0]!.reason}`,
        );
      }
    }
    const published = events.length - refused.length;
    // Nothing reads the block's events any more.
    block.release?.();
    // The checkpoint only moves past this block once every block before it is durable too.
    await previous;
    this.durable = {
      row: Math.max(this.durable.row, block.lastRow),
      published: this.durable.published + published,
      rejected: this.durable.rejected + block.rejections.length + refused.length,
    };
    await this.options.onDurable(this.checkpoint);
  }

  private publish(topic: string, events: EventBatch): Promise<Refusal[]> {
    const { observer } = this.options;
    return publishWithRetries(this.options.sink, topic, events, {
      ...this.options.retry,
      signal: this.options.signal,
      ...(observer ? { onRetry: (error: unknown) => observer.retried(topic, error) } : {}),
    });
  }
}

/** A row event's attributes with its own partition key, made when a sink asks (not kept per event). */
function withPartitionKey(
  attributes: Readonly<Record<string, string>>,
  key: string | undefined,
): Readonly<Record<string, string>> {
  return key === undefined ? attributes : { ...attributes, [PARTITION_KEY_ATTRIBUTE]: key };
}

/** An event the sink refused for good: its index in the batch, and why. */
export interface Refusal {
  index: number;
  reason: string;
}

/**
 * Publishes `events` to `topic`, publishing again what the sink did not take while trying again can help
 * (retryWithBackoff); returns the events the sink refused for good, by index. Fails with PUBLISH_FAILED
 * once the attempts are spent, with the sink's own error when it is not retryable, and with SHUTTING_DOWN
 * when `retry.signal` is aborted.
 */
export async function publishWithRetries(
  sink: EventSink,
  topic: string,
  events: EventBatch,
  retry: RetryOptions,
): Promise<Refusal[]> {
  const refused: Refusal[] = [];
  // Indices into `events` still to publish; null while that is all of them.
  let pending: number[] | null = null;
  try {
    await retryWithBackoff(async () => {
      const batch = pending ? events.pick(pending) : events;
      const { failed } = await sink.publish(topic, batch);
      if (failed.length === 0) return;
      const again: number[] = [];
      let reason = '';
      for (const failure of failed) {
        const index = pending ? pending[failure.index]! : failure.index;
        if (failure.retryable) {
          again.push(index);
          reason = failure.message;
        } else refused.push({ index, reason: failure.message });
      }
      if (again.length === 0) return;
      pending = again.sort((left, right) => left - right);
      throw new DropgateError(
        'PUBLISH_FAILED',
        `${topic} did not take ${again.length} of ${batch.length} events: ${reason}`,
      );
    }, retry);
  } catch (error) {
    if (!isRetryable(error) || isDropgateError(error, 'SHUTTING_DOWN')) throw error;
    throw new DropgateError(
      'PUBLISH_FAILED',
      `publishing to ${topic} failed after ${retry.attempts} attempts: ${describeError(error)}`,
      { cause: error },
    );
  }
  return refused;
}
