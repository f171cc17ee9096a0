/** What an operator sees when a replay or a status request cannot be served, against a real gateway. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
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

beforeAll(async () => {
  gateway = await startTestGateway();
});

afterAll(async () => {
  await gateway.close();
});

const replay = (json: unknown) => call(gateway, 'POST', '/admin/replay', { token: ADMIN_TOKEN, json });

describe('POST /admin/replay', () => {
  it('answers 404 for a key the bucket does not hold', async () => {
    const key = 'vendors/acme/orders/2024-05-01/never-uploaded.csv';
    const error = expectError(await replay({ objectKey: key }), 404, 'OBJECT_NOT_FOUND');
    expect(error.message).toContain(key);
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toEqual([]);
  });

  it('answers 422 for a key no dataset covers', async () => {
    const key = 'vendors/acme/invoices/2024-05-01/x.csv';
    const error = expectError(await replay({ objectKey: key }), 422, 'NO_DATASET_MATCHES');
    expect(error.message).toContain(key);
  });

  it('answers 400 when the body is not JSON', async () => {
    const response = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      body: '{"objectKey":',
      headers: { 'content-type': 'application/json' },
    });
    expect(expectError(response, 400, 'BAD_REQUEST').message).toContain('JSON');
  });

  it.each([[{}], [{ objectKey: '' }], [{ objectKey: 42 }], [{ objectKey: 'a.csv', force: true }]])(
    'answers 400 naming the problem for the body %j',
    async (json) => {
      const error = expectError(await replay(json), 400, 'BAD_REQUEST');
      expect(error.message).toMatch(/objectKey|force/);
    },
  );
  it('answers 409 while another worker holds the file, and replays nothing', async () => {
    const stored = await upload(gateway, 'busy.csv', ordersFile(4).csv);
    await gateway.running.gateway.idle();
    // Another gateway instance sharing the ledger has just started replaying this version.
    const ledger = await createLocalLedger({ directory: join(gateway.dataDir, 'ledger') });
    const ref = { bucket: 'local', key: stored.objectKey, version: stored.version };
    const claim = await ledger.claim(ref, {
      dataset: 'orders',
      owner: 'other-instance',
      leaseMs: 60_000,
      mode: 'replay',
    });
    expect(claim.claimed).toBe(true);

    const error = expectError(await replay({ objectKey: stored.objectKey }), 409, 'CONFLICT');
    expect(error.message).toContain(stored.objectKey);
    await gateway.running.gateway.idle();
    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.filter((event) => event.subject === stored.objectKey)).toHaveLength(4);
    const status = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ state: 'processing', owner: 'other-instance' });
  });
});

describe('GET /admin/files/<objectKey>', () => {
  it('answers 404 for a key with no recorded ingestion', async () => {
    const key = 'vendors/acme/orders/2024-05-01/unknown.csv';
    const response = await call(gateway, 'GET', `/admin/files/${key}`, { token: ADMIN_TOKEN });
    expect(expectError(response, 404, 'NOT_FOUND').message).toContain(key);
  });

  it('answers 400 for a key that is not valid percent-encoding', async () => {
    const response = await call(gateway, 'GET', '/admin/files/vendors/acme/%E0%A4%A', { token: ADMIN_TOKEN });
    expectError(response, 400, 'BAD_REQUEST');
  });
});
