/**
 * The Parquet thread pool on a file of realistic size (the bench's generator, 2 row groups of 30k rows):
 * a row group streams back as many blocks, and a row group too large for a thread's capped heap (here:
 * rows with ~30 KB notes) runs on the calling thread from where the thread stopped. Both must publish
 * exactly what the calling thread alone publishes.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createParquetThreadPool, type IngestThreadPool } from '../../app/node/ingest-threads.js';
import { generateOrdersParquet, ordersParquetSchema } from '../../bench/generate-orders-parquet.js';
import type { RowSchema } from '../../schemas/dataset.js';
import { DropgateError } from '../../adapters/errors.js';
import { ingestFile } from '../../workers/ingest-file.js';
import type { RowGroupPool } from '../../workers/parquet/parquet-row-source.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import { testDataset } from '../support/datasets.js';

const KEY = 'vendors/acme/orders/big.parquet';
const ROWS = 60_000;

let directory: TemporaryDirectory;
let bytes: Uint8Array;
/** 3,000 of the orders with a distinct note of ~30 KB each, in one row group. */
let wide: Uint8Array;

beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-pool');
  const path = join(directory.path, 'orders.parquet');
  await generateOrdersParquet(path, ROWS, ROWS / 2);
  bytes = new Uint8Array(await readFile(path));
  const widePath = join(directory.path, 'wide.parquet');
  const duckdb = await DuckDBInstance.create(':memory:');
  const connection = await duckdb.connect();
  try {
    await connection.run(`
      COPY (SELECT * REPLACE (repeat(order_id, 3200) AS note) FROM read_parquet('${path}') LIMIT 3000)
      TO '${widePath}' (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    duckdb.closeSync();
  }
  wide = new Uint8Array(await readFile(widePath));
}, 60_000);
afterAll(() => directory.remove());

/** Every publish of a run: the topic and the event bodies in it, in order. */
async function ingest(pool?: RowGroupPool, file = bytes) {
  const store = createMemoryObjectStore();
  store.put(KEY, file, { updated: '2024-05-01T12:00:00.000Z' });
  const sink = createMemoryEventSink();
  const dataset = testDataset({
    name: 'orders',
    format: 'parquet',
    schema: ordersParquetSchema as RowSchema,
    topic: 'orders',
    deadLetterTopic: 'orders.dead-letter',
  });
  const result = await ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: 'files',
      owner: 'parquet-pool',
      // Blocks of 1000 rows: a row group of 30k rows is 30 blocks.
      blockSize: { rows: 1000, bytes: 4 << 20 },
      ...(pool ? { rowGroupPool: pool } : {}),
    },
    { dataset, key: KEY, mode: 'notification' },
  );
  expect(result.status).toBe('ingested');
  if (result.status !== 'ingested') throw new Error('not ingested');
  return {
    summary: result.summary,
    bodies: sink.events('orders').map((event) => event.body),
    deadLetters: sink.events('orders.dead-letter').length,
  };
}

/** Event bodies by row number, for runs whose blocks interleave. */
function inRowOrder(bodies: string[]): string[] {
  const row = (body: string) => (JSON.parse(body) as { rownumber: number }).rownumber;
  return bodies
    .map((body) => ({ row: row(body), body }))
    .sort((a, b) => a.row - b.row)
    .map(({ body }) => body);
}

/** `pool`, recording the error codes its streams end with. */
function watched(pool: IngestThreadPool): RowGroupPool & { failures: string[]; streams: number } {
  const failures: string[] = [];
  const watcher = {
    size: pool.size,
    failures,
    streams: 0,
    rowGroupBlocks(...args: Parameters<RowGroupPool['rowGroupBlocks']>) {
      watcher.streams += 1;
      const stream = pool.rowGroupBlocks(...args);
      return (async function* () {
        try {
          yield* stream;
        } catch (error) {
          failures.push((error as { code?: string }).code ?? String(error));
          throw error;
        }
      })();
    },
  };
  return watcher;
}

describe('Parquet row groups on threads', () => {
  it('stream back as many blocks as the sink takes, equal to the calling thread', async () => {
    const sequential = await ingest();
    expect(sequential.bodies).toHaveLength(ROWS);
    expect(sequential.deadLetters).toBe(0);
    const pool = createParquetThreadPool(2);
    try {
      const threads = watched(pool);
      const pooled = await ingest(threads);
      expect(threads.streams).toBe(2);
      expect(threads.failures).toEqual([]);
      expect(pooled.bodies).toEqual(sequential.bodies);
      expect({ ...pooled.summary, durationMs: 0 }).toEqual({ ...sequential.summary, durationMs: 0 });
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('run a row group too large for a thread on the calling thread, and lose nothing', async () => {
    const sequential = await ingest(undefined, wide);
    // A 16 MB heap holds the thread's code and a slice of ordinary orders, but not 1,500 rows of ~30 KB.
    const pool = createParquetThreadPool(1, 16);
    try {
      const threads = watched(pool);
      const pooled = await ingest(threads, wide);
      expect(threads.failures).toEqual(['OUT_OF_MEMORY']);
      // Rows of ~30 KB make a block several publishes, which other blocks in flight interleave with.
      expect(inRowOrder(pooled.bodies)).toEqual(inRowOrder(sequential.bodies));
      expect(pooled.summary.rowsRead).toBe(3000);
      expect({ ...pooled.summary, durationMs: 0 }).toEqual({ ...sequential.summary, durationMs: 0 });
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('go on from the last block handed on when a thread runs out of memory mid row group', async () => {
    const sequential = await ingest();
    const pool = createParquetThreadPool(2);
    try {
      // The pool hands on 5 blocks of each row group, then fails as a thread out of memory would.
      const failing: RowGroupPool = {
        size: pool.size,
        rowGroupBlocks(...args) {
          const stream = pool.rowGroupBlocks(...args);
          return (async function* () {
            let handed = 0;
            for await (const block of stream) {
              if (handed++ === 5) throw new DropgateError('OUT_OF_MEMORY', 'out of its capped heap');
              yield block;
            }
          })();
        },
      };
      const pooled = await ingest(failing);
      expect(pooled.bodies).toEqual(sequential.bodies);
      expect({ ...pooled.summary, durationMs: 0 }).toEqual({ ...sequential.summary, durationMs: 0 });
    } finally {
      await pool.close();
    }
  }, 60_000);
});
