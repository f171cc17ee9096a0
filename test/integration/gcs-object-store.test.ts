/**
 * The `gcs` store beyond the contract, against the GCS stand-in: reads pinned to a generation across an
 * overwrite, byte ranges, listing pages, gzip objects kept compressed, and SDK failures as DropgateErrors
 * with the right retryability. Also what the stand-in must do for the SDK: preconditions, resumable uploads.
 */
import { Storage, type Bucket } from '@google-cloud/storage';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';
import { createGcsObjectStore } from '../../adapters/object-store/gcs/gcs-object-store.js';
import type { ObjectStore } from '../../adapters/ports.js';
import { expectCode, outcome, readAll } from '../contract/object-store-support.js';
import { useGcsStandIn } from './support/gcs.js';

const gcs = useGcsStandIn();
let bucketName: string;
let store: ObjectStore;
let writer: Bucket;
let buckets = 0;

beforeEach(() => {
  bucketName = `store-${++buckets}`;
  gcs.standIn.createBucket(bucketName);
  store = createGcsObjectStore({ bucket: bucketName, keyFile: gcs.account.keyFile, maxRetries: 0 });
  writer = new Storage({ keyFilename: gcs.account.keyFile }).bucket(bucketName);
});

async function save(
  key: string,
  content: string | Buffer,
  options: { contentType?: string; contentEncoding?: string } = {},
) {
  const file = writer.file(key);
  await file.save(content, {
    resumable: false,
    contentType: options.contentType ?? 'text/csv',
    ...(options.contentEncoding ? { metadata: { contentEncoding: options.contentEncoding } } : {}),
  });
  return String(file.metadata.generation);
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('reads pinned to a generation', () => {
  it('fails OBJECT_VERSION_GONE for the old generation after an overwrite, and serves the new one whole', async () => {
    const first = await save('orders.csv', 'old,old\n1,1\n');
    const second = await save('orders.csv', 'new,new,new\n2,2,2\n');
    expect(BigInt(second)).toBeGreaterThan(BigInt(first));
    expect((await store.stat('orders.csv'))?.version).toBe(second);

    await expectCode(store.read('orders.csv', first), 'OBJECT_VERSION_GONE');
    await expectCode(store.readRange('orders.csv', first, 0, 4), 'OBJECT_VERSION_GONE');
    await expectCode(store.readRange('orders.csv', first, 3, 3), 'OBJECT_VERSION_GONE');
    expect(text(await readAll(await store.read('orders.csv', second)))).toBe('new,new,new\n2,2,2\n');
    expect(text(await store.readRange('orders.csv', second, 0, 4))).toBe('new,');
    // Every read named its generation: none could have fetched whatever is current.
    const reads = gcs.standIn.requests.filter((request) => request.includes('alt=media'));
    expect(reads.length).toBeGreaterThan(0);
    for (const request of reads) expect(request).toMatch(/[?&]generation=\d+/);
  });

  it('fails OBJECT_VERSION_GONE once the object is deleted, and stat finds nothing', async () => {
    const generation = await save('gone.csv', 'a\n');
    await writer.file('gone.csv').delete();
    expect(await store.stat('gone.csv')).toBeUndefined();
    await expectCode(store.read('gone.csv', generation), 'OBJECT_VERSION_GONE');
  });

  it('keeps a gzip object compressed: the stored bytes, size and contentEncoding', async () => {
    const plain = 'id,amount\n'.repeat(200);
    const compressed = gzipSync(plain);
    const generation = await save('orders.csv.gz', compressed, {
      contentType: 'text/csv',
      contentEncoding: 'gzip',
    });
    const info = await store.stat('orders.csv.gz');
    expect(info).toMatchObject({ size: compressed.byteLength, contentEncoding: 'gzip', version: generation });
    expect(
      Buffer.compare(Buffer.from(await readAll(await store.read('orders.csv.gz', generation))), compressed),
    ).toBe(0);
    expect(
      Buffer.compare(
        Buffer.from(await store.readRange('orders.csv.gz', generation, 0, 10)),
        compressed.subarray(0, 10),
      ),
    ).toBe(0);
  });
});

describe('byte ranges', () => {
  it('returns [start, end) clamped to the size, as Parquet footers are read', async () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, index) => index % 251));
    const generation = await save('data.parquet', bytes, { contentType: 'application/vnd.apache.parquet' });
    for (const [start, end] of [
      [0, 1],
      [4992, 5000],
      [4992, 9000],
      [1234, 4321],
      [0, 5000],
    ] as const) {
      expect(
        Buffer.compare(
          Buffer.from(await store.readRange('data.parquet', generation, start, end)),
          bytes.subarray(start, end),
        ),
      ).toBe(0);
    }
    expect((await store.readRange('data.parquet', generation, 5000, 5008)).byteLength).toBe(0);
    expect((await store.readRange('data.parquet', generation, 6000, 7000)).byteLength).toBe(0);
  });
});

describe('listing', () => {
  it('pages with the page token: limit objects a page, in key order, each with its generation', async () => {
    const keys = Array.from(
      { length: 25 },
      (_, index) => `vendors/acme/orders/${String(index).padStart(2, '0')}.csv`,
    );
    const generations = new Map<string, string>();
    for (const key of keys) generations.set(key, await save(key, `${key}\n`));
    await save('vendors/globex/orders/x.csv', 'x\n');

    const pages = [];
    let cursor: string | undefined;
    do {
      const page = await store.list('vendors/acme/', { limit: 10, ...(cursor ? { cursor } : {}) });
      pages.push(page.objects);
      cursor = page.cursor;
    } while (cursor);
    expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
    const listed = pages.flat();
    expect(listed.map((object) => object.key)).toEqual(keys);
    for (const object of listed) {
      expect(object).toMatchObject({
        bucket: bucketName,
        version: generations.get(object.key),
        contentType: 'text/csv',
      });
      expect(object.size).toBe(object.key.length + 1);
    }
    const listRequests = gcs.standIn.requests.filter((request) => /\/b\/store-\d+\/o\?/.test(request));
    expect(
      listRequests.some((request) => request.includes('maxResults=10') && request.includes('pageToken=')),
    ).toBe(true);
  });

  it('refuses a cursor from another listing with BAD_REQUEST', async () => {
    for (const key of ['a/1.csv', 'a/2.csv', 'b/1.csv']) await save(key, 'x\n');
    const page = await store.list('a/', { limit: 1 });
    expect(page.cursor).toBeDefined();
    await expectCode(store.list('b/', { cursor: page.cursor!, limit: 1 }), 'BAD_REQUEST');
  });
});

describe('failures', () => {
  it.each([
    [503, 'OBJECT_READ_FAILED', true],
    [500, 'OBJECT_READ_FAILED', true],
    [429, 'OBJECT_READ_FAILED', true],
    [403, 'FORBIDDEN', false],
  ] as const)('maps a %s from GCS to %s (retryable: %s)', async (status, code, retryable) => {
    const generation = await save('a.csv', 'a\n');
    const operations: Array<() => Promise<unknown>> = [
      () => store.stat('a.csv'),
      () => store.read('a.csv', generation),
      () => store.list(''),
    ];
    for (const operation of operations) {
      gcs.standIn.failNext(status);
      const result = await outcome(operation());
      expect(result).toHaveProperty('error');
      const error = 'error' in result ? result.error : undefined;
      expect(isDropgateError(error, code), String(error)).toBe(true);
      expect(isDropgateError(error) && error.retryable).toBe(retryable);
    }
  });

  it('fails a whole read whose bytes do not match the MD5 GCS holds with OBJECT_READ_FAILED, retryable', async () => {
    const content = 'id,amount\n'.repeat(1000);
    const generation = await save('damaged.csv', content);
    gcs.standIn.corruptNextDownload();
    const damaged = await outcome(store.read('damaged.csv', generation).then(readAll));
    const error = 'error' in damaged ? damaged.error : undefined;
    expect(isDropgateError(error, 'OBJECT_READ_FAILED'), String(error)).toBe(true);
    expect(isDropgateError(error) && error.retryable).toBe(true);
    expect(text(await readAll(await store.read('damaged.csv', generation)))).toBe(content);
  });

  it('lets the SDK retry a passing 503 on its own when retries are allowed', async () => {
    const generation = await save('a.csv', 'a\n');
    const patient = createGcsObjectStore({ bucket: bucketName, keyFile: gcs.account.keyFile, maxRetries: 1 });
    gcs.standIn.failNext(503);
    expect(text(await readAll(await patient.read('a.csv', generation)))).toBe('a\n');
  });

  it('fails OBJECT_NOT_FOUND or gone for a bucket that does not exist, never undefined from stat', async () => {
    const missing = createGcsObjectStore({
      bucket: 'no-such-bucket',
      keyFile: gcs.account.keyFile,
      maxRetries: 0,
    });
    // GCS answers 404 for the object of a missing bucket too: stat cannot tell them apart.
    expect(await missing.stat('a.csv')).toBeUndefined();
    await expectCode(missing.read('a.csv', '1'), 'OBJECT_VERSION_GONE');
    await expectCode(missing.list(''), 'OBJECT_NOT_FOUND');
  });
});

describe('the stand-in, as the SDK uses it', () => {
  it('enforces ifGenerationMatch: 0 for a new object only, a stale generation refused with 412', async () => {
    const file = writer.file('guarded.csv');
    await file.save('one\n', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const first = String(file.metadata.generation);
    await expect(
      writer
        .file('guarded.csv')
        .save('two\n', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ code: 412 });
    await writer
      .file('guarded.csv')
      .save('two\n', { resumable: false, preconditionOpts: { ifGenerationMatch: Number(first) } });
    await expect(
      writer
        .file('guarded.csv')
        .save('three\n', { resumable: false, preconditionOpts: { ifGenerationMatch: Number(first) } }),
    ).rejects.toMatchObject({ code: 412 });
    expect(gcs.standIn.object(bucketName, 'guarded.csv')?.bytes.toString()).toBe('two\n');
  });

  it('takes resumable uploads, one request or several chunks', async () => {
    const big = Buffer.alloc(600 * 1024, 7);
    await writer
      .file('resumable.bin')
      .save(big, { resumable: true, contentType: 'application/octet-stream' });
    await writer.file('chunked.bin').save(big, { resumable: true, chunkSize: 256 * 1024 });
    for (const key of ['resumable.bin', 'chunked.bin']) {
      const info = await store.stat(key);
      expect(info?.size).toBe(big.byteLength);
      expect(Buffer.compare(Buffer.from(await readAll(await store.read(key, info!.version))), big)).toBe(0);
    }
  });
});
