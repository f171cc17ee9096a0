/**
 * The gateway's use cases, independent of HTTP and of the runtime: issue upload URLs, react to landed
 * objects, replay, report file state, resume what a crash left unfinished.
 */
import picomatch from 'picomatch/posix.js';
import type { EventSink, FileRecord, Ledger, ObjectStore, SignedUpload } from '../adapters/ports.js';
import { formatByExtension } from '../schemas/dataset.js';
import { DropgateError } from '../adapters/errors.js';
import {
  ingestFile,
  type CompiledDataset,
  type IngestDependencies,
  type IngestResult,
} from '../workers/ingest-file.js';
import type { JobQueue } from './job-queue.js';
import type { Logger } from './logger.js';

/** A bucket's word that an object version landed (or went), whatever cloud it came from. */
export interface ObjectNotification {
  bucket: string;
  key: string;
  /** Version the notification names, when the provider gives one. */
  version?: string;
  kind: 'finalized' | 'deleted';
  /** Which channel delivered it, for logs: `local-upload`, `gcs-pubsub`, ... */
  via: string;
}

export interface UploadRequest {
  dataset: string;
  filename: string;
  contentType?: string;
  size?: number;
}

export interface GatewayOptions {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  datasets: CompiledDataset[];
  controlTopic: string;
  owner: string;
  uploads: { maxBytes: number; expiresInSeconds: number };
  jobs: JobQueue;
  logger: Logger;
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

export type Gateway = ReturnType<typeof createGateway>;

export function createGateway(options: GatewayOptions) {
  const { store, ledger, datasets, logger, jobs } = options;
  const matchers = datasets.map((dataset) => ({ dataset, matches: picomatch(dataset.match, { dot: true }) }));
  const dependencies: IngestDependencies = {
    store,
    sink: options.sink,
    ledger,
    controlTopic: options.controlTopic,
    owner: options.owner,
    ...options.ingest,
  };

  /** The first dataset, in config order, whose glob matches the key. */
  const datasetForKey = (key: string) => matchers.find(({ matches }) => matches(key))?.dataset;

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
  ): Promise<IngestResult> {
    const dataset = datasetForKey(key);
    if (!dataset) {
      throw new DropgateError('NO_DATASET_MATCHES', `no dataset's match pattern covers ${key}`, {
        context: { key },
      });
    }
    const result = await ingestFile(dependencies, { dataset, key, mode, ...(version ? { version } : {}) });
    const fields = { key, version, mode, dataset: dataset.name, status: result.status };
    if (result.status === 'failed')
      logger.warn('ingestion failed', { ...fields, error: result.error.message, code: result.error.code });
    else if ('summary' in result) logger.info('file finished', { ...fields, ...counts(result.summary) });
    else logger.info('file skipped', fields);
    return result;
  }

  /** Ingests in the background, retrying retryable faults; resumes from the last checkpoint each time. */
  function schedule(
    key: string,
    mode: 'notification' | 'replay',
    version?: string,
    awaitLease = false,
  ): void {
    jobs.submit(`${mode} ${key}`, async (attempt) => {
      const result = await ingest(key, attempt === 1 ? mode : 'notification', version);
      if (result.status === 'failed') return result.error.retryable ? 'retry' : 'done';
      // A resumed file may still carry the lease of the process that crashed; try again once it lapses.
      return awaitLease && result.status === 'in-progress' ? 'retry' : 'done';
    });
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
      const day = new Date().toISOString().slice(0, 10);
      const key = `vendors/${vendor}/${dataset.name}/${day}/${request.filename}`;
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

    /** Reacts to a bucket notification; returns at once, ingestion runs in the background. */
    notify(notification: ObjectNotification): 'scheduled' | 'ignored' {
      const fields = {
        bucket: notification.bucket,
        key: notification.key,
        version: notification.version,
        via: notification.via,
      };
      if (notification.bucket !== store.bucket || notification.kind !== 'finalized') {
        logger.info('notification ignored', { ...fields, kind: notification.kind });
        return 'ignored';
      }
      if (!datasetForKey(notification.key)) {
        logger.warn('no dataset matches the landed object', fields);
        return 'ignored';
      }
      schedule(notification.key, 'notification', notification.version);
      return 'scheduled';
    },

    /** Ingests a key's current version now (the CLI's path). */
    ingestNow: (key: string, mode: 'notification' | 'replay') => ingest(key, mode),

    /** Schedules a replay of the key's current version after checking it can start. */
    async replay(key: string): Promise<{ version: string; dataset: string }> {
      const dataset = datasetForKey(key);
      if (!dataset) throw new DropgateError('NO_DATASET_MATCHES', `no dataset's match pattern covers ${key}`);
      const object = await store.stat(key);
      if (!object) throw new DropgateError('OBJECT_NOT_FOUND', `${store.bucket}/${key} does not exist`);
      const record = await ledger.get({ bucket: store.bucket, key, version: object.version });
      if (record?.state === 'processing' && record.leaseUntil && Date.parse(record.leaseUntil) > Date.now()) {
        throw new DropgateError('CONFLICT', `${key} is being ingested right now; replay it once it finishes`);
      }
      schedule(key, 'replay', object.version);
      logger.info('replay scheduled', { key, version: object.version, dataset: dataset.name });
      return { version: object.version, dataset: dataset.name };
    },

    fileStatus: (key: string): Promise<FileRecord | undefined> => ledger.latest(store.bucket, key),

    /** Schedules every version a crash or an outage left unfinished; returns how many. */
    async resumeUnfinished(): Promise<number> {
      const unfinished = (await ledger.unfinished()).filter((record) => record.bucket === store.bucket);
      for (const record of unfinished) {
        logger.info('resuming unfinished file', {
          key: record.key,
          version: record.version,
          checkpoint: record.checkpoint,
        });
        schedule(record.key, 'notification', record.version, true);
      }
      return unfinished.length;
    },
  };
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  return /\.(parquet|pq)$/.test(key) ? 'application/vnd.apache.parquet' : 'text/csv';
}

function counts(summary: {
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
  durationMs: number;
}) {
  const { rowsRead, rowsPublished, rowsRejected, durationMs } = summary;
  return { rowsRead, rowsPublished, rowsRejected, durationMs };
}
