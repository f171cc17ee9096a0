/** The one place on Node that turns config into concrete adapters: the embedded local defaults. */
import { join } from 'node:path';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';

export async function wireLocalAdapters(options: {
  dataDir: string;
  publicUrl: string;
  signingSecret: string;
}) {
  const { dataDir } = options;
  const [store, sink, ledger] = await Promise.all([
    createLocalObjectStore({
      directory: join(dataDir, 'bucket'),
      temporaryDirectory: join(dataDir, 'tmp'),
      baseUrl: options.publicUrl,
      signingSecret: options.signingSecret,
    }),
    createLocalEventSink({ directory: join(dataDir, 'events') }),
    createLocalLedger({ directory: join(dataDir, 'ledger') }),
  ]);
  return { store, sink, ledger, receiver: store };
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
