/**
 * One HTTP request of a sink that speaks a cloud's HTTP API itself (on Workers, where the SDKs do not
 * run): sent again with backoff (retryWithBackoff) after a network error, a timeout or a status that says
 * to try later, and the last answer returned whatever its status. Web APIs only.
 */
import { retryWithBackoff, type RetryPolicy } from '../retry.js';

/** Statuses that say the same request can succeed later: a timeout, throttling, an outage. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export interface HttpRetryOptions {
  retry?: RetryPolicy;
  /** How long one attempt may take (default 60 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The policy of each request unless a sink is given another: three attempts within about a second. */
export const defaultHttpRetry: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 };

/**
 * `request()` fetched, then fetched again (a fresh request each attempt: a signature may carry the time)
 * while the answer's status is retryable or the fetch throws, up to the policy's attempts. Rethrows the
 * last attempt's error; answers the last response otherwise, which may still be a retryable status.
 */
export async function fetchWithRetries(
  request: () => Promise<Request> | Request,
  options: HttpRetryOptions = {},
): Promise<Response> {
  const policy = options.retry ?? defaultHttpRetry;
  const fetcher = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return retryWithBackoff(async (attempt) => {
    const response = await fetcher(await request(), { signal: AbortSignal.timeout(timeoutMs) });
    if (RETRYABLE_STATUSES.has(response.status) && attempt < policy.attempts) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} ${response.statusText}`);
    }
    return response;
  }, policy);
}

/** Whether a response of this status is worth sending again later (what the sink reports as retryable). */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}
