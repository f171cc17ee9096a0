/**
 * The one place on Node that turns config into concrete adapters (the gateway and the CLI both use it):
 * `store`, `sink`, `ledger` and `intake` are each chosen by `type`, independently.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSink, HttpIntake, Ledger, ObjectStore, UploadReceiver } from '../../adapters/ports.js';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import { WORKERS_ONLY_TYPES, type ConfigFile } from '../config.js';

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
  refuseWorkersOnlyTypes(file);
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const store = await wireStore(options);
    const sink = await createLocalEventSink({ directory: join(dataDir, 'events') });
    opened.push(sink);
    const ledger = await createLocalLedger({ directory: join(dataDir, 'ledger') });
    opened.push(ledger);
    // With the data directory's locks held, no upload is in flight: what a killed process left is waste.
    await removeTemporaryUploads(join(dataDir, 'tmp'));
    const intakes = file.intake.flatMap((intake) => {
      switch (intake.type) {
        case 'local-upload':
          return [
            createLocalUploadIntake({
              receiver: store as ObjectStore & UploadReceiver,
              mode: intake.mode,
            }),
          ];
        case 'r2-queue':
          return [];
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
    case 'r2':
      throw new DropgateError('INVARIANT_BROKEN', 'refuseWorkersOnlyTypes let store.type r2 through');
    case 'local':
      return createLocalObjectStore({
        directory: join(options.dataDir, 'bucket'),
        temporaryDirectory: join(options.dataDir, 'tmp'),
        baseUrl: options.publicUrl,
        signingSecret: options.signingSecret,
      });
  }
}

/** The Cloudflare adapters live on their bindings, which exist only inside a Worker (app/worker/wire.ts). */
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
