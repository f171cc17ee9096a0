/**
 * The ingestion core runs unchanged under workerd: the product's worker bundle builds and serves
 * /healthz, and a test Worker ingesting a CSV inside workerd publishes exactly the events Node publishes.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
    product = new Miniflare({ ...options, scriptPath: join(productDir, 'worker.js') });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([harness?.dispose(), product?.dispose()]);
  });

  test('the product worker bundle serves /healthz with the core bundled in', async () => {
    const response = await product.dispatchFetch('http://localhost/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', runtime: 'workerd', core: true });
  });

  test('a CSV ingested inside workerd yields exactly the events Node yields', async () => {
    const key = 'vendors/acme/orders/2026-11-24/batch.csv';
    const updated = '2026-11-24T12:00:00.000Z';
    const response = await harness.dispatchFetch(
      `http://localhost/ingest?key=${encodeURIComponent(key)}&updated=${encodeURIComponent(updated)}`,
      { method: 'POST', body: new TextEncoder().encode(csv) },
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
      { key, updated, bytes: new TextEncoder().encode(csv) },
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
});
