/**
 * The one place on Node that turns config into concrete adapters (the gateway and the CLI both use it):
 * `store`, `sink`, `ledger` and `intake` are each chosen by `type`, independently. The cloud adapters are
 * imported when their type is chosen: their SDKs (gRPC, protobufs, the AWS clients) cost a process that
 * never uses them ~85 MB of resident memory, which the embedded defaults and each cloud's deployment
 * should not carry for the others.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  EventSink,
  HttpIntake,
  Ledger,
  ObjectStore,
  QueueConsumer,
  UploadReceiver,
} from '../../adapters/ports.js';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createEventarcIntake } from '../../adapters/intake/eventarc/eventarc-intake.js';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createSnsHttpsIntake } from '../../adapters/intake/sns-https/sns-https-intake.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import { pubsubModesOf, WORKERS_ONLY_TYPES, type ConfigFile, type IntakeConfig } from '../config.js';
import { silentLogger, type Logger } from '../logger.js';

export interface WiredAdapters {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  intakes: HttpIntake[];
  /**
   * Intakes that pull from a queue (`sqs`, `gcs-pubsub-pull`), not started: the gateway starts them once it can accept, and
   * stops them before `close`.
   */
  queueConsumers: QueueConsumer[];
  /** Closes what holds resources or locks (the sink's files, the local ledger's lock, Firestore's channels). */
  close(): Promise<void>;
}

export interface WireOptions {
  file: Pick<ConfigFile, 'store' | 'sink' | 'ledger' | 'intake' | 'scheduledBackfill' | 'datasets'>;
  dataDir: string;
  publicUrl: string;
  signingSecret: string;
  /** Told at start of what an operator must know (a push intake that verifies nothing). */
  logger?: Logger;
}

export async function wireAdapters(options: WireOptions): Promise<WiredAdapters> {
  const { file } = options;
  refuseWorkersOnlyTypes(file);
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const store = await wireStore(options, opened);
    const sink = await wireSink(options);
    opened.push(sink);
    const ledger = await wireLedger(options);
    opened.push(ledger);
    const intakes: HttpIntake[] = [];
    const queueConsumers: QueueConsumer[] = [];
    for (const intake of file.intake) {
      if (intake.type === 'sqs') {
        const { type: _type, ...settings } = intake;
        const { createSqsIntake } = await import('../../adapters/intake/sqs/sqs-intake.js');
        queueConsumers.push(createSqsIntake({ ...settings, logger: options.logger ?? silentLogger }));
      } else if (intake.type === 'gcs-pubsub-pull') {
        const { type: _type, ...settings } = intake;
        const { createGcsPubsubPullIntake } =
          await import('../../adapters/intake/gcs-pubsub-pull/gcs-pubsub-pull-intake.js');
        queueConsumers.push(
          createGcsPubsubPullIntake({
            ...settings,
            bucket: store.bucket,
            logger: options.logger ?? silentLogger,
          }),
        );
      } else intakes.push(wireIntake(intake, store, options));
    }
    return {
      store,
      sink,
      ledger,
      intakes,
      queueConsumers,
      async close() {
        for (const adapter of opened.reverse()) await adapter.close();
      },
    };
  } catch (error) {
    // A failed start must not keep the locks it took: a supervisor restarts it at once.
    for (const adapter of opened.reverse()) await adapter.close().catch(() => undefined);
    throw error;
  }
}

function wireIntake(
  intake: Exclude<IntakeConfig, { type: 'sqs' | 'gcs-pubsub-pull' }>,
  store: ObjectStore,
  options: WireOptions,
): HttpIntake {
  switch (intake.type) {
    case 'sns-https':
      return createSnsHttpsIntake({ topicArns: intake.topicArns });
    case 'local-upload':
      if (!receivesUploads(store)) {
        throw new DropgateError(
          'CONFIG_INVALID',
          `intake local-upload takes uploads the gateway receives itself, but uploads to the ` +
            `${options.file.store.type} store go straight to the bucket: set "intake" to the bucket's ` +
            'notification channel, or to [] and ingest with POST /admin/replay',
        );
      }
      return createLocalUploadIntake({ receiver: store, mode: intake.mode });
    case 'gcs-pubsub-push':
    case 'eventarc': {
      const create = intake.type === 'eventarc' ? createEventarcIntake : createGcsPubsubPushIntake;
      const path = `/v1/notifications/${intake.type}`;
      if (intake.auth === 'none') {
        options.logger?.warn(
          `intake ${intake.type} accepts pushes WITHOUT verifying their OIDC token ("auth": "none"): anyone who ` +
            `can reach ${path} can make this gateway ingest any object of bucket ${store.bucket}; use this only ` +
            'with the emulator or behind an authenticating proxy',
          { intake: intake.type, auth: 'none' },
        );
        return create({ bucket: store.bucket, mode: intake.mode, auth: 'none' });
      }
      const { serviceAccountEmail } = intake;
      if (!serviceAccountEmail) {
        throw new DropgateError('CONFIG_INVALID', `intake ${intake.type}: serviceAccountEmail is missing`);
      }
      return create({
        bucket: store.bucket,
        mode: intake.mode,
        auth: {
          // Pub/Sub and Eventarc default a token's audience to the endpoint's URL.
          audience: intake.audience ?? `${options.publicUrl.replace(/\/+$/, '')}${path}`,
          serviceAccountEmail,
        },
      });
    }
    default:
      throw workersOnly(intake.type);
  }
}

async function wireLedger(options: WireOptions): Promise<Ledger & { close(): Promise<void> }> {
  const config = options.file.ledger;
  switch (config.type) {
    case 'local': {
      const ledger = await createLocalLedger({ directory: join(options.dataDir, 'ledger') });
      // The ledger's lock says no other gateway uses this data directory, so no upload is in flight:
      // what a killed process left is waste. A shared ledger holds no such lock, and leaves them be.
      await removeTemporaryUploads(join(options.dataDir, 'tmp'));
      return ledger;
    }
    case 'firestore': {
      const { createFirestoreLedger } = await import('../../adapters/ledger/firestore/firestore-ledger.js');
      return createFirestoreLedger({
        projectId: config.projectId,
        databaseId: config.databaseId,
        ...(config.collectionPrefix === undefined ? {} : { collectionPrefix: config.collectionPrefix }),
        ...(config.retentionDays === undefined ? {} : { retentionDays: config.retentionDays }),
      });
    }
    case 'dynamodb': {
      const { createDynamoDbLedger } = await import('../../adapters/ledger/dynamodb/dynamodb-ledger.js');
      return createDynamoDbLedger({
        table: config.table,
        ...(config.region ? { region: config.region } : {}),
        ...(config.retentionDays ? { retentionDays: config.retentionDays } : {}),
      });
    }
    default:
      throw workersOnly(config.type);
  }
}

async function wireStore(
  options: WireOptions,
  opened: Array<{ close(): Promise<void> }>,
): Promise<ObjectStore> {
  const store = options.file.store;
  switch (store.type) {
    case 'local':
      return createLocalObjectStore({
        directory: join(options.dataDir, 'bucket'),
        temporaryDirectory: join(options.dataDir, 'tmp'),
        baseUrl: options.publicUrl,
        signingSecret: options.signingSecret,
      });
    case 's3': {
      const { createS3ObjectStore } = await import('../../adapters/object-store/s3/s3-object-store.js');
      const s3 = await createS3ObjectStore({
        bucket: store.bucket,
        region: store.region,
        endpoint: store.endpoint,
        forcePathStyle: store.forcePathStyle,
        upload: store.upload,
      });
      opened.push({ close: async () => s3.client.destroy() });
      return s3;
    }
    case 'gcs': {
      const { createGcsObjectStore } = await import('../../adapters/object-store/gcs/gcs-object-store.js');
      return createGcsObjectStore({
        bucket: store.bucket,
        ...(store.projectId ? { projectId: store.projectId } : {}),
        ...(store.keyFile ? { keyFile: store.keyFile } : {}),
      });
    }
    default:
      throw workersOnly(store.type);
  }
}

function receivesUploads(store: ObjectStore): store is ObjectStore & UploadReceiver {
  const candidate = store as Partial<UploadReceiver>;
  return typeof candidate.verifyUpload === 'function' && typeof candidate.receive === 'function';
}

async function wireSink({ file, dataDir }: WireOptions): Promise<EventSink> {
  const { sink } = file;
  switch (sink.type) {
    case 'local':
      return createLocalEventSink({ directory: join(dataDir, 'events') });
    case 'pubsub': {
      const { createPubSubEventSink } = await import('../../adapters/event-sink/pubsub/pubsub-event-sink.js');
      return createPubSubEventSink({
        projectId: sink.projectId,
        mode: sink.mode,
        modes: pubsubModesOf(file.datasets),
        rowsPerMessage: new Map(Object.entries(sink.rowsPerMessage)),
      });
    }
    case 'sqs': {
      const { createSqsEventSink } = await import('../../adapters/event-sink/sqs/sqs-event-sink.js');
      return createSqsEventSink({
        ...(sink.region ? { region: sink.region } : {}),
        ...(sink.fifoGroup ? { fifoGroup: sink.fifoGroup } : {}),
        rowsPerMessage: new Map(Object.entries(sink.rowsPerMessage)),
      });
    }
    default:
      throw workersOnly(sink.type);
  }
}

/**
 * Creates the table of a `dynamodb` ledger (`dropgate ledger create-table`, for development; production
 * tables come from the README's command or infrastructure code), or brings an existing one up to date (the
 * history index and its attributes on older records). Fails for any other ledger type.
 */
export async function createLedgerStorage(file: Pick<ConfigFile, 'ledger'>): Promise<string> {
  const { ledger } = file;
  if (ledger.type !== 'dynamodb') {
    throw new DropgateError(
      'CONFIG_INVALID',
      `ledger.type is ${ledger.type}: only a dynamodb ledger has a table to create`,
    );
  }
  const { createLedgerTable } = await import('../../adapters/ledger/dynamodb/ledger-table.js');
  const { created, historyIndexAdded, recordsFilled } = await createLedgerTable({
    table: ledger.table,
    ...(ledger.region ? { region: ledger.region } : {}),
  });
  if (created) return `created DynamoDB table ${ledger.table}`;
  return [
    `DynamoDB table ${ledger.table} exists already`,
    ...(historyIndexAdded ? ['added its history index'] : []),
    ...(recordsFilled > 0 ? [`filled in the history of ${recordsFilled} records written before it`] : []),
  ].join('; ');
}

/** A Workers-only type that got past `refuseWorkersOnlyTypes`. */
function workersOnly(type: string): DropgateError {
  return new DropgateError('INVARIANT_BROKEN', `refuseWorkersOnlyTypes let type ${type} through`);
}

/**
 * The Cloudflare adapters live on their bindings, which exist only inside a Worker (app/worker/wire.ts);
 * the scheduled backfill runs on a Worker's cron trigger.
 */
function refuseWorkersOnlyTypes(file: WireOptions['file']) {
  const chosen = [
    ['store.type', file.store.type],
    ['sink.type', file.sink.type],
    ['ledger.type', file.ledger.type],
    ...file.intake.map((intake, index) => [`intake.${index}.type`, intake.type]),
  ];
  for (const [field, type] of chosen) {
    if (WORKERS_ONLY_TYPES.includes(type!)) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `${field}: ${type} runs on Cloudflare Workers only (deploy with wrangler: docs/deploy-workers.md)`,
      );
    }
  }
  if (file.scheduledBackfill) {
    throw new DropgateError(
      'CONFIG_INVALID',
      'scheduledBackfill: runs on Cloudflare Workers only (their cron trigger); on Node, schedule POST /admin/backfill (docs/deploy-cloud-run.md)',
    );
  }
}

/**
 * A bucket `local-files` over the whole file system, for `dropgate ingest <file>`: a file is read where it
 * lies, as the object keyed by its path below `root`.
 */
export function wireLocalFilesStore(options: { root: string; dataDir: string; signingSecret: string }) {
  return createLocalObjectStore({
    directory: options.root,
    temporaryDirectory: join(options.dataDir, 'tmp'),
    bucket: 'local-files',
    baseUrl: 'http://localhost',
    signingSecret: options.signingSecret,
  });
}

async function removeTemporaryUploads(directory: string) {
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.endsWith('.upload'))
      .map((name) => rm(join(directory, name), { force: true })),
  );
}
