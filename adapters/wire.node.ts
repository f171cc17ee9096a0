/** The one place on Node that turns config into concrete adapters: the embedded local defaults. */
import { join } from 'node:path';
import { createLocalEventSink } from './event-sink/local/local-event-sink.js';
import { createLocalLedger } from './ledger/local/local-ledger.js';
import { createLocalObjectStore } from './object-store/local/local-object-store.js';

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
