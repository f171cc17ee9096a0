/**
 * Parquet through the `gcs` store works as locally: a multi-row-group file written by DuckDB, ingested
 * from the GCS stand-in by byte ranges pinned to its generation, gives the same rows as the same file
 * ingested from the memory store.
 */
import { Storage } from '@google-cloud/storage';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createGcsObjectStore } from '../../adapters/object-store/gcs/gcs-object-store.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { ObjectStore } from '../../adapters/ports.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import {
  TABULAR_ROWS,
  TABULAR_SCHEMA,
  openTabular,
  tabularQuery,
  writeParquet,
} from '../support/parquet-fixtures.js';
import { useGcsStandIn } from './support/gcs.js';

const gcs = useGcsStandIn();
const KEY = 'vendors/acme/tabular/rows.parquet';
const dataset = testDataset({
  name: 'tabular',
  format: 'parquet',
  schema: TABULAR_SCHEMA,
  topic: 'tabular',
  deadLetterTopic: 'tabular.dead-letter',
});

/** The rows a store's ingestion of `version` publishes: row number and data, in order. */
async function ingestedRows(store: ObjectStore, version: string) {
  const sink = createMemoryEventSink();
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'dropgate.files', owner: 'gcs-parquet' },
    { dataset, key: KEY, mode: 'notification', version },
  );
  expect(result.status).toBe('ingested');
  return sink.events('tabular').map((event) => {
    const { rownumber, data } = JSON.parse(event.body) as { rownumber: number; data: unknown };
    return { rownumber, data };
  });
}

describe('Parquet from the gcs store', () => {
  it('ingests a multi-row-group file by generation-pinned ranges, row for row as from memory', async () => {
    const { connection, close } = await openTabular();
    let bytes: Buffer;
    try {
      const copies = 8;
      const path = await writeParquet(
        connection,
        gcs.directory,
        'rows',
        tabularQuery(copies, 16),
        'COMPRESSION zstd',
      );
      bytes = await readFile(path);
    } finally {
      close();
    }
    gcs.standIn.createBucket('parquet');
    const file = new Storage({ keyFilename: gcs.account.keyFile }).bucket('parquet').file(KEY);
    await file.save(bytes, { resumable: false, contentType: 'application/vnd.apache.parquet' });
    const generation = String(file.metadata.generation);

    const memory = createMemoryObjectStore({ bucket: 'parquet' });
    const local = await ingestedRows(memory, memory.put(KEY, bytes).version);
    const before = gcs.standIn.requests.length;
    const fromGcs = await ingestedRows(
      createGcsObjectStore({ bucket: 'parquet', keyFile: gcs.account.keyFile }),
      generation,
    );

    expect(fromGcs).toHaveLength(TABULAR_ROWS.length * 8);
    expect(fromGcs).toEqual(local);
    const downloads = gcs.standIn.requests.slice(before).filter((request) => request.includes('alt=media'));
    expect(downloads.length).toBeGreaterThan(1);
    for (const request of downloads) expect(request).toContain(`generation=${generation}`);
  });
});
