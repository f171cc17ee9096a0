/**
 * The Node runtime's ingestion pools: worker threads parse, validate and serialize CSV segments (one
 * thread per core) or Parquet row groups (one fewer than the cores) while the main thread reads, cuts
 * and publishes.
 *
 * Two settings go with it, both measured on the 2-core bench (npm run bench):
 * - Node runs with `--single-threaded-gc` (bin/dropgate.js, npm start). With the pool's threads already
 *   on every core, V8's parallel GC helpers only took time from them: 200 MB of orders ran at ~37 MB/s
 *   with parallel GC, ~44 without. V8 flags can only be set safely at start, so the pool cannot set it.
 * - The main thread runs with `--max-semi-space-size=4` (a small young generation), and each thread with
 *   the heap caps its pool gives it (see threadsSizeTheirOwnYoungGeneration for how both hold at once).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { CsvSegmentPool, CsvSegmentResult } from '../../workers/csv/csv-parallel.js';
import type { RowGroupPool } from '../../workers/parquet/parquet-row-source.js';
import type { RowBlock } from '../../workers/row-block.js';
import { DropgateError, deserializeError } from '../../adapters/errors.js';
import { packageRoot } from './load-config.js';
import type { Recycle, StreamControl, ThreadReply, ThreadRequest, ThreadSettings } from './ingest-thread.js';

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
   * (256 KiB of CSV, at most one 1 MiB record more) and its block at a time, a few MB live; without a
   * cap V8 lets garbage grow to hundreds of MB before collecting it.
   */
  oldGenerationMb?: number;
}

const threadScript = join(packageRoot, 'dist/app/node/ingest-thread.js');

/**
 * Threads run at this niceness (Linux), below the main thread's: with the threads on every core, the
 * main thread often waited for a time slice while blocks waited to be published and threads for new
 * segments. On the 1 GB bench (2 cores) the main thread's waits for the publisher fell from 8.5 to 0.5 s,
 * and the run from 30.8 to 29.6 s (28.1 s with more segments in flight, see SEGMENTS_PER_THREAD in
 * csv-parallel.ts). It also keeps the HTTP front end responsive while a large file is parsed.
 */
const THREAD_NICENESS = 10;

/** What waits for a thread's replies to one request: the whole reply, or a stream of blocks. */
interface Pending {
  /** Takes a reply; true when it was the last one. */
  reply: (reply: ThreadReply) => boolean;
  fail: (error: unknown) => void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** A row group's blocks as its thread sends them; see STREAM_CREDIT for how far ahead. */
class BlockStream implements AsyncIterableIterator<RowBlock> {
  private readonly blocks: RowBlock[] = [];
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    private readonly control: (kind: StreamControl['kind']) => void,
    private readonly forget: () => void,
  ) {}

  /** Takes the thread's reply; true when the stream has ended. */
  reply(reply: ThreadReply): boolean {
    if ('block' in reply) this.blocks.push(reply.block);
    else if ('error' in reply) this.fail(deserializeError(reply.error));
    else this.ended = true;
    this.wake?.();
    return this.ended;
  }

  fail(error: unknown): void {
    this.failure = error;
    this.ended = true;
    this.wake?.();
  }

  async next(): Promise<IteratorResult<RowBlock>> {
    for (;;) {
      const block = this.blocks.shift();
      if (block) {
        if (!this.ended) this.control('more');
        return { value: block, done: false };
      }
      // Blocks made before a failure are handed on first, as the rows before it.
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<RowBlock>> {
    if (!this.ended) {
      this.ended = true;
      this.control('cancel');
      this.forget();
    }
    this.blocks.length = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export interface IngestPools {
  segmentPool?: IngestThreadPool;
  rowGroupPool?: IngestThreadPool;
  close(): Promise<void>;
}

/**
 * The pools a gateway or CLI run ingests with: `threads` CSV threads and one fewer Parquet threads (at
 * least one); by default as many as the cores available. 0 means none: files are parsed on the main
 * thread, as on Workers. Containers whose CPU quota is below the host's cores (Cloud Run) should say
 * how many (`ingestThreads` in the config): each thread holds its own heap and buffers.
 */
export function createIngestPools(threads?: number): IngestPools {
  if (threads === 0) return { close: async () => undefined };
  const segmentPool = createCsvThreadPool(threads);
  const rowGroupPool = createParquetThreadPool(oneFewer(threads ?? availableParallelism()));
  return {
    segmentPool,
    rowGroupPool,
    close: async () => {
      await Promise.all([segmentPool.close(), rowGroupPool.close()]);
    },
  };
}

/** Parquet's share of `threads`: one fewer, so the main thread keeps a core, and at least one. */
const oneFewer = (threads: number) => Math.max(1, threads - 1);

/** The pool for CSV segments: small, capped heaps. */
export function createCsvThreadPool(threads?: number): IngestThreadPool {
  return createIngestThreadPool({ threads, youngGenerationMb: 16, oldGenerationMb: 64 });
}

/**
 * The pool for Parquet row groups: one thread fewer than the cores (at least one), with capped heaps.
 * A thread decodes a row group a slice of rows at a time (row-group-slices.ts), so it needs a few MB
 * live whatever the row group's size; a slice that does not fit (rows of several MB each) runs on the
 * calling thread instead (parallelParquetBlocks). On the 2-core bench (2M rows, 100k-row groups), one
 * thread ran at 11.5 s and ~170 MB peak RSS, two at 9.6-10.1 s and 251-256 MB: the second thread costs
 * its own heap and event buffers (~80 MB) for a seventh less time, which the memory target
 * (a decoded row group, 57 MB, plus 150 MB) does not leave room for. The main thread keeps a core for
 * reading and publishing. Young generations of 16 MB: with 8 MB the same run took 14.5-15.5 s.
 */
export function createParquetThreadPool(
  threads = oneFewer(availableParallelism()),
  oldGenerationMb = 64,
): IngestThreadPool {
  return createIngestThreadPool({ threads, youngGenerationMb: 16, oldGenerationMb });
}

/**
 * Lets the threads started from now on size their young generation by their `resourceLimits`.
 *
 * `--max-semi-space-size`, which keeps the main thread's young generation small, is a process-wide V8
 * flag: V8 applies it to every isolate it creates, worker threads included, over the young-generation
 * size their `resourceLimits` ask for. So the CSV threads ran with 4 MB semi-spaces, and scavenges
 * promoted much of what they copied: per 200 MB of orders each thread spent ~2 s in ~380 scavenges and
 * ~65 full collections. Unsetting the flag (0: none) once the main thread's heap is configured lets each
 * thread have the young generation its pool sets, while the main thread keeps its 4 MB semi-spaces.
 * V8 reads the flag only when it sets up a new isolate's heap, so nothing running is affected.
 */
export function threadsSizeTheirOwnYoungGeneration(): void {
  setFlagsFromString('--max-semi-space-size=0');
}

export function createIngestThreadPool(options: ThreadPoolOptions = {}): IngestThreadPool {
  if (!existsSync(threadScript)) {
    throw new DropgateError('CONFIG_INVALID', `${threadScript} is missing: run npm run build first`);
  }
  threadsSizeTheirOwnYoungGeneration();
  const size = Math.max(1, options.threads ?? availableParallelism());
  const threads: Array<Thread | null> = Array.from({ length: size }, () => null);
  let nextId = 0;
  let closed = false;

  const start = (slot: number): Thread => {
    const worker = new Worker(threadScript, {
      workerData: { niceness: THREAD_NICENESS } satisfies ThreadSettings,
      resourceLimits: {
        ...(options.youngGenerationMb ? { maxYoungGenerationSizeMb: options.youngGenerationMb } : {}),
        ...(options.oldGenerationMb ? { maxOldGenerationSizeMb: options.oldGenerationMb } : {}),
      },
    });
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (reply: ThreadReply) => {
      const block = 'block' in reply ? reply.block : 'result' in reply ? reply.result.block : undefined;
      if (block) block.release = () => recycle(thread, block.bytes.buffer as ArrayBuffer);
      const waiting = thread.pending.get(reply.id);
      if (waiting?.reply(reply)) forget(thread, reply.id);
    });
    const fail = (error: unknown) => {
      if (threads[slot] === thread) threads[slot] = null;
      const failure =
        (error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new DropgateError('OUT_OF_MEMORY', 'an ingestion thread ran out of its capped heap', {
              cause: error,
            })
          : new DropgateError('INTERNAL', `an ingestion thread stopped: ${String(error)}`, { cause: error });
      for (const waiting of thread.pending.values()) waiting.fail(failure);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(`exit code ${code}`));
    worker.unref();
    threads[slot] = thread;
    return thread;
  };

  /** Hands a published block's event buffer back to the thread that made it, if it still runs. */
  const recycle = (thread: Thread, buffer: ArrayBuffer) => {
    if (closed || !threads.includes(thread) || buffer.byteLength === 0) return;
    thread.worker.postMessage({ kind: 'recycle', buffer } satisfies Recycle, [buffer]);
  };

  const forget = (thread: Thread, id: number) => {
    thread.pending.delete(id);
    // An idle pool does not keep the process alive; a busy one does.
    if (thread.pending.size === 0) thread.worker.unref();
  };

  /**
   * Sends `request` to the thread with the least work, handing over its task's bytes (a buffer of their
   * own) rather than copying them; `waiting` takes the replies.
   */
  function send(
    request: DistributiveOmit<ThreadRequest, 'id'>,
    waiting: (thread: Thread, id: number) => Pending,
  ) {
    if (closed) throw new DropgateError('SHUTTING_DOWN', 'the ingestion pool is closed');
    let slot = 0;
    for (let index = 1; index < size; index++) {
      if ((threads[index]?.pending.size ?? 0) < (threads[slot]?.pending.size ?? 0)) slot = index;
    }
    const thread = threads[slot] ?? start(slot);
    const id = nextId++;
    thread.pending.set(id, waiting(thread, id));
    thread.worker.ref();
    thread.worker.postMessage({ ...request, id } as ThreadRequest, [
      request.task.bytes.buffer as ArrayBuffer,
    ]);
  }

  return {
    size,
    process(plan, task) {
      return new Promise<CsvSegmentResult>((resolve, reject) =>
        send({ kind: 'csv', plan, task }, () => ({
          reply(reply) {
            if ('result' in reply) resolve(reply.result);
            else if ('error' in reply) reject(deserializeError(reply.error));
            return true;
          },
          fail: reject,
        })),
      );
    },
    rowGroupBlocks(plan, task) {
      let stream: BlockStream | undefined;
      send({ kind: 'parquet', plan, task }, (thread, id) => {
        stream = new BlockStream(
          (kind) => thread.worker.postMessage({ id, kind } satisfies StreamControl),
          () => forget(thread, id),
        );
        return stream;
      });
      return stream!;
    },
    async close() {
      closed = true;
      await Promise.all(threads.map((thread) => thread?.worker.terminate()));
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
