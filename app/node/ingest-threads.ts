/**
 * The Node runtime's ingestion pool: one worker thread per core parses, validates and serializes CSV
 * segments or Parquet row groups while the main thread reads, cuts and publishes.
 *
 * Two settings go with it, both measured on the 2-core bench (npm run bench):
 * - Node runs with `--single-threaded-gc` (bin/dropgate.js, npm start). With the pool's threads already
 *   on every core, V8's parallel GC helpers only took time from them: 200 MB of orders ran at ~37 MB/s
 *   with parallel GC, ~44 without. V8 flags can only be set safely at start, so the pool cannot set it.
 * - The CSV pool's threads have capped heaps (16 MB young, 64 MB old generation), and the main thread
 *   runs with `--max-semi-space-size=4`: 200 MB of orders peaked at ~230 MB RSS instead of ~370 MB, at
 *   ~10% of the speed. A Parquet row group is decoded whole, so the Parquet pool is not capped.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CsvSegmentPool, CsvSegmentResult } from '../../workers/csv/csv-parallel.js';
import type { RowGroupPool } from '../../workers/parquet/parquet-row-source.js';
import type { RowBlock } from '../../workers/row-block.js';
import { DropgateError } from '../../workers/errors.js';
import { packageRoot } from './load-config.js';
import type { ThreadReply, ThreadRequest } from './ingest-thread.js';

export interface IngestThreadPool extends CsvSegmentPool, RowGroupPool {
  close(): Promise<void>;
}

export interface ThreadPoolOptions {
  /** Threads (default: the cores available). */
  threads?: number;
  /** Young-generation cap per thread, in MB (V8's default when absent). */
  youngGenerationMb?: number;
  /**
   * Old-generation cap per thread, in MB (none when absent). A CSV thread holds a segment or two
   * (128 KiB of CSV, at most one 1 MiB record more) and its block at a time, a few MB live; without a
   * cap V8 lets garbage grow to hundreds of MB before collecting it.
   */
  oldGenerationMb?: number;
}

const threadScript = join(packageRoot, 'dist/app/node/ingest-thread.js');

interface Pending {
  resolve: (result: never) => void;
  reject: (error: unknown) => void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** The pool for CSV segments: small, capped heaps. */
export function createCsvThreadPool(threads?: number): IngestThreadPool {
  return createIngestThreadPool({ threads, youngGenerationMb: 16, oldGenerationMb: 64 });
}

/** The pool for Parquet row groups: a row group is decoded whole, so heaps are left to V8. */
export function createParquetThreadPool(threads?: number): IngestThreadPool {
  return createIngestThreadPool({ threads });
}

export function createIngestThreadPool(options: ThreadPoolOptions = {}): IngestThreadPool {
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
        ...(options.youngGenerationMb ? { maxYoungGenerationSizeMb: options.youngGenerationMb } : {}),
        ...(options.oldGenerationMb ? { maxOldGenerationSizeMb: options.oldGenerationMb } : {}),
      },
    });
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (reply: ThreadReply) => {
      const waiting = thread.pending.get(reply.id);
      if (!waiting) return;
      thread.pending.delete(reply.id);
      // An idle pool does not keep the process alive; a busy one does.
      if (thread.pending.size === 0) worker.unref();
      if ('result' in reply) waiting.resolve(reply.result as never);
      else {
        const { code, message, retryable, context } = reply.error;
        waiting.reject(new DropgateError(code, message, { retryable, context }));
      }
    });
    const fail = (error: unknown) => {
      if (threads[slot] === thread) threads[slot] = null;
      const failure = new DropgateError('INTERNAL', `an ingestion thread stopped: ${String(error)}`, {
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

  /** Sends `request` to a thread, handing over its task's bytes (a buffer of their own) rather than copying. */
  function run<T>(request: DistributiveOmit<ThreadRequest, 'id'>): Promise<T> {
    if (closed) {
      return Promise.reject(
        new DropgateError('SHUTTING_DOWN', 'the ingestion pool is closed', { retryable: true }),
      );
    }
    // The thread with the least work queued takes the task.
    let slot = 0;
    for (let index = 1; index < size; index++) {
      if ((threads[index]?.pending.size ?? 0) < (threads[slot]?.pending.size ?? 0)) slot = index;
    }
    const thread = threads[slot] ?? start(slot);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      thread.pending.set(id, { resolve: resolve as (result: never) => void, reject });
      thread.worker.ref();
      thread.worker.postMessage({ ...request, id } as ThreadRequest, [
        request.task.bytes.buffer as ArrayBuffer,
      ]);
    });
  }

  return {
    size,
    process(plan, task) {
      return run<CsvSegmentResult>({ kind: 'csv', plan, task });
    },
    processRowGroup(plan, task) {
      return run<RowBlock[]>({ kind: 'parquet', plan, task });
    },
    async close() {
      closed = true;
      await Promise.all(threads.map((thread) => thread?.worker.terminate()));
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
