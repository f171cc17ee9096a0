/**
 * Backfill over HTTP: objects that reached the bucket without a notification (one lost, or written before
 * Dropgate ran) are found by listing, recorded once and ingested; a dry run records nothing; what the
 * ledger knows is left alone; a large listing goes on by cursor.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  call,
  expectError,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;
beforeEach(async () => {
  gateway = await startTestGateway();
});
afterEach(() => gateway.close());

/** Writes an object straight into the local bucket: no upload, so no notification. */
async function putSilently(key: string, body: string, modified?: Date) {
  const path = join(gateway.dataDir, 'bucket', key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
  if (modified) await utimes(path, modified, modified);
}

const backfill = (json: Record<string, unknown>, token = ADMIN_TOKEN) =>
  call(gateway, 'POST', '/admin/backfill', { token, json });

describe('POST /admin/backfill', () => {
  it('records and ingests only the versions the ledger never saw; a dry run records nothing', async () => {
    const notified = await upload(gateway, 'notified.csv', ordersFile(5).csv);
    await gateway.running.gateway.idle();
    await putSilently('vendors/acme/orders/2024-01-01/lost-1.csv', ordersFile(7).csv);
    await putSilently('vendors/acme/orders/2024-01-01/lost-2.csv', ordersFile(9).csv);
    await putSilently('elsewhere/no-dataset.csv', 'x\n');

    const dry = await backfill({ prefix: '', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      prefix: '',
      dryRun: true,
      scanned: 4,
      recorded: 2,
      known: 1,
      unmatched: 1,
      older: 0,
      keys: ['vendors/acme/orders/2024-01-01/lost-1.csv', 'vendors/acme/orders/2024-01-01/lost-2.csv'],
    });
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(1);

    const real = await backfill({ prefix: 'vendors/' });
    expect(real.status).toBe(202);
    expect(real.body).toMatchObject({ dryRun: false, scanned: 3, recorded: 2, known: 1, unmatched: 0 });
    await gateway.running.gateway.idle();
    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries.map((summary) => [summary.data.objectKey, summary.data.rowsRead]).sort()).toEqual([
      ['vendors/acme/orders/2024-01-01/lost-1.csv', 7],
      ['vendors/acme/orders/2024-01-01/lost-2.csv', 9],
      [notified.objectKey, 5],
    ]);
    const status = await call(gateway, 'GET', '/admin/files/vendors/acme/orders/2024-01-01/lost-1.csv', {
      token: ADMIN_TOKEN,
    });
    expect(status.body).toMatchObject({ state: 'ingested', via: 'backfill', attempts: 1 });

    // Everything is known now: a second backfill records nothing and ingests nothing again.
    const again = await backfill({ prefix: '' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ recorded: 0, known: 3, unmatched: 1 });
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(3);
  });

  it('takes only versions written since a given instant', async () => {
    await putSilently('vendors/acme/orders/old.csv', ordersFile(2).csv, new Date('2020-01-01T00:00:00Z'));
    await putSilently('vendors/acme/orders/new.csv', ordersFile(2).csv);
    const response = await backfill({ prefix: 'vendors/acme/', since: '2024-06-01T00:00:00Z', dryRun: true });
    expect(response.body).toMatchObject({
      scanned: 2,
      recorded: 1,
      older: 1,
      keys: ['vendors/acme/orders/new.csv'],
    });
  });

  it('goes on by cursor, covering every object once across the steps', async () => {
    for (let index = 0; index < 5; index++) {
      await putSilently(`vendors/acme/orders/f${index}.csv`, ordersFile(1).csv);
    }
    const keys: string[] = [];
    let cursor: string | undefined;
    let steps = 0;
    do {
      const response = await backfill({ prefix: 'vendors/', limit: 2, ...(cursor ? { cursor } : {}) });
      const body = response.body as { keys: string[]; cursor?: string; scanned: number };
      expect(body.scanned).toBeLessThanOrEqual(2);
      keys.push(...body.keys);
      cursor = body.cursor;
      steps++;
    } while (cursor);
    expect(steps).toBeGreaterThanOrEqual(3);
    expect(keys).toEqual([0, 1, 2, 3, 4].map((index) => `vendors/acme/orders/f${index}.csv`));
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(5);
  });

  it('is refused without the admin token, and names the field at fault in a bad request', async () => {
    expectError(await backfill({ prefix: '' }, VENDOR_KEY), 401, 'UNAUTHORIZED');
    expectError(
      await call(gateway, 'POST', '/admin/backfill', { json: { prefix: '' } }),
      401,
      'UNAUTHORIZED',
    );
    const badSince = expectError(await backfill({ prefix: '', since: 'yesterday' }), 400, 'BAD_REQUEST');
    expect(badSince.message).toContain('since');
    const noPrefix = expectError(await backfill({}), 400, 'BAD_REQUEST');
    expect(noPrefix.message).toContain('prefix');
    const extra = expectError(await backfill({ prefix: '', force: true }), 400, 'BAD_REQUEST');
    expect(extra.message).toContain('force');
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(0);
  });
});
