/**
 * Batches a file's events and dead letters, publishes them with retries while the parser runs ahead
 * (a few batches in flight, one filling), and reports each batch as durable strictly in row order.
 */
import type { Checkpoint, EventSink, OutgoingEvent } from '../adapters/ports.js';
import { DropgateError, describeError } from './errors.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export const defaultRetry: RetryPolicy = { attempts: 5, baseDelayMs: 200 };

const MAX_IN_FLIGHT = 2;

interface Batch {
  events: OutgoingEvent[];
  dead: OutgoingEvent[];
  chars: number;
  lastRow: number;
  accepted: number;
  rejected: number;
}

export interface BatchPublisherOptions {
  sink: EventSink;
  topic: string;
  deadLetterTopic: string;
  retry: RetryPolicy;
  start: Checkpoint;
  /** Called after each batch is durable, in row order. */
  onDurable: (checkpoint: Checkpoint) => Promise<void>;
  /** Turns an event the sink refused for good into a dead letter. */
  refusedToDeadLetter: (event: OutgoingEvent, row: number, reason: string) => OutgoingEvent;
}

export class BatchPublisher {
  private batch: Batch;
  private rows: number[] = [];
  private window: Promise<void>[] = [];
  private last: Promise<void> = Promise.resolve();
  private durable: Checkpoint;

  constructor(private readonly options: BatchPublisherOptions) {
    this.durable = { ...options.start };
    this.batch = emptyBatch(options.start.row);
  }

  /** What is durably published so far. */
  get checkpoint(): Checkpoint {
    return { ...this.durable };
  }

  /** Buffers an accepted row's event; returns a promise (to await) only when the batch had to be sent. */
  accept(row: number, event: OutgoingEvent): Promise<void> | undefined {
    this.batch.events.push(event);
    this.rows.push(row);
    this.batch.accepted++;
    return this.add(row, event.body.length);
  }

  /** Buffers a rejected row's dead letter; returns a promise only when the batch had to be sent. */
  reject(row: number, deadLetter: OutgoingEvent): Promise<void> | undefined {
    this.batch.dead.push(deadLetter);
    this.batch.rejected++;
    return this.add(row, deadLetter.body.length);
  }

  /** Publishes what is buffered and waits until everything is durable. */
  async drain(): Promise<Checkpoint> {
    await this.flush();
    await this.last;
    return this.checkpoint;
  }

  /** Waits until no batch is in flight, whether it succeeded or not, and returns what is durable. */
  async settle(): Promise<Checkpoint> {
    await this.last.catch(() => undefined);
    return this.checkpoint;
  }

  private add(row: number, chars: number): Promise<void> | undefined {
    this.batch.lastRow = row;
    this.batch.chars += chars;
    const { maxBatchEvents, maxBatchBytes } = this.options.sink.limits;
    const full = this.batch.events.length >= maxBatchEvents || this.batch.dead.length >= maxBatchEvents;
    return full || this.batch.chars >= maxBatchBytes ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    const rows = this.rows;
    if (batch.events.length === 0 && batch.dead.length === 0) return;
    this.batch = emptyBatch(batch.lastRow);
    this.rows = [];
    // Up to MAX_IN_FLIGHT batches publish concurrently while the parser fills the next one; waiting on
    // the oldest rethrows its failure here.
    while (this.window.length >= MAX_IN_FLIGHT) await this.window.shift();
    // Each send settles after the one before it and fails if it failed, so `last` carries any failure.
    const sending = this.send(batch, rows, this.last);
    sending.catch(() => undefined);
    this.last = sending;
    this.window.push(sending);
  }

  private async send(batch: Batch, rows: number[], previous: Promise<void>): Promise<void> {
    const { topic, deadLetterTopic, refusedToDeadLetter } = this.options;
    const [refused] = await Promise.all([
      this.publish(topic, batch.events),
      this.publish(deadLetterTopic, batch.dead),
    ]);
    if (refused.length > 0) {
      const dead = refused.map(({ index, reason }) =>
        refusedToDeadLetter(batch.events[index]!, rows[index]!, reason),
      );
      const refusedAgain = await this.publish(deadLetterTopic, dead);
      if (refusedAgain.length > 0) {
        throw new DropgateError(
          'PUBLISH_FAILED',
          `dead-letter topic ${deadLetterTopic} refused an event: ${refusedAgain[0]!.reason}`,
        );
      }
    }
    // The checkpoint only moves past this batch once every batch before it is durable too.
    await previous;
    this.durable = {
      row: batch.lastRow,
      published: this.durable.published + batch.accepted - refused.length,
      rejected: this.durable.rejected + batch.rejected + refused.length,
    };
    await this.options.onDurable(this.checkpoint);
  }

  /** Publishes with retries; returns the events the sink refused for good, by index. */
  private async publish(
    topic: string,
    events: OutgoingEvent[],
  ): Promise<Array<{ index: number; reason: string }>> {
    const refused: Array<{ index: number; reason: string }> = [];
    let pending = events.map((_, index) => index);
    const { attempts, baseDelayMs } = this.options.retry;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let lastError: unknown;
      try {
        const { failed } = await this.options.sink.publish(
          topic,
          pending.map((index) => events[index]!),
        );
        const retry: number[] = [];
        for (const failure of failed) {
          const index = pending[failure.index]!;
          if (failure.retryable) retry.push(index);
          else refused.push({ index, reason: failure.message });
          lastError = failure.message;
        }
        pending = retry;
      } catch (error) {
        if (error instanceof DropgateError && !error.retryable) throw error;
        lastError = error;
      }
      if (pending.length === 0) break;
      if (attempt >= attempts) {
        throw new DropgateError(
          'PUBLISH_FAILED',
          `publishing to ${topic} failed after ${attempts} attempts: ${describeError(lastError)}`,
          { retryable: true, cause: lastError },
        );
      }
      await sleep(baseDelayMs * 2 ** (attempt - 1));
    }
    return refused;
  }
}

function emptyBatch(lastRow: number): Batch {
  return { events: [], dead: [], chars: 0, lastRow, accepted: 0, rejected: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
