/**
 * Runs ingestion jobs in the background with bounded concurrency, retrying jobs that fail with a
 * retryable fault after 2^attempt seconds (capped), so a landed file starts at once and a sink outage
 * does not lose it.
 */

export interface JobQueue {
  /** Starts `run` as soon as a slot is free; `run` returns whether to retry (and the attempt counts). */
  submit(name: string, run: (attempt: number) => Promise<'done' | 'retry'>): void;
  /** Resolves when no job is running, queued or waiting to retry. */
  idle(): Promise<void>;
  stop(): void;
}

export function createJobQueue(options: {
  concurrency: number;
  maxAttempts: number;
  baseDelayMs: number;
  onError?: (name: string, error: unknown) => void;
}): JobQueue {
  const waiting: Array<() => Promise<void>> = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];

  const settle = () => {
    if (running === 0 && waiting.length === 0 && timers.size === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };
  const pump = () => {
    while (!stopped && running < options.concurrency && waiting.length > 0) {
      const job = waiting.shift()!;
      running++;
      void job().finally(() => {
        running--;
        pump();
        settle();
      });
    }
  };
  const enqueue = (name: string, run: (attempt: number) => Promise<'done' | 'retry'>, attempt: number) => {
    waiting.push(async () => {
      let outcome: 'done' | 'retry';
      try {
        outcome = await run(attempt);
      } catch (error) {
        options.onError?.(name, error);
        outcome = 'retry';
      }
      if (outcome === 'retry' && attempt < options.maxAttempts && !stopped) {
        const delay = Math.min(options.baseDelayMs * 2 ** (attempt - 1), 5 * 60_000);
        const timer = setTimeout(() => {
          timers.delete(timer);
          enqueue(name, run, attempt + 1);
          settle();
        }, delay);
        timers.add(timer);
      }
    });
    pump();
  };

  return {
    submit: (name, run) => enqueue(name, run, 1),
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settle();
      }),
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      waiting.length = 0;
      settle();
    },
  };
}
