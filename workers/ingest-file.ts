/**
 * Ingests one object version: claim it in the ledger, stream and parse it, validate each row, publish
 * events and dead letters in batches with checkpoints, then publish a file summary and record the outcome.
 */
import type {
  Checkpoint,
  EventSink,
  FileOutcome,
  FileRecord,
  Ledger,
  ObjectInfo,
  ObjectStore,
  OutgoingEvent,
  SinkLimits,
} from '../adapters/ports.js';
import { formatOf, type DatasetDefinition } from '../schemas/dataset.js';
import type { FieldIssue, RowValidator } from '../schemas/row-validator.js';
import { BatchPublisher, defaultRetry, type RetryPolicy } from './batch-publisher.js';
import { csvRowSource } from './csv/csv-row-source.js';
import { decodeToText } from './decode.js';
import { parquetRowSource } from './parquet/parquet-row-source.js';
import {
  fileFingerprint,
  fileSummaryEvent,
  rejectionEvent,
  rowEventAttributes,
  rowEventHead,
  rowEventId,
  type FileContext,
  type Rejection,
} from './envelope.js';
import { DropgateError, describeError, isDropgateError } from './errors.js';
import { EncodedEvents } from './event-batch.js';
import { RowBlockBuilder, type RowBlock, type RowBlockOptions } from './row-block.js';
import type { RowSource } from './rows.js';

export interface CompiledDataset extends DatasetDefinition {
  validate: RowValidator;
}

export interface Progress {
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
}

export interface IngestDependencies {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  /** Topic of `FileIngested` / `FileRejected` summaries. */
  controlTopic: string;
  /** Names this worker in the ledger's leases. */
  owner: string;
  leaseMs?: number;
  /** Least time between two checkpoints written to the ledger (each batch is checkpointed when 0). */
  checkpointIntervalMs?: number;
  retry?: RetryPolicy;
  now?: () => number;
  onProgress?: (progress: Progress) => void;
  /** Aborted when the process is shutting down: the attempt stops at a batch boundary, resumable. */
  signal?: AbortSignal;
}

export interface IngestRequest {
  dataset: CompiledDataset;
  key: string;
  /** The version a notification names; absent to ingest whatever version is current. */
  version?: string;
  mode: 'notification' | 'replay';
}

export interface FileSummary extends Progress {
  dataset: string;
  schemaVersion: number;
  bucket: string;
  objectKey: string;
  objectVersion: string;
  state: 'ingested' | 'rejected';
  replay: number;
  attempt: number;
  resumedFromRow: number;
  firstErrors: Array<{ row: number; line: number; field: string; reason: string }>;
  error?: { code: string; message: string; line?: number };
  durationMs: number;
}

export type IngestResult =
  | { status: 'ingested' | 'rejected'; record: FileRecord; summary: FileSummary }
  | { status: 'duplicate' | 'in-progress'; record: FileRecord }
  | { status: 'failed'; record: FileRecord; error: DropgateError }
  | { status: 'missing'; key: string }
  | { status: 'superseded'; key: string; version: string; current: string };

const FIRST_ERRORS = 10;

export async function ingestFile(deps: IngestDependencies, request: IngestRequest): Promise<IngestResult> {
  const { store, ledger, owner } = deps;
  const leaseMs = deps.leaseMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const { dataset, key } = request;

  const object = await store.stat(key);
  if (!object) return { status: 'missing', key };
  if (request.version !== undefined && request.version !== object.version) {
    // A newer upload replaced the notified version; its own notification ingests the newer content.
    return { status: 'superseded', key, version: request.version, current: object.version };
  }
  const ref = { bucket: object.bucket, key, version: object.version };
  const claim = await ledger.claim(ref, { dataset: dataset.name, owner, leaseMs, mode: request.mode });
  if (!claim.claimed) return { status: claim.reason, record: claim.record };

  const started = now();
  const file: FileContext = {
    object,
    source: store.source,
    dataset,
    fingerprint: await fileFingerprint(object, dataset),
  };
  const start: Checkpoint = claim.record.checkpoint ?? { row: 0, published: 0, rejected: 0 };
  const firstErrors: FileSummary['firstErrors'] = [];
  let rowsRead = 0;
  let lastCheckpoint = now();
  const checkpointIntervalMs = deps.checkpointIntervalMs ?? 1000;
  const publisher = new BatchPublisher({
    sink: deps.sink,
    topic: dataset.topic,
    deadLetterTopic: dataset.deadLetterTopic,
    retry: deps.retry ?? defaultRetry,
    start,
    onDurable: async (checkpoint) => {
      deps.onProgress?.({ rowsRead, rowsPublished: checkpoint.published, rowsRejected: checkpoint.rejected });
      // A crash re-publishes at most the rows since the last checkpoint, with the same ids.
      if (now() - lastCheckpoint < checkpointIntervalMs) return;
      lastCheckpoint = now();
      await ledger.checkpoint(ref, owner, checkpoint, leaseMs);
    },
    eventId: (row) => rowEventId(file, row),
    eventAttributes: rowEventAttributes(file),
    deadLetter: (rejection) => rejectionEvent(file, rejection),
  });

  const summarize = (checkpoint: Checkpoint, state: FileSummary['state'], error?: FileSummary['error']) => ({
    dataset: dataset.name,
    schemaVersion: dataset.schemaVersion,
    bucket: object.bucket,
    objectKey: key,
    objectVersion: object.version,
    state,
    rowsRead,
    rowsPublished: checkpoint.published,
    rowsRejected: checkpoint.rejected,
    replay: claim.record.replays,
    attempt: claim.record.attempts,
    resumedFromRow: start.row,
    firstErrors,
    ...(error ? { error } : {}),
    durationMs: now() - started,
  });

  let fault: DropgateError | undefined;
  let summary: FileSummary;
  try {
    const source = await openRows(store, object, dataset);
    const blocks = blocksOf(source, deps.sink.limits, {
      head: rowEventHead(file),
      validate: dataset.validate,
      renderRaw: source.renderRaw,
      skipThrough: start.row,
      startRow: 0,
    });
    for await (const block of blocks) {
      if (deps.signal?.aborted) {
        throw new DropgateError(
          'SHUTTING_DOWN',
          'the gateway is shutting down; the file resumes from its checkpoint',
          { retryable: true },
        );
      }
      rowsRead += block.rowsRead;
      for (const rejection of block.rejections) noteFirstErrors(firstErrors, rejection);
      // Blocks go out in the background: only a full window makes the parser wait.
      await publisher.add(block);
    }
    summary = summarize(await publisher.drain(), 'ingested');
  } catch (error) {
    if (!isFileProblem(error)) {
      fault = asFault(error);
    } else {
      // Rows before the problem stay published; the summary says exactly where the file stopped.
      try {
        const checkpoint = await publisher.drain();
        const line = typeof error.context.line === 'number' ? error.context.line : undefined;
        summary = summarize(checkpoint, 'rejected', { code: error.code, message: error.message, line });
      } catch (drainError) {
        fault = asFault(drainError);
      }
    }
  }

  if (!fault) {
    try {
      await publishSummary(deps.sink, deps.controlTopic, file, summary!, deps.retry ?? defaultRetry);
    } catch (error) {
      // Every row is durable; the next attempt resumes at the end and only sends the summary.
      fault = asFault(error);
    }
  }

  if (fault) {
    // Keep every row that did become durable, so the next attempt resumes after it.
    const checkpoint = await publisher.settle();
    const record = await ledger
      .checkpoint(ref, owner, checkpoint, leaseMs)
      .then(() => ledger.finish(ref, owner, outcome(dataset, 'failed', rowsRead, checkpoint, fault)))
      .catch(async () => (await ledger.get(ref))!);
    return { status: 'failed', record, error: fault };
  }
  const done = summary!;
  const record = await ledger.finish(
    ref,
    owner,
    outcome(
      dataset,
      done.state,
      rowsRead,
      { row: 0, published: done.rowsPublished, rejected: done.rowsRejected },
      done.error,
    ),
  );
  return { status: done.state, record, summary: done };
}

/**
 * A row source's rows as blocks of at most `maxBatchEvents` rows, so a block's events fit one publish
 * call of the sink as the rows come in.
 */
async function* blocksOf(
  source: RowSource,
  limits: SinkLimits,
  options: RowBlockOptions,
): AsyncGenerator<RowBlock> {
  const builder = new RowBlockBuilder(options);
  let pending = 0;
  try {
    for await (const rows of source.rows) {
      for (let from = 0; from < rows.length;) {
        const to = Math.min(rows.length, from + limits.maxBatchEvents - pending);
        builder.add(from === 0 && to === rows.length ? rows : rows.slice(from, to));
        pending += to - from;
        from = to;
        if (pending >= limits.maxBatchEvents || builder.size >= limits.maxBatchBytes) {
          yield builder.take();
          pending = 0;
        }
      }
    }
  } catch (error) {
    // The rows before a problem are published all the same; the summary says where the file stopped.
    if (pending > 0) yield builder.take();
    throw error;
  }
  if (pending > 0) yield builder.take();
}

async function openRows(
  store: ObjectStore,
  object: ObjectInfo,
  dataset: DatasetDefinition,
): Promise<RowSource> {
  const format = formatOf(dataset, object.key);
  if (format === 'parquet') return parquetRowSource(store, object, dataset.schema);
  if (format !== 'csv') {
    throw new DropgateError(
      'FILE_UNREADABLE',
      `cannot tell the format of ${object.key}: name it .csv, .csv.gz or .parquet, or set the dataset's format`,
    );
  }
  const bytes = await store.read(object.key, object.version);
  const text = await decodeToText(bytes, {
    encoding: dataset.csv.encoding,
    expectGzip: object.key.toLowerCase().endsWith('.gz') || object.contentEncoding === 'gzip',
  });
  return csvRowSource(text, dataset.schema, dataset.csv);
}

async function publishSummary(
  sink: EventSink,
  topic: string,
  file: FileContext,
  summary: FileSummary,
  retry: RetryPolicy,
): Promise<void> {
  const type = summary.state === 'ingested' ? 'FileIngested' : 'FileRejected';
  const event: OutgoingEvent = fileSummaryEvent(file, type, summary.replay, { ...summary });
  for (let attempt = 1; ; attempt++) {
    try {
      const { failed } = await sink.publish(topic, EncodedEvents.of([event]));
      if (failed.length === 0) return;
      if (!failed[0]!.retryable || attempt >= retry.attempts) throw new Error(failed[0]!.message);
    } catch (error) {
      if (attempt >= retry.attempts) {
        throw new DropgateError(
          'PUBLISH_FAILED',
          `publishing the file summary to ${topic} failed: ${describeError(error)}`,
          {
            retryable: true,
            cause: error,
          },
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, retry.baseDelayMs * 2 ** (attempt - 1)));
  }
}

function noteFirstErrors(firstErrors: FileSummary['firstErrors'], rejection: Rejection): void {
  for (const issue of rejection.issues as FieldIssue[]) {
    if (firstErrors.length >= FIRST_ERRORS) return;
    firstErrors.push({ row: rejection.row, line: rejection.line, field: issue.field, reason: issue.reason });
  }
}

/** Problems with the file itself: retrying cannot help, the file is rejected. */
function isFileProblem(error: unknown): error is DropgateError {
  return isDropgateError(error, 'FILE_UNREADABLE') || isDropgateError(error, 'OBJECT_VERSION_GONE');
}

function asFault(error: unknown): DropgateError {
  if (error instanceof DropgateError) return error;
  return new DropgateError('INTERNAL', describeError(error), { retryable: true, cause: error });
}

function outcome(
  dataset: DatasetDefinition,
  state: FileOutcome['state'],
  rowsRead: number,
  checkpoint: Checkpoint,
  error?: { code: string; message: string },
): FileOutcome {
  return {
    state,
    dataset: dataset.name,
    schemaVersion: dataset.schemaVersion,
    rowsRead,
    rowsPublished: checkpoint.published,
    rowsRejected: checkpoint.rejected,
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}
