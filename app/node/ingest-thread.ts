/**
 * A worker thread of the ingestion pool (ingest-threads.ts): parses, validates and serializes the CSV
 * segments and Parquet row groups it is sent, and sends each row block back with its buffers transferred,
 * not copied. A row group's blocks are sent as they are made, at most STREAM_CREDIT blocks ahead of what
 * the pool has handed on; the pool sends `more` for each block it hands on, `cancel` to stop.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createAjvValidatorFactory, type RowValidator } from '../../schemas/row-validator.js';
import type { RowSchema } from '../../schemas/dataset.js';
import {
  processCsvSegment,
  type CsvSegmentPlan,
  type CsvSegmentResult,
  type CsvSegmentTask,
} from '../../workers/csv/csv-parallel.js';
import { serializeError, type SerializedError } from '../../adapters/errors.js';
import {
  rowGroupBlocks,
  type RowGroupPlan,
  type RowGroupTask,
} from '../../workers/parquet/parquet-row-source.js';
import { BufferPool } from '../../workers/event-bytes.js';
import type { RowBlock } from '../../workers/row-block.js';

export type ThreadRequest =
  | { id: number; kind: 'csv'; plan: CsvSegmentPlan; task: CsvSegmentTask }
  | { id: number; kind: 'parquet'; plan: RowGroupPlan; task: RowGroupTask };

/** Flow control of a row group's stream of blocks. */
export type StreamControl = { id: number; kind: 'more' } | { id: number; kind: 'cancel' };

/** The event buffer of a block that is published, handed back for the thread's next blocks. */
export interface Recycle {
  kind: 'recycle';
  buffer: ArrayBuffer;
}

export type ThreadReply =
  | { id: number; result: CsvSegmentResult }
  | { id: number; block: RowBlock }
  | { id: number; done: true }
  | { id: number; error: SerializedError };

/** What the pool tells a thread when it starts it. */
export interface ThreadSettings {
  /** The thread's scheduling niceness (Linux; elsewhere the thread keeps the process's). */
  niceness: number;
}

/**
 * Lowers this thread's scheduling priority, so the main thread, which reads, cuts, publishes and serves
 * HTTP, runs as soon as it has work instead of waiting for a thread's time slice. On Linux a thread is a
 * task of its own, named by /proc/thread-self, and setpriority() takes its id.
 */
function lowerPriority(settings: ThreadSettings | undefined): void {
  if (!settings) return;
  const { niceness } = settings;
  try {
    const task = Number(readlinkSync('/proc/thread-self').split('/').pop());
    // Only ever lower it: raising a priority needs a privilege, and a process may already run niced.
    if (Number.isSafeInteger(task) && task > 0 && getPriority(task) < niceness) setPriority(task, niceness);
  } catch {
    // No /proc/thread-self (not Linux): the thread keeps the process's priority.
  }
}

lowerPriority(workerData as ThreadSettings | undefined);

const compile = createAjvValidatorFactory();
const validators = new Map<string, RowValidator>();

function validatorFor(plan: { schema: RowSchema; schemaName: string }): RowValidator {
  const key = `${plan.schemaName}\n${JSON.stringify(plan.schema)}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = compile(plan.schema, plan.schemaName);
    validators.set(key, validate);
  }
  return validate;
}

/** Event buffers of published blocks, which the pool hands back (`recycle`). */
const buffers = new BufferPool();
const allocate = buffers.allocate;

const buffersOf = (blocks: RowBlock[]) =>
  blocks.flatMap(
    ({ bytes, ends, rows, lines }) => [bytes.buffer, ends.buffer, rows.buffer, lines.buffer] as ArrayBuffer[],
  );

/**
 * Blocks a stream may send before the pool hands one on. A row group's blocks hold at most 1 MiB of
 * events (rowGroupBlocks), so 6 of them keep the publisher's 4 in flight fed while holding ~6 MB ahead;
 * on the bench, 2 blocks of 1 MiB left the thread waiting (15.3 s against 13.8 s with two threads).
 */
export const STREAM_CREDIT = 6;

interface Stream {
  credit: number;
  cancelled: boolean;
  wake?: () => void;
}

const streams = new Map<number, Stream>();

async function streamRowGroup(id: number, plan: RowGroupPlan, task: RowGroupTask): Promise<void> {
  const stream: Stream = { credit: STREAM_CREDIT, cancelled: false };
  streams.set(id, stream);
  try {
    for await (const block of rowGroupBlocks(plan, task, validatorFor(plan), allocate)) {
      while (stream.credit === 0 && !stream.cancelled) {
        await new Promise<void>((resolve) => (stream.wake = resolve));
      }
      if (stream.cancelled) return;
      stream.credit -= 1;
      parentPort!.postMessage({ id, block } satisfies ThreadReply, buffersOf([block]));
    }
    parentPort!.postMessage({ id, done: true } satisfies ThreadReply);
  } finally {
    streams.delete(id);
  }
}

parentPort!.on('message', async (request: ThreadRequest | StreamControl | Recycle) => {
  if (request.kind === 'recycle') {
    buffers.recycle(request.buffer);
    return;
  }
  const { id } = request;
  if (request.kind === 'more' || request.kind === 'cancel') {
    const stream = streams.get(id);
    if (!stream) return;
    if (request.kind === 'more') stream.credit += 1;
    else stream.cancelled = true;
    stream.wake?.();
    return;
  }
  try {
    if (request.kind === 'csv') {
      const result = await processCsvSegment(
        request.plan,
        request.task,
        validatorFor(request.plan),
        allocate,
      );
      parentPort!.postMessage({ id, result } satisfies ThreadReply, buffersOf([result.block]));
    } else {
      await streamRowGroup(id, request.plan, request.task);
    }
  } catch (error) {
    parentPort!.postMessage({ id, error: serializeError(error) } satisfies ThreadReply);
  }
});
