/**
 * The one place on Node that turns config into concrete adapters (the gateway and the CLI both use it):
 * `store`, `sink`, `ledger` and `intake` are each chosen by `type`, independently.
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
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createSnsHttpsIntake } from '../../adapters/intake/sns-https/sns-https-intake.js';
import { createSqsIntake } from '../../adapters/intake/sqs/sqs-intake.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import type { ConfigFile } from '../config.js';
import { silentLogger, type Logger } from '../logger.js';

export interface WiredAdapters {
  store: ObjectStore;
  sink: EventSink;
  ledger: Ledger;
  intakes: HttpIntake[];
  /**
   * Intakes that pull from a queue (`sqs`), not started: the gateway starts them once it can accept, and
   * stops them before `close`.
   */
  queueConsumers: QueueConsumer[];
  /** Closes what holds resources or locks (the sink's files, the ledger's directory lock). */
  close(): Promise<void>;
}

export interface WireOptions {
  file: Pick<ConfigFile, 'store' | 'sink' | 'ledger' | 'intake'>;
  dataDir: string;
  publicUrl: string;
  signingSecret: string;
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
    const intakes: HttpIntake[] = [];
    const queueConsumers: QueueConsumer[] = [];
    for (const intake of file.intake) {
      switch (intake.type) {
        case 'local-upload':
          intakes.push(
            createLocalUploadIntake({ receiver: store as ObjectStore & UploadReceiver, mode: intake.mode }),
          );
          break;
        case 'sns-https':
          intakes.push(createSnsHttpsIntake({ topicArns: intake.topicArns }));
          break;
        case 'sqs': {
          const { type: _type, ...settings } = intake;
          queueConsumers.push(createSqsIntake({ ...settings, logger: options.logger ?? silentLogger }));
          break;
        }
      }
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
