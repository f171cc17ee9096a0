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
  RowError,
} from '../adapters/ports.js';
import {
  dataschemaUri,
  defaultDecompressionLimits,
  formatOf,
  type ColumnDrift,
  type DatasetDefinition,
  type FileDrift,
} from '../schemas/dataset.js';
import { driftFound } from './column-mapping.js';
import type { FieldIssue } from '../schemas/row-validator.js';
import { BatchPublisher, publishWithRetries } from './batch-publisher.js';
import { defaultRetry, type RetryOptions, type RetryPolicy } from '../adapters/retry.js';
import { parallelCsvBlocks, type CsvSegmentPool } from './csv/csv-parallel.js';
import { csvRowSource } from './csv/csv-row-source.js';
import { canCutRecords } from './csv/csv-segments.js';
import { decodeText, isUtf8, plainBytes } from './decode.js';
import type { TextDecoding } from './text-decoding.js';
import { parallelParquetBlocks, parquetRowSource, type RowGroupPool } from './parquet/parquet-row-source.js';
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
import { DropgateError, describeError, isDropgateError } from '../adapters/errors.js';
import { EncodedEvents } from './event-batch.js';
import { datasetVersionFor, type CompiledDataset } from './compiled-dataset.js';
import type { FileObserver } from './file-observer.js';
import {
  DEFAULT_BLOCK_SIZE,
  rowBlocks,
  type BlockSize,
  type RowBlock,
  type RowBlockOptions,
} from './row-block.js';

export type { CompiledDataset } from './compiled-dataset.js';

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
  /** Decodes CSV files in encodings other than UTF-8 (Node: iconv-lite; Workers: the runtime's TextDecoder). */
  textDecoding?: TextDecoding;
  /** Parses UTF-8 CSV files in segments, several at once (Node: worker threads). */
  segmentPool?: CsvSegmentPool;
  /** Decodes Parquet row groups, several at once (Node: worker threads). */
  rowGroupPool?: RowGroupPool;
  /** Bytes per CSV segment (default 256 KiB). */
  segmentBytes?: number;
  /** Smaller objects are parsed on the calling thread (default 1 MiB). */
  parallelMinBytes?: number;
  /** Rows and bytes of events per block, the unit of publishing and checkpointing (DEFAULT_BLOCK_SIZE). */
  blockSize?: BlockSize;
}

/**
 * Measured on 2 cores: 128-256 KiB segments ran 10-20% faster than 1 MiB ones. With 3 segments in flight
 * per thread (csv-parallel.ts), 256 KiB ran the 1 GB bench in 25.0-25.4 s against 26.1-26.5 s for 128
 * KiB with 4, at the same peak RSS (232-240 MB): half the segments, half the per-segment work of the
 * main thread (messages, blocks, publishes).
 */
const DEFAULT_SEGMENT_BYTES = 256 << 10;

export interface IngestRequest {
  dataset: CompiledDataset;
  key: string;
  /** The version a notification names; absent to ingest whatever version is current. */
  version?: string;
  mode: 'notification' | 'replay';
  /** Traces the ingestion and reports what metrics need; nothing is traced or reported without one. */
  observer?: FileObserver;
  /**
   * The caller's time budget (a Worker invocation's): once aborted, the attempt starts no further block
   * after its first, lets the blocks in flight become durable, and fails with the abort reason at that
   * checkpoint, so the next attempt goes on from there. Every attempt publishes at least one block.
   */
  budget?: AbortSignal;
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
  firstErrors: RowError[];
  /**
   * How the file's columns differ from the schema, when they do (Parquet files, CSV files with a header),
   * with the rows rescued and values ignored by this attempt (rows a resumed attempt skips are not counted).
   */
  drift?: FileDrift;
  error?: { code: string; message: string; line?: number };
  durationMs: number;
}

export type IngestResult =
  | { status: 'ingested' | 'rejected'; record: FileRecord; summary: FileSummary }
  | { status: 'duplicate' | 'in-progress'; record: FileRecord }
  /** A fault: the ledger's record (when there is one) keeps the checkpoint the next attempt resumes from. */
  | { status: 'failed'; record?: FileRecord; error: DropgateError }
  | { status: 'missing'; key: string }
  | { status: 'superseded'; key: string; version: string; current: string };

const FIRST_ERRORS = 10;

/**
 * Ingests one object version. Never throws: every fault, before or after the claim, comes back as
 * `failed` with a DropgateError whose `retryable` says whether another attempt can help.
 */
export async function ingestFile(deps: IngestDependencies, request: IngestRequest): Promise<IngestResult> {
  try {
    return await ingestClaimed(deps, request);
  } catch (error) {
    return { status: 'failed', error: asFault(error) };
  }
}

async function ingestClaimed(deps: IngestDependencies, request: IngestRequest): Promise<IngestResult> {
  const { store, ledger, owner } = deps;
  const leaseMs = deps.leaseMs ?? 60_000;
  const { key } = request;
  const base = request.dataset;
  const dataset = datasetVersionFor(base, key);
  request = { ...request, dataset };

  const object = await store.stat(key);
  if (!object || (request.version !== undefined && request.version !== object.version)) {
    return closeVanished(deps, request, object);
  }
  const ref = { bucket: object.bucket, key, version: object.version };
  const endClaim = request.observer?.step('claim', { ...ref, dataset: dataset.name });
  let claim;
  try {
    claim = await ledger.claim(ref, { dataset: dataset.name, owner, leaseMs, mode: request.mode });
  } catch (error) {
    endClaim?.({ error });
    throw error;
  }
  endClaim?.({ attributes: { claimed: claim.claimed ? 'yes' : claim.reason } });
  if (!claim.claimed) return { status: claim.reason, record: claim.record };
  request.observer?.claimed(object);
  // A resumed file keeps the version its first rows were stamped with, even if the default moved since.
  const started = claim.record.checkpoint?.schemaVersion;
  if (started !== undefined && started !== dataset.schemaVersion) {
    const resumed = versionToResume(base, started, key);
    if (resumed instanceof DropgateError) {
      const outcome = { state: 'failed' as const, dataset: dataset.name, schemaVersion: started };
      const record = await ledger.finish(ref, owner, {
        ...outcome,
        rowsRead: 0,
        rowsPublished: claim.record.checkpoint!.published,
        rowsRejected: claim.record.checkpoint!.rejected,
        error: { code: resumed.code, message: resumed.message },
      });
      return { status: 'failed', record, error: resumed };
    }
    request = { ...request, dataset: resumed };
  }
  const lease = holdLease(deps, ref, leaseMs);
  try {
    return await ingestUnderLease(deps, request, object, claim.record, lease.signal);
  } finally {
    lease.release();
  }
}

/**
 * The version a resumed file was started with. It may have been retired since (a retirement concerns new
 * files); if it is no longer configured at all, the file cannot go on without mixing versions: it fails
 * until the version is configured again or the file is replayed.
 */
function versionToResume(
  dataset: CompiledDataset,
  version: number,
  key: string,
): CompiledDataset | DropgateError {
  const started = version === dataset.schemaVersion ? dataset : dataset.versions?.get(version);
  if (!started) {
    return new DropgateError(
      'CONFIG_INVALID',
      `${key} was started under version ${version} of dataset ${dataset.name}, which is no longer configured; ` +
        'configure it again to finish the file, or replay the file to start over under the current version',
      { context: { dataset: dataset.name, schemaVersion: version } },
    );
  }
  return started;
}

/**
 * The notified version is gone (deleted, or replaced by a newer upload whose own landing ingests it).
 * A landing recorded for it is closed as rejected, so it does not stay unfinished forever.
 */
async function closeVanished(
  deps: IngestDependencies,
  request: IngestRequest,
  current: ObjectInfo | undefined,
): Promise<IngestResult> {
  const { key, version, dataset } = request;
  if (version === undefined) return { status: 'missing', key };
  const ref = { bucket: deps.store.bucket, key, version };
  const known = await deps.ledger.get(ref);
  if (known && known.state !== 'ingested' && known.state !== 'rejected') {
    const leaseMs = deps.leaseMs ?? 60_000;
    const claim = await deps.ledger.claim(ref, {
      dataset: dataset.name,
      owner: deps.owner,
      leaseMs,
      mode: 'notification',
    });
    if (claim.claimed) {
      // An earlier attempt may have made rows durable before it failed: the outcome keeps them.
      const done = claim.record.checkpoint ?? { row: 0, published: 0, rejected: 0 };
      const when =
        done.row === 0
          ? 'before it was ingested'
          : `after its first ${done.row} rows were published or dead-lettered`;
      const message = current
        ? `version ${version} was replaced by version ${current.version} ${when}; the newer version is ingested on its own`
        : `version ${version} was deleted ${when}`;
      await deps.ledger.finish(ref, deps.owner, {
        ...outcome(dataset, 'rejected', done.row, done),
        error: { code: 'OBJECT_VERSION_GONE', message },
      });
    }
  }
  return current
    ? { status: 'superseded', key, version, current: current.version }
    : { status: 'missing', key };
}

/**
 * Renews the lease every third of its length while the file is ingested, independent of checkpoints.
 * The returned signal aborts when the gateway shuts down or the lease is lost (another owner took it, or
 * no renewal got through for a whole lease length): the attempt then stops at its next block.
 */
function holdLease(
  deps: IngestDependencies,
  ref: { bucket: string; key: string; version: string },
  leaseMs: number,
) {
  const now = deps.now ?? Date.now;
  const controller = new AbortController();
  const abort = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onShutdown = () =>
    abort(
      new DropgateError(
        'SHUTTING_DOWN',
        'the gateway is shutting down; the file resumes from its checkpoint',
      ),
    );
  if (deps.signal?.aborted) onShutdown();
  deps.signal?.addEventListener('abort', onShutdown);
  let renewed = now();
  let renewing = false;
  const timer = setInterval(
    () => {
      if (renewing || controller.signal.aborted) return;
      renewing = true;
      deps.ledger
        .renew(ref, deps.owner, leaseMs)
        .then(() => (renewed = now()))
        .catch((error: unknown) => {
          if (isDropgateError(error, 'LEASE_LOST')) abort(error);
          else if (now() - renewed >= leaseMs) {
            abort(
              new DropgateError(
                'LEDGER_UNAVAILABLE',
                `the lease on ${ref.key} could not be renewed for ${leaseMs} ms: ${describeError(error)}`,
                {
                  cause: error,
                  context: { ...ref },
                },
              ),
            );
          }
        })
        .finally(() => (renewing = false));
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  return {
    signal: controller.signal,
    release() {
      clearInterval(timer);
      deps.signal?.removeEventListener('abort', onShutdown);
    },
  };
}

async function ingestUnderLease(
  deps: IngestDependencies,
  request: IngestRequest,
  object: ObjectInfo,
  claimed: FileRecord,
  signal: AbortSignal,
): Promise<IngestResult> {
  const { store, ledger, owner } = deps;
  const leaseMs = deps.leaseMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const { dataset, key } = request;
  const ref = { bucket: object.bucket, key, version: object.version };
  const claim = { record: claimed };
  const started = now();
  const { observer } = request;
  const file: FileContext = {
    object,
    source: store.source,
    dataset,
    fingerprint: await fileFingerprint(object, dataset),
    ...(observer?.traceparent ? { traceparent: observer.traceparent } : {}),
    ...(observer?.tracestate ? { tracestate: observer.tracestate } : {}),
  };
  const start: Checkpoint = claim.record.checkpoint ?? { row: 0, published: 0, rejected: 0 };
  // Rows up to the checkpoint are only counted this time, so their errors come from the checkpoint.
  const firstErrors: RowError[] = errorsThrough(start.firstErrors ?? [], start.row);
  /** `checkpoint` with the first errors among its rows (blocks read ahead may hold later ones). */
  const withFirstErrors = (checkpoint: Checkpoint): Checkpoint => ({
    ...checkpoint,
    firstErrors: errorsThrough(firstErrors, checkpoint.row),
    schemaVersion: dataset.schemaVersion,
  });
  let rowsRead = 0;
  let lastCheckpoint = now();
  /** The row of the checkpoint the ledger holds: the claim's, then the last one written. */
  let recordedRow = start.row;
  const checkpointIntervalMs = deps.checkpointIntervalMs ?? 1000;
  const publisher = new BatchPublisher({
    sink: deps.sink,
    topic: dataset.topic,
    deadLetterTopic: dataset.deadLetterTopic,
    retry: deps.retry ?? defaultRetry,
    // A shutdown or a lost lease stops waiting out a retry's backoff at once.
    signal,
    start: { row: start.row, published: start.published, rejected: start.rejected },
    onDurable: async (checkpoint) => {
      deps.onProgress?.({ rowsRead, rowsPublished: checkpoint.published, rowsRejected: checkpoint.rejected });
      // A crash re-publishes at most the rows since the last checkpoint, with the same ids.
      if (now() - lastCheckpoint < checkpointIntervalMs) return;
      lastCheckpoint = now();
      await ledger.checkpoint(ref, owner, withFirstErrors(checkpoint), leaseMs);
      recordedRow = checkpoint.row;
    },
    eventId: (row) => rowEventId(file, row),
    eventAttributes: rowEventAttributes(file),
    deadLetter: (rejection) => rejectionEvent(file, rejection),
    ...(observer ? { observer } : {}),
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
    ...(drift ? { drift: { ...drift, rowsRescued, valuesIgnored } } : {}),
    ...(error ? { error } : {}),
    durationMs: now() - started,
  });

  let drift: ColumnDrift | undefined;
  let rowsRescued = 0;
  let valuesIgnored = 0;
  let fault: DropgateError | undefined;
  let summary: FileSummary;
  const endRead = observer?.step('read', { ...ref, dataset: dataset.name, fromRow: start.row });
  try {
    if (dataset.refused) {
      throw new DropgateError('SCHEMA_VERSION_REFUSED', dataset.refused, {
        context: { dataset: dataset.name, schemaVersion: dataset.schemaVersion },
      });
    }
    const blocks = await openBlocks(deps, object, dataset, {
      head: rowEventHead(file),
      ...(typeof dataset.partitionKey === 'object' ? { partitionColumn: dataset.partitionKey.column } : {}),
      validate: dataset.validate,
      skipThrough: start.row,
      startRow: 0,
      onDrift: (found) => {
        drift = driftFound(found) ? found : undefined;
      },
    });
    let started = false;
    for await (const block of blocks) {
      if (signal.aborted) throw signal.reason;
      if (request.budget) {
        // Blocks parsed ahead may follow each other without waiting on I/O: give the budget's timer a turn.
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (request.budget.aborted && started) throw request.budget.reason;
      }
      // Blocks of rows a resumed attempt only skips are no progress.
      if (block.lastRow > start.row) started = true;
      rowsRead += block.rowsRead;
      rowsRescued += block.rowsRescued;
      valuesIgnored += block.valuesIgnored;
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
  endRead?.({ ...(fault ? { error: fault } : {}), attributes: { rows: rowsRead } });

  const endFinish = observer?.step('finish', { ...ref, dataset: dataset.name });
  if (!fault) {
    try {
      // The ledger records every row as durable, under this attempt's lease, before the file is announced:
      // an attempt that cannot reach the ledger (or lost its lease) announces nothing, and if the outcome
      // is lost after the summary went out, the next attempt resumes at the end and only sends it again.
      const end = publisher.checkpoint;
      if (end.row !== recordedRow) await ledger.checkpoint(ref, owner, withFirstErrors(end), leaseMs);
      await publishSummary(deps.sink, deps.controlTopic, file, summary!, {
        ...(deps.retry ?? defaultRetry),
        ...(observer ? { onRetry: (error: unknown) => observer.retried(deps.controlTopic, error) } : {}),
      });
    } catch (error) {
      // Every row is durable: recorded so below (when the ledger answers), the next attempt resumes at the
      // end and only sends the summary.
      fault = asFault(error);
    }
  }

  if (fault) {
    // Keep every row that did become durable, so the next attempt resumes after it.
    const checkpoint = await publisher.settle();
    const record = await ledger
      .checkpoint(ref, owner, withFirstErrors(checkpoint), leaseMs)
      .then(() => ledger.finish(ref, owner, outcome(dataset, 'failed', rowsRead, checkpoint, fault)))
      .catch(async () => (await ledger.get(ref))!);
    endFinish?.({ error: fault, attributes: { state: 'failed' } });
    return { status: 'failed', record, error: fault };
  }
  const done = summary!;
  const record = await ledger
    .finish(
      ref,
      owner,
      outcome(
        dataset,
        done.state,
        rowsRead,
        {
          row: 0,
          published: done.rowsPublished,
          rejected: done.rowsRejected,
          firstErrors: done.firstErrors,
        },
        done.error,
      ),
    )
    .catch((error: unknown) => {
      endFinish?.({ error });
      throw error;
    });
  endFinish?.({ attributes: { state: done.state, rows: done.rowsRead } });
  return { status: done.state, record, summary: done };
}

async function openBlocks(
  deps: IngestDependencies,
  object: ObjectInfo,
  dataset: CompiledDataset,
  { onDrift, ...options }: Omit<RowBlockOptions, 'renderRaw'> & { onDrift: (drift: ColumnDrift) => void },
): Promise<AsyncIterable<RowBlock>> {
  const { store } = deps;
  const blockSize = deps.blockSize ?? DEFAULT_BLOCK_SIZE;
  const format = formatOf(dataset, object.key);
  const partitionColumn =
    options.partitionColumn !== undefined ? { partitionColumn: options.partitionColumn } : {};
  if (format === 'parquet') {
    // The dataset's drift rules (config drift, headers, aliases) travel in its CSV options.
    const columns = dataset.csv.columns ? { columns: dataset.csv.columns } : {};
    if (deps.rowGroupPool) {
      return parallelParquetBlocks(store, object, deps.rowGroupPool, {
        schema: dataset.schema,
        schemaName: dataschemaUri(dataset),
        head: options.head,
        ...partitionColumn,
        skipThrough: options.skipThrough,
        blockSize,
        validate: options.validate,
        ...columns,
        onDrift,
      });
    }
    const source = await parquetRowSource(store, object, dataset.schema, { ...columns, onDrift });
    return rowBlocks(source, blockSize, options);
  }
  if (format !== 'csv') {
    throw new DropgateError(
      'FILE_UNREADABLE',
      `cannot tell the format of ${object.key}: name it .csv, .csv.gz or .parquet, or set the dataset's format`,
    );
  }
  const plain = await plainBytes(await store.read(object.key, object.version), {
    expectGzip: object.key.toLowerCase().endsWith('.gz') || object.contentEncoding === 'gzip',
    limits: { ...(dataset.decompression ?? defaultDecompressionLimits), compressedBytes: object.size },
  });
  const { csv } = dataset;
  const pool = deps.segmentPool;
  if (
    pool &&
    isUtf8(csv.encoding) &&
    canCutRecords(csv) &&
    object.size >= (deps.parallelMinBytes ?? 1 << 20)
  ) {
    return parallelCsvBlocks(plain, pool, {
      schema: dataset.schema,
      schemaName: dataschemaUri(dataset),
      csv,
      head: options.head,
      ...partitionColumn,
      skipThrough: options.skipThrough,
      segmentBytes: deps.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      blocksOf: (source) => rowBlocks(source, blockSize, options),
      onDrift,
    });
  }
  const text = decodeText(plain, csv.encoding, deps.textDecoding);
  return rowBlocks(csvRowSource(text, dataset.schema, { ...csv, onDrift }), blockSize, options);
}

async function publishSummary(
  sink: EventSink,
  topic: string,
  file: FileContext,
  summary: FileSummary,
  retry: RetryOptions,
): Promise<void> {
  const type = summary.state === 'ingested' ? 'FileIngested' : 'FileRejected';
  const event: OutgoingEvent = fileSummaryEvent(file, type, summary.replay, { ...summary });
  const [refused] = await publishWithRetries(sink, topic, EncodedEvents.of([event]), retry);
  if (refused) {
    throw new DropgateError('PUBLISH_REFUSED', `${topic} refused the file summary: ${refused.reason}`);
  }
}

/** The errors of rows up to and including `row`. */
const errorsThrough = (errors: RowError[], row: number) => errors.filter((error) => error.row <= row);

function noteFirstErrors(firstErrors: RowError[], rejection: Rejection): void {
  for (const issue of rejection.issues as FieldIssue[]) {
    if (firstErrors.length >= FIRST_ERRORS) return;
    firstErrors.push({ row: rejection.row, line: rejection.line, field: issue.field, reason: issue.reason });
  }
}

/** Problems with the file itself: retrying cannot help, the file is rejected. */
function isFileProblem(error: unknown): error is DropgateError {
  return (
    isDropgateError(error, 'FILE_UNREADABLE') ||
    isDropgateError(error, 'OBJECT_VERSION_GONE') ||
    isDropgateError(error, 'SCHEMA_VERSION_REFUSED')
  );
}

function asFault(error: unknown): DropgateError {
  if (error instanceof DropgateError) return error;
  return new DropgateError('INTERNAL', describeError(error), { cause: error });
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
    // A failed attempt's checkpoint keeps its first errors; a finished file's outcome is all that is left.
    ...(state !== 'failed' && checkpoint.firstErrors ? { firstErrors: checkpoint.firstErrors } : {}),
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}
