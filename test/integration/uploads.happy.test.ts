/** A vendor uploads files through a real gateway over HTTP and their rows come out as events. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import type { Landing } from '../../adapters/ports.js';
import { idCounts, readTopic, type DeadLetterData, type FileSummaryData } from './support/events.js';
import { ORDERS_HEADER, badOrderLine, orderData, orderLine, ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  OTHER_VENDOR_KEY,
  SIGNING_SECRET,
  call,
  putUpload,
  requestUpload,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;

beforeEach(async () => {
  gateway = await startTestGateway();
});

afterEach(async () => {
  await gateway.close();
});

const today = () => new Date().toISOString().slice(0, 10);

describe('POST /v1/uploads', () => {
  it('issues a signed PUT URL for a key in the vendor’s dated folder of the dataset', async () => {
    const before = Date.now();
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'orders-2024-05.csv' });

    expect(grant.objectKey).toBe(`vendors/acme/orders/${today()}/orders-2024-05.csv`);
    expect(grant.method).toBe('PUT');
    expect(grant.headers).toEqual({ 'content-type': 'text/csv' });
    expect(grant.uploadUrl.startsWith(`${gateway.url}/`)).toBe(true);
    expect(new URL(grant.uploadUrl).pathname).toBe(`/v1/local-uploads/${grant.objectKey}`);
    expect(grant.maxBytes).toBe(5 * 1024 ** 3);
    // The embedded default is 15 minutes.
    const expiresIn = Date.parse(grant.expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000 + 1000);
  });

  it('asks for gzip when the file is a .csv.gz, and limits the URL to the size the vendor declared', async () => {
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'orders.csv.gz', size: 1234 });

    expect(grant.objectKey).toBe(`vendors/acme/orders/${today()}/orders.csv.gz`);
    expect(grant.headers).toEqual({ 'content-type': 'application/gzip' });
    expect(grant.maxBytes).toBe(1234);
  });

  it('files each vendor’s uploads under that vendor, whoever asks', async () => {
    const grant = await requestUpload(
      gateway,
      { dataset: 'orders', filename: 'orders.csv' },
      OTHER_VENDOR_KEY,
    );

    expect(grant.objectKey).toBe(`vendors/globex/orders/${today()}/orders.csv`);
  });
});

describe('PUT to the upload URL', () => {
  it('turns good rows into events, bad rows into dead letters with their lines, and reports the file', async () => {
    const csv = [
      ORDERS_HEADER,
      orderLine(1), // line 2
      'ORD-2,CUST-2,SKU-2,2,3.5,EUR,2024-05-01T10:00:00Z,,,"first line\nsecond line"', // lines 3-4
      'ORD-3,CUST-3,SKU-3,two,3.5,EUR,2024-05-01T10:00:00Z,,,', // line 5: quantity is not a number
      orderLine(4), // line 6
      'ORD-5,CUST-5,SKU-5,1,3.5,eur,yesterday,,,', // line 7: currency and ordered_at are wrong
    ].join('\n');

    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'orders.csv' });
    const stored = await putUpload(grant, csv);
    expect(stored.status).toBe(201);
    expect(stored.body).toMatchObject({
      objectKey: grant.objectKey,
      version: expect.any(String),
      size: Buffer.byteLength(csv),
      ingestion: 'pending',
    });
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.data)).toEqual([
      orderData(1),
      {
        order_id: 'ORD-2',
        customer_id: 'CUST-2',
        sku: 'SKU-2',
        quantity: 2,
        unit_price: 3.5,
        currency: 'EUR',
        ordered_at: '2024-05-01T10:00:00Z',
        ship_by: null,
        gift: null,
        note: 'first line\nsecond line',
      },
      orderData(4),
    ]);
    expect(events.map((event) => event.rownumber)).toEqual([1, 2, 4]);
    for (const event of events) {
      expect(event).toMatchObject({
        specversion: '1.0',
        type: 'OrderReceived',
        subject: grant.objectKey,
        dataset: 'orders',
        schemaversion: 2,
      });
    }
    expect(idCounts(events).size).toBe(3);

    const deadLetters = await readTopic<DeadLetterData>(gateway.dataDir, 'orders.dead-letter');
    expect(deadLetters.map((event) => event.type)).toEqual(['RowRejected', 'RowRejected']);
    expect(deadLetters.map(({ data }) => ({ row: data.row, line: data.line }))).toEqual([
      { row: 3, line: 5 },
      { row: 5, line: 7 },
    ]);
    expect(deadLetters[0]!.data.errors.map((issue) => issue.field)).toEqual(['quantity']);
    expect(deadLetters[1]!.data.errors.map((issue) => issue.field).sort()).toEqual([
      'currency',
      'ordered_at',
    ]);
    expect(deadLetters[0]!.data.raw).toBe('ORD-3,CUST-3,SKU-3,two,3.5,EUR,2024-05-01T10:00:00Z,,,');
    expect(deadLetters[0]!.data.objectKey).toBe(grant.objectKey);

    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.type).toBe('FileIngested');
    expect(summaries[0]!.data).toMatchObject({
      dataset: 'orders',
      objectKey: grant.objectKey,
      state: 'ingested',
      rowsRead: 5,
      rowsPublished: 3,
      rowsRejected: 2,
      replay: 0,
    });
    expect(summaries[0]!.data.firstErrors.map(({ row, line, field }) => ({ row, line, field }))).toEqual(
      expect.arrayContaining([
        { row: 3, line: 5, field: 'quantity' },
        { row: 5, line: 7, field: 'currency' },
        { row: 5, line: 7, field: 'ordered_at' },
      ]),
    );

    const status = await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      key: grant.objectKey,
      version: (stored.body as { version: string }).version,
      dataset: 'orders',
      state: 'ingested',
      attempts: 1,
      replays: 0,
      outcome: { state: 'ingested', rowsRead: 5, rowsPublished: 3, rowsRejected: 2, schemaVersion: 2 },
    });
  });

  it.each([
    ['CRLF line ends', '\r\n', '\r\n'],
    ['CR line ends and an LF inside a cell', '\r', '\n'],
    ['CR line ends and a CR inside a cell', '\r', '\r'],
  ])('reports the physical lines of bad rows in a file with %s', async (_label, end, inCell) => {
    const csv = [
      ORDERS_HEADER,
      orderLine(1), // line 2
      `ORD-2,CUST-2,SKU-2,2,3.5,EUR,2024-05-01T10:00:00Z,,,"first line${inCell}second line"`, // lines 3-4
      badOrderLine(3), // line 5
      orderLine(4), // line 6
      badOrderLine(5), // line 7
    ].join(end);
    await upload(gateway, 'orders.csv', `${csv}${end}`);
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.data.note)).toEqual([
      'note 1',
      `first line${inCell}second line`,
      'note 4',
    ]);
    const deadLetters = await readTopic<DeadLetterData>(gateway.dataDir, 'orders.dead-letter');
    expect(deadLetters.map(({ data }) => ({ row: data.row, line: data.line }))).toEqual([
      { row: 3, line: 5 },
      { row: 5, line: 7 },
    ]);
  });

  it('ingests a gzip-compressed file like its plain twin', async () => {
    const { csv, goodRows, badRows } = ordersFile(40, 9);
    const stored = await upload(gateway, 'orders.csv.gz', gzipSync(csv));
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.data)).toEqual(goodRows.map(orderData));
    const deadLetters = await readTopic<DeadLetterData>(gateway.dataDir, 'orders.dead-letter');
    expect(deadLetters.map((event) => event.data.row)).toEqual(badRows);
    expect(deadLetters.map((event) => event.data.line)).toEqual(badRows.map((row) => row + 1));

    const status = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({
      state: 'ingested',
      outcome: { rowsRead: 40, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
  });

  it('ingests a corrected re-upload of the same file name as a new version', async () => {
    const first = await upload(gateway, 'orders.csv', ordersFile(3).csv);
    await gateway.running.gateway.idle();
    const second = await upload(gateway, 'orders.csv', `${ORDERS_HEADER}\n${orderLine(7)}\n`);
    await gateway.running.gateway.idle();

    expect(second.objectKey).toBe(first.objectKey);
    expect(second.version).not.toBe(first.version);
    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.data)).toEqual([
      orderData(1),
      orderData(2),
      orderData(3),
      orderData(7),
    ]);
    const status = await call(gateway, 'GET', `/admin/files/${second.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({
      version: second.version,
      state: 'ingested',
      outcome: { rowsRead: 1, rowsPublished: 1 },
    });
  });
});

/** Hands the gateway one landing as an intake would, in background mode; resolves to its outcome. */
const land = async (landing: Landing) =>
  (await gateway.running.gateway.accept({ landings: [landing] }, 'background'))[0]!.status;

describe('duplicate notifications', () => {
  it('ingests an object version once however often the bucket announces it', async () => {
    const { csv, goodRows, badRows } = ordersFile(30, 7);
    const stored = await upload(gateway, 'orders.csv', csv);
    const notification = {
      // The local store's bucket, as the gateway's own upload notification names it.
      bucket: 'local',
      key: stored.objectKey,
      version: stored.version,
      kind: 'finalized' as const,
      via: 'test-redelivery',
    };
    // The upload recorded the version already: a redelivery finds it pending, or finished.
    expect(['pending', 'duplicate']).toContain(await land(notification));
    expect(['pending', 'duplicate']).toContain(await land(notification));
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events).toHaveLength(goodRows.length);
    expect([...idCounts(events).values()].every((count) => count === 1)).toBe(true);
    const deadLetters = await readTopic(gateway.dataDir, 'orders.dead-letter');
    expect(deadLetters).toHaveLength(badRows.length);
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(1);

    const status = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ state: 'ingested', attempts: 1, replays: 0 });

    // And once more after it finished: still nothing new.
    expect(await land(notification)).toBe('duplicate');
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(goodRows.length);
  });

  it('ingests only the current content when a notification names a version already replaced', async () => {
    const key = 'vendors/acme/orders/2024-05-01/late.csv';
    const path = join(gateway.dataDir, 'bucket', ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    const store = await createLocalObjectStore({
      directory: join(gateway.dataDir, 'bucket'),
      temporaryDirectory: join(gateway.dataDir, 'tmp'),
      baseUrl: gateway.url,
      signingSecret: SIGNING_SECRET,
    });
    await writeFile(path, ordersFile(2).csv);
    const replaced = (await store.stat(key))!;
    await writeFile(`${path}.next`, `${ORDERS_HEADER}\n${orderLine(9)}\n`);
    await rename(`${path}.next`, path);
    const current = (await store.stat(key))!;
    expect(current.version).not.toBe(replaced.version);
    const notify = (version: string) =>
      land({ bucket: 'local', key, version, kind: 'finalized', via: 'test' });

    expect(await notify(replaced.version)).toBe('pending');
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
    // The replaced version's landing is closed, not left unfinished to be retried forever.
    const closed = (await gateway.running.gateway.fileStatus(key))!;
    expect(closed).toMatchObject({
      version: replaced.version,
      state: 'rejected',
      outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
    });

    expect(await notify(current.version)).toBe('pending');
    await gateway.running.gateway.idle();
    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.data)).toEqual([orderData(9)]);
    const status = await call(gateway, 'GET', `/admin/files/${key}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ version: current.version, state: 'ingested', attempts: 1 });
  });

  it.each([
    ['another bucket', { bucket: 'elsewhere' }],
    ['a deletion', { kind: 'deleted' as const }],
    ['a key no dataset covers', { key: 'vendors/acme/invoices/x.csv' }],
  ])('ignores a notification of %s', async (_label, change) => {
    const stored = await upload(gateway, 'orders.csv', ordersFile(2).csv);
    await gateway.running.gateway.idle();
    const notification = {
      bucket: 'local',
      key: stored.objectKey,
      version: stored.version,
      kind: 'finalized' as const,
      via: 'test',
      ...change,
    };

    expect(await land(notification)).toBe('ignored');
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(2);
  });
});
