/** An operator reads the load history over HTTP: one row per object version, filtered and paged. */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersFile } from './support/orders-csv.js';
import { ADMIN_TOKEN, call, startTestGateway, upload, type TestGateway } from './support/test-gateway.js';
import type { FileRow } from '../../app/file-row.js';

let gateway: TestGateway;
/** Keys in upload order: with errors, rejected, clean. */
let keys: { withErrors: string; rejected: string; clean: string };
let firstSeen: string[];

interface Page {
  files: FileRow[];
  cursor?: string;
}

const history = async (query = '') => {
  const response = await call<Page>(gateway, 'GET', `/admin/files${query}`, { token: ADMIN_TOKEN });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
};

beforeAll(async () => {
  gateway = await startTestGateway();
  const withErrors = await upload(gateway, 'with-errors.csv', ordersFile(12, 5).csv);
  await gateway.running.gateway.idle();
  const rejected = await upload(gateway, 'no-sku.csv', 'order_id,customer_id\nORD-1,CUST-1\n');
  await gateway.running.gateway.idle();
  const clean = await upload(gateway, 'clean.csv', ordersFile(3).csv);
  await gateway.running.gateway.idle();
  keys = { withErrors: withErrors.objectKey, rejected: rejected.objectKey, clean: clean.objectKey };
  firstSeen = (await history()).files.map((row) => row.firstSeenAt).reverse();
});

afterAll(async () => {
  await gateway.close();
});

describe('GET /admin/files', () => {
  it('answers one row per version, newest first, with counts, first errors by line and timings', async () => {
    const { files, cursor } = await history();
    expect(cursor).toBeUndefined();
    expect(files.map((row) => row.key)).toEqual([keys.clean, keys.rejected, keys.withErrors]);
    const row = files[2]!;
    expect(row).toMatchObject({
      dataset: 'orders',
      state: 'ingested',
      attempts: 1,
      replays: 0,
      replayRequested: false,
      via: 'local-upload',
      schemaVersion: 2,
      rowsRead: 12,
      rowsPublished: 10,
      rowsRejected: 2,
      error: null,
      progress: null,
    });
    expect(row.firstErrors).toEqual([
      { row: 5, line: 6, field: 'quantity', reason: expect.any(String) },
      { row: 10, line: 11, field: 'quantity', reason: expect.any(String) },
    ]);
    expect(Date.parse(row.firstSeenAt)).toBeLessThanOrEqual(Date.parse(row.startedAt!));
    expect(row.durationMs).toBe(Date.parse(row.finishedAt!) - Date.parse(row.startedAt!));
    expect(files[1]).toMatchObject({
      state: 'rejected',
      rowsRead: 0,
      firstErrors: [],
      error: { code: 'FILE_UNREADABLE', message: expect.stringContaining('sku') },
    });
  });

  it('filters by state, dataset and key prefix', async () => {
    expect((await history('?state=rejected')).files.map((row) => row.key)).toEqual([keys.rejected]);
    expect((await history('?state=processing')).files).toEqual([]);
    expect((await history('?dataset=orders')).files).toHaveLength(3);
    expect((await history('?dataset=invoices')).files).toEqual([]);
    const folder = keys.clean.slice(0, keys.clean.lastIndexOf('/') + 1);
    expect(
      (await history(`?prefix=${encodeURIComponent(`${folder}with`)}`)).files.map((row) => row.key),
    ).toEqual([keys.withErrors]);
    expect((await history('?prefix=vendors/globex/')).files).toEqual([]);
  });

  it('filters by when a version was first seen, since inclusive and until exclusive', async () => {
    const [first, second, third] = firstSeen.map(encodeURIComponent);
    const keysOf = async (query: string) => (await history(query)).files.map((row) => row.key);
    expect(await keysOf(`?since=${second}`)).toEqual([keys.clean, keys.rejected]);
    expect(await keysOf(`?until=${second}`)).toEqual([keys.withErrors]);
    expect(await keysOf(`?since=${first}&until=${third}`)).toEqual([keys.rejected, keys.withErrors]);
  });

  it('pages with limit and cursor, each version exactly once', async () => {
    const seen: string[] = [];
    let query = '?limit=1';
    for (let pages = 0; pages < 10; pages++) {
      const page = await history(query);
      expect(page.files.length).toBeLessThanOrEqual(1);
      seen.push(...page.files.map((row) => row.key));
      if (!page.cursor) break;
      query = `?limit=1&cursor=${encodeURIComponent(page.cursor)}`;
    }
    expect(seen).toEqual([keys.clean, keys.rejected, keys.withErrors]);
  });

  it('takes empty parameters as absent, as an HTML form sends them', async () => {
    expect((await history('?prefix=&dataset=&state=&since=&until=&cursor=&limit=')).files).toHaveLength(3);
  });
});

describe('GET /admin/files/<objectKey>', () => {
  it("keeps the latest version's record and lists every version of the key, newest first", async () => {
    const again = await upload(gateway, 'with-errors.csv', ordersFile(4).csv);
    const longer = await upload(gateway, 'with-errors.csv.gz', gzipSync(ordersFile(2).csv));
    await gateway.running.gateway.idle();
    expect(longer.objectKey.startsWith(keys.withErrors)).toBe(true);
    expect(again.objectKey).toBe(keys.withErrors);
    const replay = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: keys.withErrors },
    });
    expect(replay.status).toBe(202);
    await gateway.running.gateway.idle();

    const response = await call<{ versions: FileRow[] } & Record<string, unknown>>(
      gateway,
      'GET',
      `/admin/files/${keys.withErrors}`,
      { token: ADMIN_TOKEN },
    );
    expect(response.status).toBe(200);
    // The fields it answered before: the latest version's ledger record.
    expect(response.body).toMatchObject({
      bucket: expect.any(String),
      key: keys.withErrors,
      version: again.version,
      state: 'ingested',
      attempts: 2,
      replays: 1,
      outcome: { rowsRead: 4, rowsPublished: 4, rowsRejected: 0 },
    });
    expect(response.body.versions.map((row) => [row.version, row.rowsRead, row.replays])).toEqual([
      [again.version, 4, 1],
      [expect.not.stringMatching(`^${again.version}$`), 12, 0],
    ]);
    expect(response.body.versions[1]!.firstErrors.map((error) => error.line)).toEqual([6, 11]);
    // The longer key sharing its name as a prefix is not a version of it.
    expect(response.body.versions.every((row) => row.key === keys.withErrors)).toBe(true);
  });
});
