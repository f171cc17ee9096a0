/** retryWithBackoff: retries what its code says is retryable, with jittered waits an AbortSignal ends at once. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { backoffDelay, retryWithBackoff } from '../../adapters/retry.js';

const outage = () => new DropgateError('PUBLISH_FAILED', 'sink unavailable');

/** An operation that throws each of `errors` in turn, then returns 'done'; counts its calls. */
function failing(...errors: unknown[]) {
  const operation = vi.fn(async (attempt: number) => {
    if (attempt <= errors.length) throw errors[attempt - 1];
    return 'done';
  });
  return operation;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('retryWithBackoff', () => {
  it('tries again after a retryable error until the operation succeeds', async () => {
    const operation = failing(outage(), outage());
    await expect(retryWithBackoff(operation, { attempts: 5, baseDelayMs: 1 })).resolves.toBe('done');
    expect(operation.mock.calls.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
  });

  it('reports each retry with the error of the attempt before it (the publish retries metric)', async () => {
    const [first, second] = [outage(), outage()];
    const retried: unknown[] = [];
    const options = { attempts: 5, baseDelayMs: 1, onRetry: (error: unknown) => retried.push(error) };
    await expect(retryWithBackoff(failing(first, second), options)).resolves.toBe('done');
    expect(retried).toEqual([first, second]);
    retried.length = 0;
    await expect(retryWithBackoff(failing(), options)).resolves.toBe('done');
    expect(retried).toEqual([]);
  });

  it('rethrows an error that is not retryable at once', async () => {
    const unreadable = new DropgateError('FILE_UNREADABLE', 'not gzip');
    const operation = failing(unreadable);
    await expect(retryWithBackoff(operation, { attempts: 5, baseDelayMs: 1 })).rejects.toBe(unreadable);
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it('retries an error of no known kind, as an unexpected fault', async () => {
    const operation = failing(new TypeError('socket hang up'));
    await expect(retryWithBackoff(operation, { attempts: 2, baseDelayMs: 1 })).resolves.toBe('done');
  });

  it('gives up after `attempts`, rethrowing the last error', async () => {
    const errors = [outage(), outage(), outage(), outage()];
    const operation = failing(...errors);
    await expect(retryWithBackoff(operation, { attempts: 3, baseDelayMs: 1 })).rejects.toBe(errors[2]);
    expect(operation).toHaveBeenCalledTimes(3);
  });

  it('asks `retryable`, when given, instead of the code', async () => {
    const operation = failing(new DropgateError('CONFLICT', 'busy'), outage());
    const retryable = (error: unknown) => (error as DropgateError).code === 'CONFLICT';
    await expect(
      retryWithBackoff(operation, { attempts: 5, baseDelayMs: 1, retryable }),
    ).rejects.toMatchObject({
      code: 'PUBLISH_FAILED',
    });
    expect(operation).toHaveBeenCalledTimes(2);
  });

  it('waits a jittered, doubling backoff between attempts', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const operation = failing(outage(), outage());
    const result = retryWithBackoff(operation, { attempts: 3, baseDelayMs: 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(operation).toHaveBeenCalledTimes(1);
    // Half of 100 ms, then half of 200 ms.
    await vi.advanceTimersByTimeAsync(49);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(operation).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(operation).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('done');
  });

  it('stops a pending wait as soon as the signal is aborted, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const operation = failing(outage(), outage());
    const result = retryWithBackoff(operation, {
      attempts: 5,
      baseDelayMs: 60_000,
      maxDelayMs: 60_000,
      signal: controller.signal,
    });
    result.catch(() => undefined);
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);

    controller.abort();
    await expect(result).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retryable: true });
    expect(vi.getTimerCount()).toBe(0);
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it('rejects with the abort reason when it is a DropgateError', async () => {
    const controller = new AbortController();
    const reason = new DropgateError('LEASE_LOST', 'another worker took the file');
    const result = retryWithBackoff(failing(outage()), {
      attempts: 5,
      baseDelayMs: 60_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 5);
    const started = Date.now();
    await expect(result).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('starts no attempt once the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const operation = failing();
    await expect(
      retryWithBackoff(operation, { attempts: 3, baseDelayMs: 1, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(operation).not.toHaveBeenCalled();
  });

  it('takes its abort listener off the signal after each wait', async () => {
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    const operation = failing(outage(), outage(), outage());
    await retryWithBackoff(operation, { attempts: 5, baseDelayMs: 1, signal: controller.signal });
    expect(added).toHaveBeenCalledTimes(3);
    expect(removed).toHaveBeenCalledTimes(3);
  });
});

describe('backoffDelay', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it('lies between 0 and a ceiling that doubles per attempt up to maxDelayMs', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, policy, () => 1));
    expect(ceilings).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(60, policy, () => 1)).toBe(1_000);
  });

  it('spreads waits across the whole range (full jitter)', () => {
    const waits = Array.from({ length: 2_000 }, () => backoffDelay(3, policy));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...waits)).toBeLessThanOrEqual(400);
    expect(Math.min(...waits)).toBeLessThan(40);
    expect(Math.max(...waits)).toBeGreaterThan(360);
  });

  it('caps waits at 30 s when the policy names no maximum', () => {
    expect(backoffDelay(30, { baseDelayMs: 1_000 }, () => 1)).toBe(30_000);
  });
});
