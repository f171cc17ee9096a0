/**
 * A drifted Parquet file written by DuckDB (columns renamed, in other case, optional ones left out, and
 * columns nobody announced of every kind: text, INT64 past 2^53, bytes, a list, a struct, a date) under
 * each drift rule, on the calling thread and with row groups decoded by worker threads: rejected with
 * the columns named, rescued as JSON values into `_rescued`, or ignored and counted; a row that fails
 * validation keeps every column in its dead letter. Nothing is lost silently.
 */
import { parquetMetadata } from 'hyparquet';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createParquetThreadPool } from '../../app/node/ingest-threads.js';
import type { ColumnRules, RowSchema } from '../../schemas/dataset.js';
import ordersV2 from '../../schemas/orders/v2.json' with { type: 'json' };
import { ingestFile, type FileSummary } from '../../workers/ingest-file.js';
import type { RowGroupPool } from '../../workers/parquet/parquet-row-source.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import type { CloudEvent, DeadLetterData } from '../support/cloud-events.js';
import { testDataset } from '../support/datasets.js';
import { driftedOrdersQuery, openTabular, writeParquet } from '../support/parquet-fixtures.js';

const KEY = 'vendors/acme/orders/drifted.parquet';
/** More rows than one DuckDB chunk (2,048), in row groups of 1,000: several row groups for the threads. */
const ROWS = 2_500;
/** Row 7 has quantity 0, which the schema refuses. */
const INVALID_ROW = 7;

const ADDED = ['promo', 'region', 'big', 'payload', 'tags', 'point', 'day'];
const EXPECTED_DRIFT = {
  added: ADDED,
  missing: ['ship_by', 'gift', 'channel'],
  renamed: { 'Order ID': 'order_id', SKU: 'sku', 'unit price': 'unit_price' },
};

/** The values every unknown column holds in row `n`, as JSON (promo is null in every third row). */
function unknownValues(n: number): Record<string, unknown> {
  return {
    ...(n % 3 === 0 ? {} : { promo: `P${n}` }),
    region: 'EU',
    big: String(9007199254740993n + BigInt(n)),
    payload: 'AP8=',
    tags: [n, null],
    point: { a: n, b: 'x' },
    day: '2024-02-29',
  };
}

function schemaValues(n: number): Record<string, unknown> {
  return {
    order_id: `ORD-${n}`,
    customer_id: `CUST-${n % 7}`,
    sku: `SKU-${n}`,
    quantity: n === INVALID_ROW ? 0 : 2,
    unit_price: 9.5,
    currency: 'EUR',
    ordered_at: '2024-05-01T10:00:00.000000Z',
    note: `n${n}`,
  };
}

const rowNumbers = Array.from({ length: ROWS }, (_, index) => index + 1);
const acceptedRows = rowNumbers.filter((n) => n !== INVALID_ROW);
/** Non-null values of the unknown columns in the accepted rows. */
const acceptedUnknownValues = acceptedRows.reduce(
  (total, n) => total + Object.keys(unknownValues(n)).length,
  0,
);

const driftedQuery = driftedOrdersQuery(ROWS, INVALID_ROW);

let directory: TemporaryDirectory;
let drifted: Uint8Array;
/** The drifted file without its currency column, which the schema requires. */
let withoutCurrency: Uint8Array;
const threads = createParquetThreadPool(2);

beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-drift');
  const { connection, close } = await openTabular();
  const write = async (name: string, query: string) =>
    new Uint8Array(
      await readFile(await writeParquet(connection, directory.path, name, query, 'ROW_GROUP_SIZE 1000')),
    );
  try {
    drifted = await write('drifted', driftedQuery);
    withoutCurrency = await write('without-currency', `SELECT * EXCLUDE (currency) FROM (${driftedQuery})`);
  } finally {
    close();
  }
  // Several row groups, so the threads decode the file in parts.
  const buffer = drifted.buffer.slice(drifted.byteOffset, drifted.byteOffset + drifted.byteLength);
  expect(parquetMetadata(buffer as ArrayBuffer).row_groups.length).toBeGreaterThan(1);
}, 60_000);
afterAll(async () => {
  await threads.close();
  await directory.remove();
});

interface Run {
  status: string;
  summary: FileSummary | undefined;
  events: Array<{ row: number; data: Record<string, unknown> }>;
  deadLetters: DeadLetterData[];
}

const parse = (topicEvents: Array<{ body: string }>) =>
  topicEvents.map((event) => JSON.parse(event.body) as CloudEvent);

async function ingestWith(bytes: Uint8Array, rules: ColumnRules, pool?: RowGroupPool): Promise<Run> {
  const store = createMemoryObjectStore();
  const sink = createMemoryEventSink();
  store.put(KEY, bytes, { updated: '2024-05-01T12:00:00.000Z' });
  const dataset = testDataset({ format: 'parquet', schema: ordersV2 as RowSchema, csv: { columns: rules } });
  const result = await ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: 'files',
      owner: 'parquet-drift',
      ...(pool ? { rowGroupPool: pool } : {}),
    },
    { dataset, key: KEY, mode: 'notification' },
  );
  return {
    status: result.status,
    summary: 'summary' in result ? { ...result.summary, durationMs: 0 } : undefined,
    events: parse(sink.events('orders')).map((event) => ({
      row: event.rownumber as number,
      data: event.data as Record<string, unknown>,
    })),
    deadLetters: parse(sink.events('orders.dead-letter')).map(
      (event) => event.data as unknown as DeadLetterData,
    ),
  };
}

/** Ingests on the calling thread and with the thread pool; both must publish the same. */
async function ingest(bytes: Uint8Array, unknown: ColumnRules['unknown']): Promise<Run> {
  const rules: ColumnRules = {
    ...(unknown ? { unknown } : {}),
    matching: 'insensitive',
    aliases: { order_id: ['Order ID'], unit_price: ['unit price'] },
  };
  const sequential = await ingestWith(bytes, rules);
  const pooled = await ingestWith(bytes, rules, threads);
  expect(pooled).toEqual(sequential);
  return sequential;
}

describe('drift rules on a Parquet file', () => {
  it('reject: the file is rejected, naming the columns the schema does not declare', async () => {
    const run = await ingest(drifted, 'reject');
    expect(run.status).toBe('rejected');
    expect(run.summary?.error?.message).toBe(
      `columns: column(s) ${ADDED.join(', ')} are not in the schema, and the dataset's drift rule is reject`,
    );
    expect(run.summary?.drift).toBeUndefined();
    expect(run.events).toEqual([]);
    expect(run.deadLetters).toEqual([]);
  });

  it('rescue: every unknown value rides along as JSON in _rescued, renamed columns land on their property', async () => {
    const run = await ingest(drifted, 'rescue');
    expect(run.status).toBe('ingested');
    expect(run.summary).toMatchObject({ rowsRead: ROWS, rowsPublished: ROWS - 1, rowsRejected: 1 });
    expect(run.summary?.drift).toEqual({
      ...EXPECTED_DRIFT,
      unknown: 'rescue',
      rowsRescued: ROWS - 1,
      valuesIgnored: 0,
    });
    expect(run.events).toEqual(
      acceptedRows.map((n) => ({ row: n, data: { ...schemaValues(n), _rescued: unknownValues(n) } })),
    );
  });

  it('ignore: unknown values are dropped from the events, their columns named and values counted', async () => {
    const run = await ingest(drifted, 'ignore');
    expect(run.status).toBe('ingested');
    expect(run.summary?.drift).toEqual({
      ...EXPECTED_DRIFT,
      unknown: 'ignore',
      rowsRescued: 0,
      valuesIgnored: acceptedUnknownValues,
    });
    expect(run.events).toEqual(acceptedRows.map((n) => ({ row: n, data: schemaValues(n) })));
  });

  it.each(['rescue', 'ignore'] as const)(
    '%s: a row the schema refuses keeps every column, unknown ones too, in its dead letter',
    async (unknown) => {
      const run = await ingest(drifted, unknown);
      expect(run.deadLetters).toHaveLength(1);
      const [deadLetter] = run.deadLetters;
      expect(deadLetter).toMatchObject({ row: INVALID_ROW, errors: [{ field: 'quantity' }] });
      const { order_id, sku, unit_price, ...same } = schemaValues(INVALID_ROW);
      expect(deadLetter!.raw).toEqual({
        'Order ID': order_id,
        SKU: sku,
        'unit price': unit_price,
        ...same,
        ...unknownValues(INVALID_ROW),
        promo: `P${INVALID_ROW}`,
      });
      // Under the file's column order, as the vendor wrote it.
      expect(Object.keys(deadLetter!.raw as object).slice(0, 3)).toEqual(['Order ID', 'customer_id', 'SKU']);
    },
  );

  it('a missing required column rejects the file, naming it, whatever the rule', async () => {
    const run = await ingest(withoutCurrency, 'rescue');
    expect(run.status).toBe('rejected');
    expect(run.summary?.error?.message).toMatch(
      /^columns: missing required column\(s\) currency; the file has Order ID, customer_id, SKU, /,
    );
    expect(run.events).toEqual([]);
  });
});
