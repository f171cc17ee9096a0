/**
 * Ingests recorded versions in the background with bounded concurrency. Nothing here is the source of
 * truth: every version it is woken for is already in the ledger (`pending`, or left `processing` or
 * `failed`), so a stop loses only the order of work, never the work; a restart finds it all again by
 * paging the ledger. Retryable faults are retried after a jittered, growing delay; others wait for a
 * restart or a replay.
 */
import type { FileVersionRef } from '../adapters/ports.js';
import { backoffDelay } from '../adapters/retry.js';

export interface BackgroundIngestionOptions {
  concurrency: number;
  /** Attempts per version in this process before it is left `failed` for a restart or a replay. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Ingests one version; `retry` asks for another attempt later (a retryable fault). */
  run: (ref: FileVersionRef) => Promise<'done' | 'retry'>;
  onError?: (ref: FileVersionRef, error: unknown) => void;
}

export interface BackgroundIngestion {
  /** Queues the version unless it is queued, running or waiting to retry already. */
  wake(ref: FileVersionRef): void;
  /** Resolves when nothing is running, queued or waiting to retry. */
  idle(): Promise<void>;
  /** Stops starting work and drops retry timers; running attempts are stopped by their own signal. */
  stop(): void;
}

export function createBackgroundIngestion(options: BackgroundIngestionOptions): BackgroundIngestion {
  /** Versions queued, running or waiting to retry, with the attempts made so far. */
  const known = new Map<string, number>();
  /** Versions woken again while known: run once more after the current attempt, whatever it decides. */
  const again = new Set<string>();
  const waiting: FileVersionRef[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];
  const id = (ref: FileVersionRef) => JSON.stringify([ref.bucket, ref.key, ref.version]);

  const settle = () => {
    if (running > 0 || waiting.length > 0 || timers.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const runOne = async (ref: FileVersionRef) => {
    const attempt = (known.get(id(ref)) ?? 0) + 1;
    known.set(id(ref), attempt);
    let outcome: 'done' | 'retry';
    try {
      outcome = await options.run(ref);
    } catch (error) {
      // `run` reports faults as `retry`; a throw is a defect, and the ledger still holds the version.
      options.onError?.(ref, error);
      outcome = 'done';
    }
    if (again.delete(id(ref)) && !stopped) {
      known.set(id(ref), 0);
      waiting.push(ref);
    } else if (outcome === 'retry' && attempt < options.maxAttempts && !stopped) {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          waiting.push(ref);
          pump();
          settle();
        },
        backoffDelay(attempt, options),
      );
      timers.add(timer);
    } else {
      known.delete(id(ref));
    }
  };

  const pump = () => {
    while (!stopped && running < options.concurrency && waiting.length > 0) {
      const ref = waiting.shift()!;
      running++;
      void runOne(ref).finally(() => {
        running--;
        pump();
        settle();
      });
    }
  };

  return {
    wake(ref) {
      if (stopped) return;
      if (known.has(id(ref))) {
        again.add(id(ref));
        return;
      }
      known.set(id(ref), 0);
      waiting.push(ref);
      pump();
    },
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
      again.clear();
      settle();
    },
  };
}
