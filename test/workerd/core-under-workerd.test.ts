/**
 * The ingestion core runs unchanged under workerd: the product's worker bundle builds and serves
 * /healthz, and a test Worker ingesting a CSV inside workerd publishes exactly the events Node publishes.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { standaloneValidatorModule } from '../../schemas/standalone-validator.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { harnessDataset, runHarness } from './run-harness.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const wrangler = join(root, 'node_modules/.bin/wrangler');
const outdir = join(root, '.wrangler/test');

async function bundle(config: string, out: string): Promise<string> {
  await run(wrangler, ['deploy', '--dry-run', '--config', config, '--outdir', out], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  return out;
}

const csv = [
  '\ufefforder_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note',
  'A-1,c1,S1,2,9.99,EUR,2026-11-24T10:00:00Z,2026-11-30,yes,"multi',
  'line, ""quoted"" note — café €"',
  'A-2,c2,S2,0,1,eur,2026-11-24T10:00:00Z,,,',
  'A-3,c3,S3,1,1.5,USD,2026-11-24T10:00:00Z,,false,日本語',
  'A-4,c4,S4,1',
  '',
].join('\r\n');

describe('core under workerd', () => {
  let harness: Miniflare;
  let product: Miniflare;

  beforeAll(async () => {
    const schema = JSON.parse(await readFile(join(root, 'schemas/orders/v1.json'), 'utf8'));
    await mkdir(join(root, 'test/workerd/generated'), { recursive: true });
    await writeFile(
      join(root, 'test/workerd/generated/orders-v1.validator.js'),
      standaloneValidatorModule(schema, '../../../schemas/rfc3339-formats.ts'),
    );
    const [harnessDir, productDir] = await Promise.all([
      bundle(join(root, 'test/workerd/wrangler.toml'), join(outdir, 'harness')),
      bundle(join(root, 'wrangler.toml'), join(outdir, 'product')),
    ]);
    const options = { modules: true, compatibilityDate: '2025-09-01', compatibilityFlags: ['nodejs_compat'] };
    harness = new Miniflare({ ...options, scriptPath: join(harnessDir, 'harness.js') });
    product = new Miniflare({ ...options, scriptPath: join(productDir, 'index.js') });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([harness?.dispose(), product?.dispose()]);
  });

  /** Ingests one file inside workerd and on Node with the same inputs; returns both runs' events. */
  async function ingestInBoth(key: string, bytes: Uint8Array, workerdSegmentBytes?: number) {
    const updated = '2026-11-24T12:00:00.000Z';
    const segments = workerdSegmentBytes === undefined ? '' : `&segmentBytes=${workerdSegmentBytes}`;
    const response = await harness.dispatchFetch(
      `http://localhost/ingest?key=${encodeURIComponent(key)}&updated=${encodeURIComponent(updated)}${segments}`,
      { method: 'POST', body: bytes },
    );
    expect(response.status).toBe(200);
    const inWorkerd = (await response.json()) as Awaited<ReturnType<typeof runHarness>>;
    const schema = JSON.parse(await readFile(join(root, 'schemas/orders/v1.json'), 'utf8'));
    const onNode = await runHarness(
      {
        store: createMemoryObjectStore({ chunkSize: 1024 }),
        sink: createMemoryEventSink(),
        ledger: createMemoryLedger(),
        ingestFile,
      },
      harnessDataset(schema, createAjvValidatorFactory()(schema, 'orders/v1')),
      { key, updated, bytes },
    );
    return { inWorkerd, onNode };
  }

  test('the product worker bundle compiles no WebAssembly at run time (Workers forbid it)', async () => {
    const bundled = await readFile(join(outdir, 'product/index.js'), 'utf8');
    expect(bundled).toContain('parquetMetadataAsync');
    expect(bundled).not.toMatch(/new WebAssembly\.Module|WebAssembly\.(compile|instantiate)\(/);
  });

  test('the product worker bundle serves /healthz with the core bundled in', async () => {
    const response = await product.dispatchFetch('http://localhost/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', runtime: 'workerd', core: true });
  });

  test('a CSV ingested inside workerd yields exactly the events Node yields', async () => {
    const { inWorkerd, onNode } = await ingestInBoth(
      'vendors/acme/orders/2026-11-24/batch.csv',
      new TextEncoder().encode(csv),
    );

    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd).toEqual(onNode);
    const rows = inWorkerd.topics.orders as Array<{ rownumber: number; data: Record<string, unknown> }>;
    expect(rows.map((event) => event.rownumber)).toEqual([1, 3]);
    expect(rows[0]!.data.note).toBe('multi\r\nline, "quoted" note — café €');
    expect(rows[1]!.data.note).toBe('日本語');
    const dead = inWorkerd.topics['orders.dead-letter'] as Array<{
      data: { line: number; errors: unknown[] };
    }>;
    expect(dead.map((event) => event.data.line)).toEqual([4, 6]);
  });
  test('a CSV cut into segments inside workerd yields exactly the events the sequential parser on Node yields', async () => {
    const { inWorkerd, onNode } = await ingestInBoth(
      'vendors/acme/orders/2026-11-24/batch.csv',
      new TextEncoder().encode(csv),
      16,
    );
    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd.segments).toBeGreaterThan(3);
    expect({ ...inWorkerd, segments: 0 }).toEqual(onNode);
  });

  test('a Parquet file read by range reads inside workerd yields exactly the events Node yields', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'dropgate-workerd-'));
    const path = join(directory, 'orders.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(`
      COPY (SELECT 'ORD-' || i AS order_id, 'c' || i AS customer_id, 'SKU' AS sku, (i % 3)::INTEGER AS quantity,
                   (i * 1.25)::DECIMAL(10, 2) AS unit_price, 'EUR' AS currency,
                   TIMESTAMP '2026-11-24 10:00:00.123456' + INTERVAL (i) MINUTE AS ordered_at,
                   CASE WHEN i % 2 = 0 THEN DATE '2026-12-01' END AS ship_by, i % 2 = 0 AS gift, 'café' AS note
            FROM range(500) t(i))
      TO '${path}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100)`);
    connection.closeSync();
    instance.closeSync();
    const bytes = new Uint8Array(await readFile(path));
    await rm(directory, { recursive: true, force: true });

    const { inWorkerd, onNode } = await ingestInBoth('vendors/acme/orders/2026-11-24/orders.parquet', bytes);

    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd).toEqual(onNode);
    const rows = inWorkerd.topics.orders as Array<{ rownumber: number; data: Record<string, unknown> }>;
    // Quantity 0 (every third row) breaks the schema's minimum: those rows are dead letters.
    expect(rows).toHaveLength(500 - 167);
    expect(rows[0]!.data).toEqual({
      order_id: 'ORD-1',
      customer_id: 'c1',
      sku: 'SKU',
      quantity: 1,
      unit_price: 1.25,
      currency: 'EUR',
      ordered_at: '2026-11-24T10:01:00.123456Z',
      ship_by: null,
      gift: false,
      note: 'café',
    });
    expect((inWorkerd.topics['orders.dead-letter'] as unknown[]).length).toBe(167);
  });
});
