/** Parquet TIME and ENUM columns, written by DuckDB, come out as readable strings. */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import { writeParquet } from '../support/parquet-fixtures.js';
import type { RowSchema } from '../../schemas/dataset.js';

/**
 * Writes `query`'s result to a Parquet file with DuckDB (after running `setup`), ingests it with `schema`
 * and returns the data of the events published.
 */
async function ingestWrittenByDuckDb(query: string, schema: RowSchema, setup = ''): Promise<unknown[]> {
  const directory = await mkdtemp(join(tmpdir(), 'dropgate-parquet-types-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    if (setup) await connection.run(setup);
    const path = await writeParquet(connection, directory, 'types', query);
    const key = 'vendors/acme/orders/types.parquet';
    const store = createMemoryObjectStore();
    store.put(key, new Uint8Array(await readFile(path)));
    const sink = createMemoryEventSink();
    const result = await ingestFile(
      { store, sink, ledger: createMemoryLedger(), controlTopic: 'files', owner: 'test' },
      { dataset: testDataset({ format: 'parquet', schema }), key, mode: 'notification' },
    );
    expect(result.status).toBe('ingested');
    return sink.events('orders').map((event) => JSON.parse(event.body).data);
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(directory, { recursive: true, force: true });
  }
}

test('TIME keeps its unit digits and ENUM is its label', async () => {
  const data = await ingestWrittenByDuckDb(
    `SELECT TIME '13:45:07.123456' AS at, 'happy'::mood AS mood UNION ALL SELECT NULL, NULL`,
    { type: 'object' },
    `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
  );
  expect(data).toEqual([
    { at: '13:45:07.123456', mood: 'happy' },
    { at: null, mood: null },
  ]);
});

test('DECIMAL(p, 0) becomes a number when the schema types it as integer', async () => {
  const data = await ingestWrittenByDuckDb(`SELECT 1234::DECIMAL(4, 0) AS n, 7::DECIMAL(4, 0) AS kept`, {
    type: 'object',
    properties: { n: { type: 'integer' }, kept: { type: 'string' } },
  });
  expect(data).toEqual([{ n: 1234, kept: '7' }]);
});

test('a file too small to be Parquet is rejected saying so', async () => {
  const store = createMemoryObjectStore();
  store.put('vendors/acme/orders/tiny.parquet', new Uint8Array([80, 65, 82, 49]));
  const result = await ingestFile(
    {
      store,
      sink: createMemoryEventSink(),
      ledger: createMemoryLedger(),
      controlTopic: 'files',
      owner: 'test',
    },
    {
      dataset: testDataset({ format: 'parquet' }),
      key: 'vendors/acme/orders/tiny.parquet',
      mode: 'notification',
    },
  );
  expect(result.status).toBe('rejected');
  if (result.status !== 'rejected') return;
  expect(result.summary.error).toMatchObject({
    code: 'FILE_UNREADABLE',
    message: 'not a Parquet file: 4 bytes is too small',
  });
});
