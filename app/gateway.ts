/**
 * The gateway's use cases, independent of HTTP and of the runtime: issue upload URLs, record and ingest
 * landed objects, replay, report file state, resume what a stop or a crash left unfinished.
 */
import { SpanStatusCode, type Context } from '@opentelemetry/api';
import picomatch from 'picomatch/posix.js';
import type {
  EventSink,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
  IntakeMode,
  IntakeResult,
  Landing,
  LandingOutcome,
  Ledger,
  ObjectInfo,
  ObjectStore,
  SignedUpload,
} from '../adapters/ports.js';
import { formatByExtension } from '../schemas/dataset.js';
import { DropgateError, ERROR_CODES, isRetryableCode, type ErrorCode } from '../adapters/errors.js';
import {
  ingestFile,
  type CompiledDataset,
  type FileSummary,
  type IngestDependencies,
  type IngestResult,
} from '../workers/ingest-file.js';
import { versionRefusal } from '../workers/compiled-dataset.js';
import { backfill, type BackfillRequest, type BackfillResult } from './backfill.js';
import { replayListing, type ReplayListingRequest, type ReplayListingResult } from './replay-listing.js';
import { createBackgroundIngestion } from './background-ingestion.js';
import { fileObserver, withSpan } from './ingest-tracing.js';
import type { LogContext, Logger } from './logger.js';
import { meteredSink } from './metered-sink.js';
import { noMetrics, type GatewayMetrics } from './metrics.js';

export interface UploadRequest {
  dataset: string;
  filename: string;
  contentType?: string;
  size?: number;
  /** The schema version the file is written for: its key gets a `v<N>` folder. */
  schemaVersion?: number;
}

export interface GatewayOptions {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  datasets: CompiledDataset[];
  controlTopic: string;
  owner: string;
  uploads: { maxBytes: number; expiresInSeconds: number };
  /** Background ingestions at once (default 2), and how often a retryable fault is retried in-process. */
  background?: { concurrency?: number; maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  logger: Logger;
  /**
   * Where the runtime keeps per-task log fields: a background ingestion logs under its file's key and
   * version, not under the request that happened to wake the queue.
   */
  logContext?: LogContext;
  /** What the gateway measures (files, rows, durations, publishes, lag); nothing when absent. */
  metrics?: GatewayMetrics;
  ingest?: Partial<
    Pick<
      IngestDependencies,
      | 'leaseMs'
      | 'retry'
      | 'onProgress'
      | 'checkpointIntervalMs'
      | 'signal'
      | 'textDecoding'
      | 'segmentPool'
      | 'rowGroupPool'
    >
  >;
}

const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Notification spans kept for versions waiting in the background queue; past this, new ones start a trace. */
const MAX_WAITING_TRACES = 10_000;

export type Gateway = ReturnType<typeof createGateway>;

export function createGateway(options: GatewayOptions) {
  const { store, ledger, datasets, logger } = options;
  const metrics = options.metrics ?? noMetrics;
  const matchers = datasets.map((dataset) => ({ dataset, matches: picomatch(dataset.match, { dot: true }) }));
  const dependencies: IngestDependencies = {
    store,
    sink: options.metrics ? meteredSink(options.sink, metrics) : options.sink,
    ledger,
    controlTopic: options.controlTopic,
    owner: options.owner,
    ...options.ingest,
  };

  /** Every prefix an after-processing action moves objects under, with the dataset that moves them there. */
  const movedUnder = datasets.flatMap((dataset) =>
    [dataset.afterIngest, dataset.onRejected].flatMap((action) =>
      action?.action === 'move' ? [{ prefix: action.prefix, dataset: dataset.name }] : [],
    ),
  );
  const movedPrefixOf = (key: string) => movedUnder.find(({ prefix }) => key.startsWith(prefix));

  /**
   * The first dataset, in config order, whose glob matches the key. A key under an archive or quarantine
   * prefix matches none: an object moved there is never ingested again, whatever the globs say.
   */
  const datasetForKey = (key: string) =>
    movedPrefixOf(key) ? undefined : matchers.find(({ matches }) => matches(key))?.dataset;

  /**
   * Runs the dataset's after-processing action on a file whose outcome the ledger has recorded, so its
   * events are durable. A failed action leaves the record as it is (ingested, rejected): it is logged and
   * counted (`dropgate_after_processing_actions_total{outcome="failed"}`), and runs again when the file
   * is replayed.
   */
  async function afterProcessing(dataset: CompiledDataset, result: IngestResult): Promise<void> {
    if (result.status !== 'ingested' && result.status !== 'rejected') return;
    const action = result.status === 'ingested' ? dataset.afterIngest : dataset.onRejected;
    if (!action || action.action === 'keep') return;
    const { objectKey: key, objectVersion: version } = result.summary;
    const fields = { key, version, dataset: dataset.name, state: result.status, action: action.action };
    try {
      if (action.action === 'move') {
        const moved = await store.copy(key, version, action.prefix + key);
        await store.delete(key, version);
        logger.info('file moved after processing', { ...fields, to: moved.key });
      } else {
        await store.delete(key, version);
        logger.info('file deleted after processing', fields);
      }
      metrics.afterProcessing(dataset.name, action.action, 'done');
    } catch (error) {
      metrics.afterProcessing(dataset.name, action.action, 'failed');
      logger.warn('after-processing action failed', {
        ...fields,
        error: (error as Error).message,
        code: (error as DropgateError).code,
      });
    }
  }

  const datasetNamed = (name: string) => {
    const dataset = datasets.find((candidate) => candidate.name === name);
    if (!dataset)
      throw new DropgateError('DATASET_UNKNOWN', `no dataset named "${name}"`, {
        context: { dataset: name },
      });
    return dataset;
  };

  async function ingest(
    key: string,
    mode: 'notification' | 'replay',
    version?: string,
    parent?: Context,
    budget?: AbortSignal,
  ): Promise<IngestResult> {
    const dataset = datasetForKey(key);
    if (!dataset) {
      throw new DropgateError('NO_DATASET_MATCHES', `no dataset's match pattern covers ${key}`, {
        context: { key },
      });
    }
    const attributes = {
      bucket: store.bucket,
      key,
      dataset: dataset.name,
      mode,
      ...(version ? { version } : {}),
    };
    return withSpan('dropgate.ingest', attributes, parent, async (span, spanContext) => {
      let object: ObjectInfo | undefined;
      const observer = fileObserver(span, spanContext, {
        claimed(claimed) {
          object = claimed;
          if (mode === 'notification')
            metrics.ingestLag(dataset.name, (Date.now() - Date.parse(claimed.updated)) / 1000 || 0);
        },
        retried: (topic) => metrics.publishRetried(topic),
      });
      metrics.inFlight(1);
      const result = await ingestFile(dependencies, {
        dataset,
        key,
        mode,
        ...(version ? { version } : {}),
        ...(budget ? { budget } : {}),
        observer,
      }).finally(() => metrics.inFlight(-1));
      metrics.fileDone(
        dataset.name,
        result.status,
        'summary' in result
          ? {
              ...counts(result.summary),
              bytesRead: object?.size ?? 0,
              durationSeconds: result.summary.durationMs / 1000,
            }
          : undefined,
      );
      span.setAttribute('dropgate.state', result.status);
      if (object) span.setAttribute('dropgate.version', object.version);
      if ('summary' in result) span.setAttribute('dropgate.rows', result.summary.rowsRead);
      if (result.status === 'failed')
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.message });
      if (result.status === 'failed' && result.error.code === 'LEASE_LOST') metrics.leaseLost();
      const fields = { key, version, mode, dataset: dataset.name, status: result.status };
      if (result.status === 'failed')
        logger.warn('ingestion failed', { ...fields, error: result.error.message, code: result.error.code });
      else if ('summary' in result) logger.info('file finished', { ...fields, ...counts(result.summary) });
      else logger.info('file skipped', fields);
      await afterProcessing(dataset, result);
      return result;
    });
  }

  /** The notification span of each version waiting in the background queue, by `key\nversion`. */
  const waitingTraces = new Map<string, Context>();
  const traceKey = (ref: { key: string; version: string }) => `${ref.key}\n${ref.version}`;

  /** Where the dataset's after-processing put `key`, if an object is there. */
  async function movedTo(dataset: CompiledDataset, key: string): Promise<string | undefined> {
    for (const action of [dataset.afterIngest, dataset.onRejected]) {
      if (action?.action !== 'move') continue;
      if (await store.stat(action.prefix + key)) return action.prefix + key;
    }
    return undefined;
  }

  const background = createBackgroundIngestion({
    concurrency: options.background?.concurrency ?? 2,
    maxAttempts: options.background?.maxAttempts ?? 8,
    baseDelayMs: options.background?.baseDelayMs ?? 1000,
    maxDelayMs: options.background?.maxDelayMs ?? 5 * 60_000,
    run: async (ref) => {
      const parent = waitingTraces.get(traceKey(ref));
      waitingTraces.delete(traceKey(ref));
      const attempt = () => ingest(ref.key, 'notification', ref.version, parent);
      const fields = { key: ref.key, version: ref.version };
      const result = await (options.logContext ? options.logContext.run(fields, attempt) : attempt());
      return result.status === 'failed' && result.error.retryable ? 'retry' : 'done';
    },
    onError: (ref, error) =>
      logger.error('background ingestion crashed', {
        ...ref,
        error: (error as Error).stack ?? String(error),
      }),
  });

  /**
   * Whether a landing of `ref`, a version the store has replaced by `currentVersion`, arrives after the
   * newer version was recorded and is unknown itself (notifications delivered out of order: generation 2
   * before 1). Recording it would make the old version the key's latest record, over the newer one; it is
   * never ingested either way (an ingest of a replaced version closes it as superseded). A replaced
   * version the ledger already holds still goes through, so its unfinished record is closed.
   */
  async function recordedAfter(ref: FileVersionRef, currentVersion: string): Promise<boolean> {
    const [latest, known] = await Promise.all([ledger.latest(ref.bucket, ref.key), ledger.get(ref)]);
    return known === undefined && latest?.version === currentVersion;
  }

  /** Records one landing in the ledger, then ingests it now (`inline`) or in the background. */
  function land(landing: Landing, mode: IntakeMode, budget?: AbortSignal): Promise<LandingOutcome> {
    const attributes = {
      bucket: landing.bucket,
      key: landing.key,
      via: landing.via,
      ...(landing.version ? { version: landing.version } : {}),
    };
    return withSpan('dropgate.notification', attributes, undefined, async (span, spanContext) => {
      const outcome = await landTraced(landing, mode, spanContext, budget);
      span.setAttribute('dropgate.outcome', outcome.status);
      return outcome;
    });
  }

  async function landTraced(
    landing: Landing,
    mode: IntakeMode,
    trace: Context,
    budget?: AbortSignal,
  ): Promise<LandingOutcome> {
    const fields = { bucket: landing.bucket, key: landing.key, version: landing.version, via: landing.via };
    const ignored = (reason: string): LandingOutcome => {
      logger.info('landing ignored', { ...fields, reason });
      return { landing, status: 'ignored', ack: true, reason };
    };
    if (landing.eventTime) {
      metrics.notificationLag(landing.via, (Date.now() - Date.parse(landing.eventTime)) / 1000 || 0);
    }
    if (landing.bucket !== store.bucket) return ignored(`bucket ${landing.bucket} is not ${store.bucket}`);
    if (landing.kind !== 'finalized') return ignored(`a ${landing.kind} object is not ingested`);
    const moved = movedPrefixOf(landing.key);
    if (moved) {
      return ignored(
        `${moved.prefix} is where dataset ${moved.dataset} moves processed files; they are not ingested`,
      );
    }
    const dataset = datasetForKey(landing.key);
    if (!dataset) {
      logger.warn('no dataset matches the landed object', fields);
      return {
        landing,
        status: 'ignored',
        ack: true,
        reason: `no dataset's match pattern covers ${landing.key}`,
      };
    }
    const current = await store.stat(landing.key);
    const version = landing.version ?? current?.version;
    if (version === undefined)
      return { landing, status: 'missing', ack: true, reason: 'the object no longer exists' };
    const ref: FileVersionRef = { bucket: landing.bucket, key: landing.key, version };
    if (current && current.version !== version && (await recordedAfter(ref, current.version))) {
      logger.info('landing superseded', { ...fields, current: current.version });
      return {
        landing,
        status: 'superseded',
        ack: true,
        reason: `version ${current.version} replaced it and is recorded already`,
      };
    }
    const { record, changed } = await ledger.register(ref, {
      dataset: dataset.name,
      via: landing.via,
      request: 'ingest',
    });
    if (!changed && (record.state === 'ingested' || record.state === 'rejected')) {
      return { landing, status: 'duplicate', ack: true };
    }
    if (mode === 'background') {
      if (waitingTraces.size < MAX_WAITING_TRACES) waitingTraces.set(traceKey(ref), trace);
      background.wake(ref);
      return { landing, status: 'pending', ack: true };
    }
    const result = await ingest(landing.key, 'notification', version, trace, budget);
    switch (result.status) {
      case 'failed':
        return {
          landing,
          status: 'failed',
          ack: false,
          reason: result.error.message,
          // A spent time budget stopped at a checkpoint: the next delivery resumes it at once.
          retryAfterSeconds: result.error.code === 'TIME_BUDGET_SPENT' ? 0 : result.error.retryable ? 10 : 60,
        };
      case 'in-progress':
        return {
          landing,
          status: 'in-progress',
          ack: false,
          reason: `another instance holds the lease until ${result.record.leaseUntil}`,
          retryAfterSeconds: Math.max(
            1,
            Math.ceil((Date.parse(result.record.leaseUntil ?? '') - Date.now()) / 1000) || 30,
          ),
        };
      default:
        return { landing, status: result.status, ack: true };
    }
  }

  return {
    datasets,
    datasetForKey,

    async createUpload(vendor: string, request: UploadRequest): Promise<SignedUpload & { maxBytes: number }> {
      const dataset = datasetNamed(request.dataset);
      if (!FILENAME.test(request.filename)) {
        throw new DropgateError(
          'BAD_REQUEST',
          'filename must be 1-200 letters, digits, ".", "_" or "-", starting with a letter or digit',
          { context: { field: 'filename' } },
        );
      }
      if (request.schemaVersion !== undefined) {
        const refusal = versionRefusal(dataset, request.schemaVersion);
        if (refusal) throw refusal;
      }
      const day = new Date().toISOString().slice(0, 10);
      const folder = request.schemaVersion === undefined ? '' : `v${request.schemaVersion}/`;
      const key = `vendors/${vendor}/${dataset.name}/${folder}${day}/${request.filename}`;
      if (datasetForKey(key) !== dataset) {
        throw new DropgateError(
          'CONFLICT',
          `uploads for dataset ${dataset.name} land at ${key}, which its match pattern ${dataset.match} does not route to it`,
        );
      }
      // A known extension is required even when the dataset fixes the format, so objects stay recognizable.
      if (!formatByExtension(request.filename)) {
        throw new DropgateError(
          'BAD_REQUEST',
          `filename must name a CSV file (.csv, .tsv or .txt, optionally .gz) or a Parquet file (.parquet) for dataset ${dataset.name}`,
          { context: { field: 'filename' } },
        );
      }
      const limit = options.uploads.maxBytes;
      if (request.size !== undefined && request.size > limit) {
        throw new DropgateError(
          'PAYLOAD_TOO_LARGE',
          `size ${request.size} exceeds the upload limit of ${limit} bytes`,
        );
      }
      const maxBytes = request.size ?? limit;
      const upload = await store.createUploadUrl({
        key,
        maxBytes,
        contentType: request.contentType ?? contentTypeOf(key),
        expiresInSeconds: options.uploads.expiresInSeconds,
      });
      logger.info('upload url issued', { vendor, dataset: dataset.name, key, maxBytes });
      return { ...upload, maxBytes };
    },

    /**
     * Handles what an intake received: each landing is recorded in the ledger before this resolves, so an
     * acknowledgement never precedes durability; `inline` also ingests before resolving. `budget` stops an
     * inline ingestion at a checkpoint once aborted (its reason, TIME_BUDGET_SPENT, becomes the failure).
     */
    async accept(
      result: IntakeResult,
      mode: IntakeMode,
      options: { budget?: AbortSignal } = {},
    ): Promise<LandingOutcome[]> {
      if ('ignored' in result) {
        logger.info('intake message ignored', { reason: result.ignored });
        return [];
      }
      const outcomes: LandingOutcome[] = [];
      for (const landing of result.landings) outcomes.push(await land(landing, mode, options.budget));
      return outcomes;
    },

    /** Ingests a key's current version now (the CLI's path). */
    ingestNow: (key: string, mode: 'notification' | 'replay') => ingest(key, mode),

    /** Records a replay of the key's current version in the ledger, then runs it in the background. */
    async replay(key: string): Promise<{ version: string; dataset: string }> {
      const dataset = datasetForKey(key);
      if (!dataset) throw new DropgateError('NO_DATASET_MATCHES', `no dataset's match pattern covers ${key}`);
      const object = await store.stat(key);
      if (!object) {
        const moved = await movedTo(dataset, key);
        throw new DropgateError(
          'OBJECT_NOT_FOUND',
          moved
            ? `${store.bucket}/${key} was moved to ${moved} after it was processed; copy it back to ${key} to replay it`
            : `${store.bucket}/${key} does not exist`,
          { context: { key, ...(moved ? { movedTo: moved } : {}) } },
        );
      }
      const ref = { bucket: store.bucket, key, version: object.version };
      await ledger.register(ref, { dataset: dataset.name, via: 'admin-replay', request: 'replay' });
      background.wake(ref);
      logger.info('replay scheduled', { key, version: object.version, dataset: dataset.name });
      return { version: object.version, dataset: dataset.name };
    },

    /** Replays every current version under a prefix (and in a time range), one listing step per call. */
    replayListing: (request: ReplayListingRequest): Promise<ReplayListingResult> =>
      replayListing({ store, ledger, datasetForKey, wake: (ref) => background.wake(ref), logger }, request),

    fileStatus: (key: string): Promise<FileRecord | undefined> => ledger.latest(store.bucket, key),

    /** One page of the bucket's load history, newest first: the ledger's records under the filters. */
    history: (query: Omit<HistoryQuery, 'bucket'>) => ledger.history({ ...query, bucket: store.bucket }),

    /** Every version of `key` the ledger holds, newest first. */
    async versions(key: string): Promise<FileRecord[]> {
      const versions: FileRecord[] = [];
      let cursor: string | undefined;
      do {
        // The key as a prefix also finds longer keys (`a.csv` finds `a.csv.bak`): those are left out.
        const page = await ledger.history({
          bucket: store.bucket,
          prefix: key,
          ...(cursor ? { cursor } : {}),
        });
        versions.push(...page.records.filter((record) => record.key === key));
        cursor = page.cursor;
      } while (cursor);
      return versions;
    },

    /** Records the listed object versions the ledger has never seen, and ingests them in the background. */
    backfill: (request: BackfillRequest): Promise<BackfillResult> =>
      backfill({ store, ledger, datasetForKey, wake: (ref) => background.wake(ref), logger }, request),

    /**
     * Wakes the versions the ledger holds unfinished for this bucket. At start (`all`) every one: pending,
     * processing, failed. Later sweeps skip versions failed for a reason retrying cannot mend, and versions
     * leased to a live owner, so they catch what a lost wake, a dead instance or a long outage left behind.
     */
    async resumeUnfinished(scope: 'all' | 'retryable' = 'all'): Promise<number> {
      let count = 0;
      let cursor: string | undefined;
      const now = Date.now();
      do {
        const page = await ledger.unfinished({ bucket: store.bucket, ...(cursor ? { cursor } : {}) });
        for (const record of page.records) {
          if (scope === 'retryable' && !worthRetrying(record, now)) continue;
          logger.info('resuming unfinished file', {
            key: record.key,
            version: record.version,
            state: record.state,
            checkpoint: record.checkpoint,
          });
          background.wake(record);
          count++;
        }
        cursor = page.cursor;
      } while (cursor);
      return count;
    },

    /** Resolves when no background ingestion is running, queued or waiting to retry. */
    idle: () => background.idle(),
    /** Stops starting background work; running attempts stop at their next block (`ingest.signal`). */
    stop: () => background.stop(),
  };
}

/** Whether a sweep should wake an unfinished version: not one a live owner holds, nor one failed for good. */
function worthRetrying(record: FileRecord, now: number): boolean {
  if (record.state === 'processing')
    return record.leaseUntil === null || Date.parse(record.leaseUntil) <= now;
  if (record.state !== 'failed') return true;
  const code = record.outcome?.error?.code;
  return code === undefined || !ERROR_CODES.includes(code as ErrorCode) || isRetryableCode(code as ErrorCode);
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  return /\.(parquet|pq)$/.test(key) ? 'application/vnd.apache.parquet' : 'text/csv';
}

function counts(
  summary: Pick<FileSummary, 'rowsRead' | 'rowsPublished' | 'rowsRejected' | 'durationMs' | 'drift'>,
) {
  const { rowsRead, rowsPublished, rowsRejected, durationMs, drift } = summary;
  const rowsRescued = drift?.rowsRescued ?? 0;
  const valuesIgnored = drift?.valuesIgnored ?? 0;
  return { rowsRead, rowsPublished, rowsRejected, rowsRescued, valuesIgnored, durationMs };
}
