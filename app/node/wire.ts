/**
 * The one place on Node that turns config into concrete adapters (the gateway and the CLI both use it):
 * `store`, `sink`, `ledger` and `intake` are each chosen by `type`, independently.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSink, HttpIntake, Ledger, ObjectStore, UploadReceiver } from '../../adapters/ports.js';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createSqsEventSink } from '../../adapters/event-sink/sqs/sqs-event-sink.js';
import { createDynamoDbLedger } from '../../adapters/ledger/dynamodb/dynamodb-ledger.js';
import { createLedgerTable } from '../../adapters/ledger/dynamodb/ledger-table.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import type { ConfigFile } from '../config.js';
import { DropgateError } from '../../adapters/errors.js';

export interface WiredAdapters {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  intakes: HttpIntake[];
  /** Closes what holds resources or locks (the sink's files, the ledger's directory lock). */
  close(): Promise<void>;
}

export interface WireOptions {
  file: Pick<ConfigFile, 'store' | 'sink' | 'ledger' | 'intake'>;
  dataDir: string;
  publicUrl: string;
  signingSecret: string;
}

export async function wireAdapters(options: WireOptions): Promise<WiredAdapters> {
  const { dataDir, file } = options;
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const store = await wireStore(options);
    const sink = await wireSink(options);
    opened.push(sink);
    const ledger = await wireLedger(options);
    opened.push(ledger);
    // With the data directory's locks held, no upload is in flight: what a killed process left is waste.
    await removeTemporaryUploads(join(dataDir, 'tmp'));
    const intakes = file.intake.map((intake) => {
      switch (intake.type) {
        case 'local-upload':
          return createLocalUploadIntake({
            receiver: store as ObjectStore & UploadReceiver,
            mode: intake.mode,
          });
      }
    });
    return {
      store,
      sink,
      ledger,
      intakes,
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

function wireStore(options: WireOptions) {
  switch (options.file.store.type) {
    case 'local':
      return createLocalObjectStore({
        directory: join(options.dataDir, 'bucket'),
        temporaryDirectory: join(options.dataDir, 'tmp'),
        baseUrl: options.publicUrl,
        signingSecret: options.signingSecret,
      });
  }
}

function wireSink({ file, dataDir }: WireOptions) {
  const { sink } = file;
  switch (sink.type) {
    case 'local':
      return createLocalEventSink({ directory: join(dataDir, 'events') });
    case 'sqs':
      return createSqsEventSink({
        ...(sink.region ? { region: sink.region } : {}),
        ...(sink.fifoGroup ? { fifoGroup: sink.fifoGroup } : {}),
      });
  }
}

function wireLedger({ file, dataDir }: WireOptions) {
  const { ledger } = file;
  switch (ledger.type) {
    case 'local':
      return createLocalLedger({ directory: join(dataDir, 'ledger') });
    case 'dynamodb':
      return createDynamoDbLedger({
        table: ledger.table,
        ...(ledger.region ? { region: ledger.region } : {}),
        ...(ledger.retentionDays ? { retentionDays: ledger.retentionDays } : {}),
      });
  }
}

/**
 * Creates the table of a `dynamodb` ledger (`dropgate ledger create-table`, for development; production
 * tables come from the README's command or infrastructure code). Fails for any other ledger type.
 */
export async function createLedgerStorage(file: Pick<ConfigFile, 'ledger'>): Promise<string> {
  const { ledger } = file;
  if (ledger.type !== 'dynamodb') {
    throw new DropgateError(
      'CONFIG_INVALID',
      `ledger.type is ${ledger.type}: only a dynamodb ledger has a table to create`,
    );
  }
  const { created } = await createLedgerTable({
    table: ledger.table,
    ...(ledger.region ? { region: ledger.region } : {}),
  });
  return created ? `created DynamoDB table ${ledger.table}` : `DynamoDB table ${ledger.table} exists already`;
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
