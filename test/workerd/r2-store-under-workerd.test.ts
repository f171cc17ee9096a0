/**
 * The R2 store's copy inside workerd, where its streamed put runs as deployed: the contract suite
 * (test/contract/r2-object-store.test.ts) reaches R2 through Miniflare's proxy, which cannot send a stream
 * with its length, so there the harness buffers the copy's body.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { R2BucketBinding } from '../../adapters/object-store/r2/r2-object-store.js';
import { root } from './support/edge-worker.js';

const script = join(root, '.wrangler/test', `r2-store-worker-${process.pid}.js`);
let miniflare: Miniflare;
let bucket: R2BucketBinding;

beforeAll(async () => {
  await build({
    entryPoints: [join(root, 'test/workerd/support/r2-store-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    outfile: script,
    logLevel: 'warning',
  });
  miniflare = new Miniflare({
    modules: true,
    scriptPath: script,
    compatibilityDate: '2026-04-01',
    r2Buckets: ['BUCKET'],
  });
  bucket = (await miniflare.getR2Bucket('BUCKET')) as unknown as R2BucketBinding;
});

afterAll(async () => {
  await miniflare?.dispose();
  await rm(script, { force: true });
});

const copy = async (key: string, version: string, to: string) => {
  const query = new URLSearchParams({ key, version, to });
  const response = await miniflare.dispatchFetch(`http://worker/copy?${query}`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

it('streams a copy of a multi-megabyte version, content type kept, and copies nothing of a replaced one', async () => {
  const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 5));
  const source = await bucket.put('vendors/acme/orders/big.csv', bytes, {
    httpMetadata: { contentType: 'text/csv' },
  });
  const copied = await copy('vendors/acme/orders/big.csv', source!.etag, 'archive/big.csv');
  expect(copied).toMatchObject({
    status: 200,
    body: { key: 'archive/big.csv', size: bytes.byteLength, contentType: 'text/csv' },
  });
  const archived = await bucket.get('archive/big.csv');
  const archivedBytes = new Uint8Array(
    await new Response((archived as { body: ReadableStream }).body).arrayBuffer(),
  );
  expect(Buffer.compare(Buffer.from(archivedBytes), Buffer.from(bytes))).toBe(0);

  await bucket.put('vendors/acme/orders/big.csv', 'a newer upload\n');
  expect(await copy('vendors/acme/orders/big.csv', source!.etag, 'archive/stale.csv')).toEqual({
    status: 409,
    body: { code: 'OBJECT_VERSION_GONE' },
  });
  expect(await bucket.head('archive/stale.csv')).toBeNull();
});
