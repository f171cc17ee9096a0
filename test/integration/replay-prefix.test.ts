/**
 * Replay by prefix and time range over HTTP: every current version under a prefix, written in
 * [since, until), is replayed and recorded as a replay; versions the ledger never saw are ingested as
 * new; a dry run records nothing; a version another worker holds is skipped; bad combinations get a 400
 * naming the field; nothing happens without the admin token.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  call,
  expectError,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;
beforeEach(async () => {
  gateway = await startTestGateway();
});
afterEach(() => gateway.close());

/** Writes an object straight into the local bucket (no notification), last modified at `modified`. */
async function put(key: string, body: string, modified: Date) {
  const path = join(gateway.dataDir, 'bucket', key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
  await utimes(path, modified, modified);
}

const replay = (json: Record<string, unknown>, token = ADMIN_TOKEN) =>
  call(gateway, 'POST', '/admin/replay', { token, json });

const january = new Date('2024-01-15T00:00:00Z');
const march = new Date('2024-03-15T00:00:00Z');

/** Two January files, one March file and one no dataset covers; all but `new.csv` ingested once. */
async function landFiles() {
  await put('vendors/acme/orders/jan-1.csv', ordersFile(3).csv, january);
  await put('vendors/acme/orders/jan-2.csv', ordersFile(4).csv, january);
  await put('vendors/acme/orders/mar.csv', ordersFile(5).csv, march);
  await put('vendors/acme/unknown/x.csv', 'x\n', january);
  expect(
    (await call(gateway, 'POST', '/admin/backfill', { token: ADMIN_TOKEN, json: { prefix: '' } })).status,
  ).toBe(202);
  await gateway.running.gateway.idle();
  await put('vendors/acme/orders/jan-new.csv', ordersFile(2).csv, january);
}

const summaries = async () =>
  (await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files')).map((summary) => [
    summary.data.objectKey,
    summary.data.replay,
  ]);

describe('POST /admin/replay { prefix }', () => {
  it('replays what a time range holds, ingests unseen versions as new, and a dry run records nothing', async () => {
    await landFiles();
    const range = { prefix: 'vendors/acme/', since: '2024-01-01T00:00:00Z', until: '2024-02-01T00:00:00Z' };

    const dry = await replay({ ...range, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      prefix: 'vendors/acme/',
      dryRun: true,
      scanned: 5,
      matched: 3,
      replayed: 2,
      new: 1,
      skipped: { noDataset: 1, outsideRange: 1, inProgress: 0 },
      keys: [
        'vendors/acme/orders/jan-1.csv',
        'vendors/acme/orders/jan-2.csv',
        'vendors/acme/orders/jan-new.csv',
      ],
    });
    await gateway.running.gateway.idle();
    expect(await summaries()).toHaveLength(3);

    const real = await replay(range);
    expect(real.status).toBe(202);
    expect(real.body).toMatchObject({ dryRun: false, matched: 3, replayed: 2, new: 1 });
    await gateway.running.gateway.idle();
    expect((await summaries()).sort()).toEqual(
      [
        ['vendors/acme/orders/jan-1.csv', 0],
        ['vendors/acme/orders/jan-1.csv', 1],
        ['vendors/acme/orders/jan-2.csv', 0],
        ['vendors/acme/orders/jan-2.csv', 1],
        ['vendors/acme/orders/jan-new.csv', 0],
        ['vendors/acme/orders/mar.csv', 0],
      ].sort(),
    );
    const replayed = await call(gateway, 'GET', '/admin/files/vendors/acme/orders/jan-1.csv', {
      token: ADMIN_TOKEN,
    });
    expect(replayed.body).toMatchObject({ state: 'ingested', attempts: 2, replays: 1 });
    const fresh = await call(gateway, 'GET', '/admin/files/vendors/acme/orders/jan-new.csv', {
      token: ADMIN_TOKEN,
    });
    expect(fresh.body).toMatchObject({ state: 'ingested', via: 'admin-replay', attempts: 1, replays: 0 });
    // The March file was outside the range: still ingested once.
    const untouched = await call(gateway, 'GET', '/admin/files/vendors/acme/orders/mar.csv', {
      token: ADMIN_TOKEN,
    });
    expect(untouched.body).toMatchObject({ attempts: 1, replays: 0 });
  });

  it('goes on by cursor, replaying every object once across the steps', async () => {
    await landFiles();
    const keys: string[] = [];
    let cursor: string | undefined;
    let steps = 0;
    do {
      const response = await replay({
        prefix: 'vendors/acme/orders/',
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      const body = response.body as { keys: string[]; cursor?: string; scanned: number };
      expect(body.scanned).toBeLessThanOrEqual(1);
      keys.push(...body.keys);
      cursor = body.cursor;
      steps++;
    } while (cursor);
    expect(steps).toBeGreaterThanOrEqual(4);
    expect(keys).toEqual(
      ['jan-1', 'jan-2', 'jan-new', 'mar'].map((name) => `vendors/acme/orders/${name}.csv`),
    );
    await gateway.running.gateway.idle();
    expect(await summaries()).toHaveLength(7);
  });

  it('skips a version another worker is ingesting and says so', async () => {
    await landFiles();
    const ledger = await createLocalLedger({ directory: join(gateway.dataDir, 'ledger') });
    const busy = await gateway.running.gateway.fileStatus('vendors/acme/orders/jan-1.csv');
    const claim = await ledger.claim(busy!, {
      dataset: 'orders',
      owner: 'other-instance',
      leaseMs: 60_000,
      mode: 'replay',
    });
    expect(claim.claimed).toBe(true);

    const response = await replay({ prefix: 'vendors/acme/orders/jan-' });
    expect(response.body).toMatchObject({
      matched: 3,
      replayed: 1,
      new: 1,
      skipped: { inProgress: 1 },
      keys: ['vendors/acme/orders/jan-2.csv', 'vendors/acme/orders/jan-new.csv'],
    });
    await gateway.running.gateway.idle();
    const status = await gateway.running.gateway.fileStatus('vendors/acme/orders/jan-1.csv');
    expect(status).toMatchObject({ state: 'processing', owner: 'other-instance', replays: 1 });
  });

  it('answers 400 naming the problem for each bad combination, and replays nothing', async () => {
    await landFiles();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ objectKey: 'vendors/acme/orders/a.csv', prefix: 'vendors/' }, 'not both'],
      [{ since: '2024-01-01T00:00:00Z' }, 'objectKey'],
      [{ objectKey: 'vendors/acme/orders/a.csv', since: '2024-01-01T00:00:00Z' }, 'since: goes with prefix'],
      [{ prefix: '', since: 'yesterday' }, 'since'],
      [{ prefix: '', until: '2024-13-01T00:00:00Z' }, 'until'],
      [{ prefix: '', since: '2024-02-01T00:00:00Z', until: '2024-02-01T00:00:00Z' }, 'must be before until'],
      [{ prefix: '', since: '2024-03-01T00:00:00Z', until: '2024-02-01T00:00:00Z' }, 'must be before until'],
      [{ prefix: '', limit: 0 }, 'limit'],
      [{ prefix: '', force: true }, 'force'],
    ];
    for (const [json, problem] of bad) {
      const error = expectError(await replay(json), 400, 'BAD_REQUEST');
      expect(error.message, JSON.stringify(json)).toContain(problem);
    }
    await gateway.running.gateway.idle();
    expect(await summaries()).toHaveLength(3);
  });

  it('is refused without the admin token, and replays nothing', async () => {
    await landFiles();
    expectError(await replay({ prefix: '' }, VENDOR_KEY), 401, 'UNAUTHORIZED');
    expectError(await call(gateway, 'POST', '/admin/replay', { json: { prefix: '' } }), 401, 'UNAUTHORIZED');
    await gateway.running.gateway.idle();
    expect(await summaries()).toHaveLength(3);
    expect((await gateway.running.gateway.fileStatus('vendors/acme/orders/jan-1.csv'))?.replays).toBe(0);
  });
});
