/** An operator reads a file's ingestion state and replays it through a real gateway over HTTP. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idCounts, readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import { ADMIN_TOKEN, call, startTestGateway, upload, type TestGateway } from './support/test-gateway.js';

let gateway: TestGateway;

beforeEach(async () => {
  gateway = await startTestGateway();
});

afterEach(async () => {
  await gateway.close();
});

describe('POST /admin/replay', () => {
  it('re-publishes every row of the file with the same ids and records the replay', async () => {
    const { csv, goodRows, badRows } = ordersFile(25, 6);
    const stored = await upload(gateway, 'orders.csv', csv);
    await gateway.running.gateway.idle();
    const firstEvents = await readTopic(gateway.dataDir, 'orders');
    expect(firstEvents).toHaveLength(goodRows.length);

    const replay = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: stored.objectKey },
    });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({
      objectKey: stored.objectKey,
      version: stored.version,
      dataset: 'orders',
      status: 'scheduled',
      statusUrl: `/admin/files/${stored.objectKey}`,
    });
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    const counts = idCounts(events);
    expect([...counts.keys()].sort()).toEqual(firstEvents.map((event) => event.id).sort());
    expect([...counts.values()].every((count) => count === 2)).toBe(true);
    // The replayed events carry the same rows, not just the same ids.
    expect(events.slice(goodRows.length)).toEqual(firstEvents);
    const deadLetters = await readTopic(gateway.dataDir, 'orders.dead-letter');
    expect(deadLetters).toHaveLength(badRows.length * 2);
    expect([...idCounts(deadLetters).values()].every((count) => count === 2)).toBe(true);

    const status = await call(gateway, 'GET', (replay.body as { statusUrl: string }).statusUrl, {
      token: ADMIN_TOKEN,
    });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      key: stored.objectKey,
      version: stored.version,
      state: 'ingested',
      attempts: 2,
      replays: 1,
      outcome: { rowsRead: 25, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });

    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries.map((summary) => summary.type)).toEqual(['FileIngested', 'FileIngested']);
    expect(summaries[1]!.id).not.toBe(summaries[0]!.id);
    expect(summaries.map((summary) => summary.data.replay)).toEqual([0, 1]);
    expect(summaries[1]!.data).toMatchObject({
      rowsRead: 25,
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
      resumedFromRow: 0,
    });
  });

  it('gives every replay its own summary id', async () => {
    const stored = await upload(gateway, 'orders.csv', ordersFile(3).csv);
    await gateway.running.gateway.idle();
    for (let replay = 0; replay < 2; replay++) {
      const response = await call(gateway, 'POST', '/admin/replay', {
        token: ADMIN_TOKEN,
        json: { objectKey: stored.objectKey },
      });
      expect(response.status).toBe(202);
      await gateway.running.gateway.idle();
    }

    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries.map((summary) => summary.data.replay)).toEqual([0, 1, 2]);
    expect(new Set(summaries.map((summary) => summary.id)).size).toBe(3);
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(9);
    const status = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ state: 'ingested', attempts: 3, replays: 2 });
  });
});

describe('GET /admin/files/<objectKey>', () => {
  it('reports a rejected file with the reason and the line it stopped at', async () => {
    const stored = await upload(gateway, 'orders.csv', 'order_id,customer_id\nORD-1,CUST-1\n');
    await gateway.running.gateway.idle();

    const status = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      state: 'rejected',
      outcome: {
        state: 'rejected',
        rowsRead: 0,
        rowsPublished: 0,
        error: { code: 'FILE_UNREADABLE', message: expect.stringContaining('sku') },
      },
    });
    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries.map((summary) => summary.type)).toEqual(['FileRejected']);
    expect(summaries[0]!.data.error).toMatchObject({ code: 'FILE_UNREADABLE', line: 1 });
    expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
  });

  it('accepts the key percent-encoded, as the statusUrl and HTTP clients write it', async () => {
    const stored = await upload(gateway, 'orders_v1.2-final.csv', ordersFile(2).csv);
    await gateway.running.gateway.idle();
    const encoded = stored.objectKey.split('/').map(encodeURIComponent).join('/');

    const status = await call(gateway, 'GET', `/admin/files/${encoded.replace('.', '%2E')}`, {
      token: ADMIN_TOKEN,
    });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ key: stored.objectKey, state: 'ingested' });
  });
});
