/**
 * The one way the pipeline retries: attempts spaced by exponential backoff with full jitter, stopped at
 * once by an AbortSignal. Web APIs only (timers, AbortSignal), so it runs on Node and on Workers.
 */
import { DropgateError, describeError, isRetryable } from './errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included: 1 never retries. */
  attempts: number;
  /** The longest wait after the first failed attempt; it doubles with each attempt after that. */
  baseDelayMs: number;
  /** The longest any wait grows to (default 30 s). */
  maxDelayMs?: number;
}

export const defaultRetry: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 30_000 };

const DEFAULT_MAX_DELAY_MS = 30_000;

export interface RetryOptions extends RetryPolicy {
  /** Aborting stops a pending wait at once; no attempt starts once it is aborted. */
  signal?: AbortSignal;
  /** Whether an attempt that threw `error` is worth another (default: the error code's rule, isRetryable). */
  retryable?: (error: unknown) => boolean;
  /** Called before each attempt after the first, with the error of the attempt before it. */
  onRetry?: (error: unknown) => void;
}

/**
 * The wait after failed attempt `attempt` (1 for the first): uniformly random between 0 and
 * min(maxDelayMs, baseDelayMs * 2^(attempt - 1)). The full jitter keeps many callers that failed together
 * (one sink outage, every file) from all trying again at the same moment.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    policy.baseDelayMs * 2 ** (attempt - 1),
  );
  return random() * ceiling;
}

/**
 * Runs `operation` until it succeeds, throws an error `retryable` rejects, or has run `attempts` times,
 * waiting backoffDelay between attempts; rethrows the last attempt's error. When `signal` is aborted no
 * further attempt starts, and a pending wait ends at once, rejecting with the abort reason when it is a
 * DropgateError, else with SHUTTING_DOWN (the reason as its cause).
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { signal } = options;
  const retryable = options.retryable ?? isRetryable;
  let failure: unknown;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw stopped(signal);
    if (attempt > 1) options.onRetry?.(failure);
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !retryable(error)) throw error;
      failure = error;
    }
    await sleep(backoffDelay(attempt, options), signal);
  }
}

/** Resolves after `ms`, or rejects once `signal` is aborted; leaves neither timer nor listener behind. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!signal) {
      setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) {
      reject(stopped(signal));
      return;
    }
    const abort = () => {
      clearTimeout(timer);
      reject(stopped(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal.addEventListener('abort', abort, { once: true });
  });
}

function stopped(signal: AbortSignal): DropgateError {
  const reason: unknown = signal.reason;
  if (reason instanceof DropgateError) return reason;
  return new DropgateError('SHUTTING_DOWN', `stopped before trying again: ${describeError(reason)}`, {
    cause: reason,
  });
}
