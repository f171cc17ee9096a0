/**
 * The Node runtime's CSV segment pool: one worker thread per core parses, validates and serializes
 * segments while the main thread reads, cuts and publishes.
 *
 * Two settings go with it, both measured on the 2-core bench (npm run bench):
 * - Node runs with `--single-threaded-gc` (bin/dropgate.js, npm start). With the pool's threads already
 *   on every core, V8's parallel GC helpers only took time from them: 200 MB of orders ran at ~37 MB/s
 *   with parallel GC, ~44 without. V8 flags can only be set safely at start, so the pool cannot set it.
 * - Each thread's heap is capped (16 MB young, 64 MB old generation), and the main thread runs with
 *   `--max-semi-space-size=4`: 200 MB of orders peaked at ~250 MB RSS instead of ~370 MB, at ~10% of the
 *   speed.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CsvSegmentPool, CsvSegmentResult } from '../../workers/csv/csv-parallel.js';
import { DropgateError } from '../../workers/errors.js';
import { packageRoot } from './load-config.js';
import type { SegmentReply, SegmentRequest } from './segment-thread.js';

export interface ThreadSegmentPool extends CsvSegmentPool {
  close(): Promise<void>;
}

export interface ThreadPoolOptions {
  /** Threads (default: the cores available). */
  threads?: number;
  /** Young-generation cap per thread, in MB (default 16). */
  youngGenerationMb?: number;
  /**
   * Old-generation cap per thread, in MB (default 64). A thread holds a segment or two (128 KiB of CSV,
   * at most one 1 MiB record more) and its block at a time, a few MB live; without a cap V8 lets garbage
   * grow to hundreds of MB before collecting it.
   */
  oldGenerationMb?: number;
}

const threadScript = join(packageRoot, 'dist/app/node/segment-thread.js');

interface Pending {
  resolve: (result: CsvSegmentResult) => void;
  reject: (error: unknown) => void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

export function createThreadSegmentPool(options: ThreadPoolOptions = {}): ThreadSegmentPool {
  if (!existsSync(threadScript)) {
    throw new DropgateError('CONFIG_INVALID', `${threadScript} is missing: run npm run build first`);
  }
  const size = Math.max(1, options.threads ?? availableParallelism());
  const threads: Array<Thread | null> = Array.from({ length: size }, () => null);
  let nextId = 0;
  let closed = false;

  const start = (slot: number): Thread => {
    const worker = new Worker(threadScript, {
      resourceLimits: {
        maxYoungGenerationSizeMb: options.youngGenerationMb ?? 16,
        maxOldGenerationSizeMb: options.oldGenerationMb ?? 64,
      },
    });
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (reply: SegmentReply) => {
      const waiting = thread.pending.get(reply.id);
      if (!waiting) return;
      thread.pending.delete(reply.id);
      // An idle pool does not keep the process alive; a busy one does.
      if (thread.pending.size === 0) worker.unref();
      if ('result' in reply) waiting.resolve(reply.result);
      else {
        const { code, message, retryable, context } = reply.error;
        waiting.reject(new DropgateError(code, message, { retryable, context }));
      }
    });
    const fail = (error: unknown) => {
      if (threads[slot] === thread) threads[slot] = null;
      const failure = new DropgateError('INTERNAL', `a CSV segment thread stopped: ${String(error)}`, {
        retryable: true,
        cause: error,
      });
      for (const waiting of thread.pending.values()) waiting.reject(failure);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(`exit code ${code}`));
    worker.unref();
    threads[slot] = thread;
    return thread;
  };

  return {
    size,
    process(plan, task) {
      if (closed) {
        return Promise.reject(
          new DropgateError('SHUTTING_DOWN', 'the segment pool is closed', { retryable: true }),
        );
      }
      // The thread with the least work queued takes the segment.
      let slot = 0;
      for (let index = 1; index < size; index++) {
        if ((threads[index]?.pending.size ?? 0) < (threads[slot]?.pending.size ?? 0)) slot = index;
      }
      const thread = threads[slot] ?? start(slot);
      const id = nextId++;
      return new Promise<CsvSegmentResult>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        thread.worker.ref();
        thread.worker.postMessage({ id, plan, task } satisfies SegmentRequest, [
          task.bytes.buffer as ArrayBuffer,
        ]);
      });
    },
    async close() {
      closed = true;
      await Promise.all(threads.map((thread) => thread?.worker.terminate()));
    },
  };
}
