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

test('TIME keeps its unit digits and ENUM is its label', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'dropgate-parquet-types-'));
  const path = join(directory, 'types.parquet');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
  await connection.run(`
    COPY (SELECT TIME '13:45:07.123456' AS at, 'happy'::mood AS mood UNION ALL SELECT NULL, NULL)
    TO '${path}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
  const store = createMemoryObjectStore();
  store.put('vendors/acme/orders/types.parquet', new Uint8Array(await readFile(path)));
  await rm(directory, { recursive: true, force: true });
  const sink = createMemoryEventSink();
  const dataset = testDataset({ format: 'parquet', schema: { type: 'object' } });
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'files', owner: 'test' },
    { dataset, key: 'vendors/acme/orders/types.parquet', mode: 'notification' },
  );
  expect(result.status).toBe('ingested');
  expect(sink.events('orders').map((event) => JSON.parse(event.body).data)).toEqual([
    { at: '13:45:07.123456', mood: 'happy' },
    { at: null, mood: null },
  ]);
});

test('DECIMAL(p, 0) becomes a number when the schema types it as integer', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'dropgate-parquet-types-'));
  const path = join(directory, 'counts.parquet');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(
    `COPY (SELECT 1234::DECIMAL(4, 0) AS n, 7::DECIMAL(4, 0) AS kept) TO '${path}' (FORMAT parquet)`,
  );
  connection.closeSync();
  instance.closeSync();
  const store = createMemoryObjectStore();
  store.put('vendors/acme/orders/counts.parquet', new Uint8Array(await readFile(path)));
  await rm(directory, { recursive: true, force: true });
  const sink = createMemoryEventSink();
  const schema = { type: 'object', properties: { n: { type: 'integer' }, kept: { type: 'string' } } };
  const dataset = testDataset({ format: 'parquet', schema });
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'files', owner: 'test' },
    { dataset, key: 'vendors/acme/orders/counts.parquet', mode: 'notification' },
  );
  expect(result.status).toBe('ingested');
  expect(sink.events('orders').map((event) => JSON.parse(event.body).data)).toEqual([{ n: 1234, kept: '7' }]);
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
