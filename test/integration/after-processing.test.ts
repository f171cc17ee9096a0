/**
 * After-processing actions through a real gateway on the local store: an ingested file is moved to its
 * archive prefix (or deleted) only once the ledger recorded its end, a rejected one to quarantine; the
 * moved copies are never ingested again, and a replay of a moved key names where it went.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  call,
  expectError,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;
afterEach(() => gateway.close());

const dataset = (overrides: Record<string, unknown>) => ({
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(process.cwd(), 'schemas/orders/v2.json'),
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
  ...overrides,
});

const exists = (key: string) =>
  stat(join(gateway.dataDir, 'bucket', key)).then(
    () => true,
    () => false,
  );

describe('after-processing actions', () => {
  it('moves an ingested file to the archive and a rejected one to quarantine, after the ledger records them', async () => {
    gateway = await startTestGateway({
      configFile: {
        datasets: [
          dataset({
            afterIngest: { action: 'move', prefix: 'archive/' },
            onRejected: { action: 'move', prefix: 'quarantine/' },
          }),
        ],
      },
    });
    const { csv } = ordersFile(6);
    const good = await upload(gateway, 'good.csv', csv);
    const bad = await upload(gateway, 'bad.csv.gz', 'this is not gzip');
    await gateway.running.gateway.idle();

    expect(await exists(good.objectKey)).toBe(false);
    expect(await readFile(join(gateway.dataDir, 'bucket', 'archive', good.objectKey), 'utf8')).toBe(csv);
    expect(await exists(bad.objectKey)).toBe(false);
    expect(await exists(`quarantine/${bad.objectKey}`)).toBe(true);
    expect((await readTopic(gateway.dataDir, 'orders')).length).toBe(6);
    const goodRecord = await gateway.running.gateway.fileStatus(good.objectKey);
    expect(goodRecord).toMatchObject({ state: 'ingested', version: good.version });
    expect(await gateway.running.gateway.fileStatus(bad.objectKey)).toMatchObject({ state: 'rejected' });

    // The move comes after the file's end is recorded (the "file finished" line follows ledger.finish).
    const lines = gateway.logs.filter((line) => line.includes(good.objectKey));
    const finished = lines.findIndex((line) => line.includes('file finished'));
    const moved = lines.findIndex((line) => line.includes('file moved after processing'));
    expect(finished).toBeGreaterThanOrEqual(0);
    expect(moved).toBeGreaterThan(finished);

    const metrics = await call(gateway, 'GET', '/metrics', { token: ADMIN_TOKEN });
    expect(metrics.body).toContain(
      'dropgate_after_processing_actions_total{dataset="orders",action="move",outcome="done"} 2',
    );

    // The archived and quarantined copies match no dataset: a backfill over them records nothing.
    const backfill = await call(gateway, 'POST', '/admin/backfill', {
      token: ADMIN_TOKEN,
      json: { prefix: '' },
    });
    expect(backfill.body).toMatchObject({ scanned: 2, recorded: 0, unmatched: 2 });

    // Replaying the moved key says where the file went.
    const replay = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: good.objectKey },
    });
    expect(expectError(replay, 404, 'OBJECT_NOT_FOUND').message).toContain(
      `moved to archive/${good.objectKey}`,
    );
  });

  it('deletes an ingested file once its events are durable, and keeps files by default', async () => {
    gateway = await startTestGateway({
      configFile: { datasets: [dataset({ afterIngest: { action: 'delete' } })] },
    });
    const good = await upload(gateway, 'good.csv', ordersFile(3).csv);
    const bad = await upload(gateway, 'bad.csv.gz', 'this is not gzip');
    await gateway.running.gateway.idle();
    expect(await exists(good.objectKey)).toBe(false);
    expect((await readTopic(gateway.dataDir, 'orders')).length).toBe(3);
    expect(await gateway.running.gateway.fileStatus(good.objectKey)).toMatchObject({ state: 'ingested' });
    // onRejected defaults to keep.
    expect(await exists(bad.objectKey)).toBe(true);
  });

  it('counts a failed action and leaves the file where it was, ingested, for a replay', async () => {
    gateway = await startTestGateway({
      configFile: { datasets: [dataset({ afterIngest: { action: 'move', prefix: 'archive/' } })] },
    });
    // A file where the archive directory should be: every move there fails.
    await writeFile(join(gateway.dataDir, 'bucket', 'archive'), 'not a directory');
    const good = await upload(gateway, 'good.csv', ordersFile(3).csv);
    await gateway.running.gateway.idle();

    expect(await exists(good.objectKey)).toBe(true);
    expect(await gateway.running.gateway.fileStatus(good.objectKey)).toMatchObject({ state: 'ingested' });
    expect(gateway.logs.some((line) => line.includes('after-processing action failed'))).toBe(true);
    const metrics = await call(gateway, 'GET', '/metrics', { token: ADMIN_TOKEN });
    expect(metrics.body).toContain(
      'dropgate_after_processing_actions_total{dataset="orders",action="move",outcome="failed"} 1',
    );
    expect(metrics.body).not.toContain('outcome="done"');
  });
});
