/**
 * What every message sink does with a batch: split it into requests of its destination's limits, send
 * them a few at once, and report failures by their index in the whole batch. SQS takes 10 messages and
 * 1 MiB a request, Pub/Sub 1,000 and 10 MB, Cloudflare Queues 100 and 256,000 bytes (128,000 a message).
 * Web APIs only: it runs on Node and on Workers.
 */
import { describeError, isRetryable } from '../errors.js';
import type { EventBatch, PublishFailure } from '../ports.js';

export interface RequestLimits {
  /** Most events in one request. */
  maxEvents: number;
  /** Most bytes in one request, as `eventBytes` counts them. */
  maxBytes: number;
  /**
   * Largest single event, as `eventBytes` counts it. A larger event (or one larger than `maxBytes`) is
   * never sent: it is reported failed, not retryable.
   */
  maxMessageBytes: number;
  /** Requests in flight at once. */
  maxInFlight: number;
  /** What one event counts against the byte limits (default: its body's UTF-8 bytes). */
  eventBytes?: (events: EventBatch, index: number) => number;
}

/**
 * Sends one request: `request` is a view of the batch's events `[from, from + request.length)`, and its
 * failures are by index into `request`. A request that throws fails each of its events, retryably when
 * the error is; an error that is not retryable (no such topic, no permission) fails the whole publish.
 */
export type SendRequest = (request: EventBatch) => Promise<{ failed: PublishFailure[] }>;

/**
 * Publishes `events` as requests within `limits`, in the batch's order, at most `maxInFlight` at once;
 * returns every failure by its index in `events`, in index order. Settles only once no request is
 * running. A fault that is not retryable starts no further request and is rethrown once the requests
 * in flight have settled.
 */
export async function publishInRequests(
  events: EventBatch,
  limits: RequestLimits,
  send: SendRequest,
): Promise<{ failed: PublishFailure[] }> {
  const { requests, failed } = planRequests(events, limits);
  let next = 0;
  let fault: { error: unknown } | undefined;
  const run = async () => {
    while (next < requests.length && !fault) {
      const { from, to } = requests[next++]!;
      try {
        const result = await send(events.slice(from, to));
        for (const failure of result.failed) failed.push({ ...failure, index: from + failure.index });
      } catch (error) {
        if (!isRetryable(error)) {
          fault ??= { error };
          return;
        }
        const message = describeError(error);
        for (let index = from; index < to; index++) failed.push({ index, message, retryable: true });
      }
    }
  };
  const runners = Math.max(1, Math.min(limits.maxInFlight, requests.length));
  await Promise.all(Array.from({ length: runners }, run));
  if (fault) throw fault.error;
  return { failed: failed.sort((left, right) => left.index - right.index) };
}

/**
 * The batch cut into runs of consecutive events that each fit one request, and the events too large to
 * send at all. An event too large ends the run before it.
 */
function planRequests(
  events: EventBatch,
  limits: RequestLimits,
): { requests: Array<{ from: number; to: number }>; failed: PublishFailure[] } {
  const sizeOf = limits.eventBytes ?? ((batch: EventBatch, index: number) => batch.body(index).byteLength);
  const largest = Math.min(limits.maxMessageBytes, limits.maxBytes);
  const requests: Array<{ from: number; to: number }> = [];
  const failed: PublishFailure[] = [];
  let from = 0;
  let bytes = 0;
  for (let index = 0; index < events.length; index++) {
    const size = sizeOf(events, index);
    if (size > largest) {
      if (index > from) requests.push({ from, to: index });
      failed.push({
        index,
        message: `event of ${size} bytes is larger than the ${largest} bytes the sink accepts`,
        retryable: false,
      });
      from = index + 1;
      bytes = 0;
      continue;
    }
    if (index > from && (index - from >= limits.maxEvents || bytes + size > limits.maxBytes)) {
      requests.push({ from, to: index });
      from = index;
      bytes = 0;
    }
    bytes += size;
  }
  if (events.length > from) requests.push({ from, to: events.length });
  return { requests, failed };
}

/**
 * A counting semaphore for a sink's requests across its `publish` calls: at most `size` holders at once,
 * the others served in order of arrival.
 */
export class RequestSlots {
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
