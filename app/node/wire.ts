/**
 * The one place on Node that turns config into concrete adapters (the gateway and the CLI both use it):
 * `store`, `sink`, `ledger` and `intake` are each chosen by `type`, independently.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventSink, HttpIntake, Ledger, ObjectStore, UploadReceiver } from '../../adapters/ports.js';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createEventarcIntake } from '../../adapters/intake/eventarc/eventarc-intake.js';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import type { ConfigFile, IntakeConfig } from '../config.js';
import type { Logger } from '../logger.js';

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
  /** Told at start of what an operator must know (a push intake that verifies nothing). */
  logger?: Logger;
}

export async function wireAdapters(options: WireOptions): Promise<WiredAdapters> {
  const { dataDir, file } = options;
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const store = await wireStore(options);
    const sink = await createLocalEventSink({ directory: join(dataDir, 'events') });
    opened.push(sink);
    const ledger = await createLocalLedger({ directory: join(dataDir, 'ledger') });
    opened.push(ledger);
    // With the data directory's locks held, no upload is in flight: what a killed process left is waste.
    await removeTemporaryUploads(join(dataDir, 'tmp'));
    const intakes = file.intake.map((intake) => wireIntake(intake, store, options));
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

function wireIntake(intake: IntakeConfig, store: ObjectStore, options: WireOptions): HttpIntake {
  switch (intake.type) {
    case 'local-upload':
      return createLocalUploadIntake({
        receiver: store as ObjectStore & UploadReceiver,
        mode: intake.mode,
      });
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
