/**
 * Versions side by side: files written for orders v1 and v2 ingest through one gateway, each validated
 * and stamped with its own version; a retired or unknown version is refused with the reason.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic, type FileSummaryData } from './support/events.js';
import { ORDERS_HEADER, orderData, orderLine } from './support/orders-csv.js';
import {
  call,
  expectError,
  putUpload,
  requestUpload,
  startTestGateway,
  VENDOR_KEY,
  type StoredUpload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;

afterEach(async () => {
  await gateway.close();
});

const V1_FILE = [ORDERS_HEADER, orderLine(1), orderLine(2)].join('\n');
const V2_FILE = [`${ORDERS_HEADER},channel`, `${orderLine(3)},web`, `${orderLine(4)},`].join('\n');

async function uploadFor(schemaVersion: number | undefined, filename: string, body: string) {
  const grant = await requestUpload(gateway, {
    dataset: 'orders',
    filename,
    ...(schemaVersion === undefined ? {} : { schemaVersion }),
  });
  const stored = await putUpload(grant, body);
  expect(stored.status, JSON.stringify(stored.body)).toBe(201);
  return stored.body as StoredUpload;
}

const summaries = async () =>
  (await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files')).map((event) => ({
    key: event.subject,
    type: event.type,
    schemaversion: event.schemaversion,
    state: event.data.state,
    error: event.data.error,
  }));

describe('orders v1 and v2 side by side (embedded config: the folder schemas/orders)', () => {
  it('validates and stamps each file with the version its key names, and the latest when it names none', async () => {
    gateway = await startTestGateway();
    const v1 = await uploadFor(1, 'old-export.csv', V1_FILE);
    const v2 = await uploadFor(2, 'new-export.csv', V2_FILE);
    const latest = await uploadFor(undefined, 'unnamed.csv', V2_FILE);
    await gateway.running.gateway.idle();

    expect(v1.objectKey).toMatch(/^vendors\/acme\/orders\/v1\/\d{4}-\d\d-\d\d\/old-export\.csv$/);
    expect(v2.objectKey).toMatch(/^vendors\/acme\/orders\/v2\//);
    const events = await readTopic(gateway.dataDir, 'orders');
    const stamped = (key: string) =>
      events
        .filter((event) => event.subject === key)
        .map((event) => [event.schemaversion, event.dataschema, event.data]);
    expect(stamped(v1.objectKey)).toEqual([
      [1, 'urn:dropgate:schema:orders:v1', orderData(1)],
      [1, 'urn:dropgate:schema:orders:v1', orderData(2)],
    ]);
    expect(stamped(v2.objectKey)).toEqual([
      [2, 'urn:dropgate:schema:orders:v2', { ...orderData(3), channel: 'web' }],
      [2, 'urn:dropgate:schema:orders:v2', { ...orderData(4), channel: null }],
    ]);
    expect(stamped(latest.objectKey).map(([version]) => version)).toEqual([2, 2]);
    expect(await summaries()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: v1.objectKey, schemaversion: 1, state: 'ingested' }),
        expect.objectContaining({ key: v2.objectKey, schemaversion: 2, state: 'ingested' }),
      ]),
    );
  });

  it('rejects a v2 file sent as v1: the v1 schema has no channel column', async () => {
    gateway = await startTestGateway();
    const stored = await uploadFor(1, 'mislabelled.csv', V2_FILE);
    await gateway.running.gateway.idle();

    expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
    const [summary] = await summaries();
    expect(summary).toMatchObject({ key: stored.objectKey, schemaversion: 1, state: 'rejected' });
    expect(summary!.error?.message).toContain('channel');
  });
});

describe('a dataset that pins a version and retires another', () => {
  const config = (overrides: Record<string, unknown>) => ({
    configFile: {
      datasets: [
        {
          name: 'orders',
          match: 'vendors/*/orders/**',
          schema: join(process.cwd(), 'schemas/orders'),
          eventType: 'OrderReceived',
          topic: 'orders',
          deadLetterTopic: 'orders.dead-letter',
          ...overrides,
        },
      ],
    },
  });

  it('stamps files that name no version with the pinned one', async () => {
    gateway = await startTestGateway(config({ version: 1 }));
    const stored = await uploadFor(undefined, 'pinned.csv', V1_FILE);
    await gateway.running.gateway.idle();

    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => [event.subject, event.schemaversion])).toEqual([
      [stored.objectKey, 1],
      [stored.objectKey, 1],
    ]);
  });

  it('refuses an upload URL for a retired version, naming the live ones', async () => {
    gateway = await startTestGateway(config({ retired: [1] }));
    const response = await call(gateway, 'POST', '/v1/uploads', {
      token: VENDOR_KEY,
      json: { dataset: 'orders', filename: 'old.csv', schemaVersion: 1 },
    });
    const error = expectError(response, 422, 'SCHEMA_VERSION_REFUSED');
    expect(error.message).toBe('version 1 of dataset orders is retired; files must be written for v2');
    const unknown = await call(gateway, 'POST', '/v1/uploads', {
      token: VENDOR_KEY,
      json: { dataset: 'orders', filename: 'future.csv', schemaVersion: 9 },
    });
    expect(expectError(unknown, 422, 'SCHEMA_VERSION_REFUSED').message).toBe(
      'dataset orders has no schema version 9; files must be written for v2',
    );
  });

  it('rejects a file that lands under a retired version folder, and says why in the summary and the ledger', async () => {
    gateway = await startTestGateway(config({ retired: [1] }));
    // Landed by other means than an upload URL (a bucket notification, a copy): the key names v1.
    const key = 'vendors/acme/orders/v1/2026-11-24/late.csv';
    const path = join(gateway.dataDir, 'bucket', key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, V1_FILE);
    const [outcome] = await gateway.running.gateway.accept(
      { landings: [{ bucket: 'local', key, kind: 'finalized', via: 'test' }] },
      'inline',
    );

    expect(outcome!.status).toBe('rejected');
    expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
    const [summary] = await summaries();
    expect(summary).toMatchObject({ key, type: 'FileRejected', schemaversion: 1, state: 'rejected' });
    expect(summary!.error).toMatchObject({
      code: 'SCHEMA_VERSION_REFUSED',
      message: 'version 1 of dataset orders is retired; files must be written for v2',
    });
    const record = await gateway.running.gateway.fileStatus(key);
    expect(record?.outcome).toMatchObject({ state: 'rejected', schemaVersion: 1 });
  });
});
