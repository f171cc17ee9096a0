/** The run both runtimes share: put one file, ingest it, return every published event body by topic. */
import type { MemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import type { MemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { Ledger } from '../../adapters/ports.js';
import { defaultCsvOptions, type RowSchema } from '../../schemas/dataset.js';
import type { RowValidator } from '../../schemas/row-validator.js';
import { inlineSegmentPool, type CsvSegmentPool } from '../../workers/csv/csv-parallel.js';
import type { CompiledDataset, ingestFile as IngestFile } from '../../workers/ingest-file.js';

export function harnessDataset(schema: unknown, validate: RowValidator): CompiledDataset {
  return {
    name: 'orders',
    match: 'vendors/*/orders/**',
    format: 'auto',
    schema: schema as RowSchema,
    schemaVersion: 1,
    eventType: 'OrderReceived',
    topic: 'orders',
    deadLetterTopic: 'orders.dead-letter',
    csv: defaultCsvOptions,
    validate,
  };
}

export async function runHarness(
  adapters: {
    store: MemoryObjectStore;
    sink: MemoryEventSink;
    ledger: Ledger;
    ingestFile: typeof IngestFile;
  },
  dataset: CompiledDataset,
  file: { key: string; updated: string; bytes: Uint8Array },
  /** Cut CSV into segments of this many bytes, parsed by the inline pool (csv-parallel.ts). */
  segmentBytes?: number,
) {
  const { store, sink, ledger } = adapters;
  const pool = inlineSegmentPool(() => dataset.validate);
  let segments = 0;
  store.put(file.key, file.bytes, { updated: file.updated });
  const result = await adapters.ingestFile(
    {
      store,
      sink,
      ledger,
      controlTopic: 'dropgate.files',
      owner: 'harness',
      now: () => 0,
      ...(segmentBytes === undefined
        ? {}
        : {
            segmentPool: {
              size: 1,
              process: (plan, task) => {
                segments++;
                return pool.process(plan, task);
              },
            } satisfies CsvSegmentPool,
            segmentBytes,
            parallelMinBytes: 0,
          }),
    },
    { dataset, key: file.key, mode: 'notification' },
  );
  const topics = Object.fromEntries(
    sink
      .topics()
      .map((topic) => [topic, sink.events(topic).map((event) => JSON.parse(event.body) as unknown)]),
  );
  return { status: result.status, topics, segments };
}
