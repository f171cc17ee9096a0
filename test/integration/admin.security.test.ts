/** The admin endpoints answer the admin token only, and never reach outside the bucket, on a real gateway. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  call,
  expectError,
  startTestGateway,
  upload,
  type StoredUpload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;
let stored: StoredUpload;
const { csv, goodRows } = ordersFile(5);

beforeAll(async () => {
  gateway = await startTestGateway();
  stored = await upload(gateway, 'orders.csv', csv);
  await gateway.running.gateway.idle();
  expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(goodRows.length);
});

afterAll(async () => {
  await gateway.close();
});

/** Events on the orders topic once background work has settled. */
async function publishedCount(): Promise<number> {
  await gateway.running.gateway.idle();
  return (await readTopic(gateway.dataDir, 'orders')).length;
}

const wrongCredentials: Array<[string, Record<string, string>]> = [
  ['no Authorization header', {}],
  ['a vendor key', { authorization: `Bearer ${VENDOR_KEY}` }],
  ['a wrong token', { authorization: 'Bearer not-the-admin-token-0000' }],
  ['the admin token with a character more', { authorization: `Bearer ${ADMIN_TOKEN}0` }],
  ['the admin token as Basic credentials', { authorization: `Basic ${ADMIN_TOKEN}` }],
  ['the admin token in another header', { 'x-admin-token': ADMIN_TOKEN }],
];

describe('GET /admin/files/<objectKey>', () => {
  it.each(wrongCredentials)('answers 401 to %s', async (_label, headers) => {
    const response = await call(gateway, 'GET', `/admin/files/${stored.objectKey}`, { headers });
    expect(expectError(response, 401, 'UNAUTHORIZED').message).toContain('admin token');
  });

  it('answers 401, not 404, for unknown keys without the token, so keys cannot be probed', async () => {
    const response = await call(gateway, 'GET', '/admin/files/vendors/acme/orders/nope.csv', {
      token: VENDOR_KEY,
    });
    expectError(response, 401, 'UNAUTHORIZED');
  });
});

describe('admin paths written unusually', () => {
  /** Sends the path exactly as written: fetch would normalise it first. */
  function rawRequest(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const headers = body
        ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
        : {};
      const outgoing = request({ host: url.hostname, port: url.port, method, path, headers }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  it.each([
    '//admin/files/KEY',
    '/admin//files/KEY',
    '/./admin/files/KEY',
    '/x/../admin/files/KEY',
    '/%61dmin/files/KEY',
    '/admin%2Ffiles/KEY',
    '/ADMIN/files/KEY',
  ])('never shows a file record without the token at %s', async (template) => {
    const response = await rawRequest('GET', template.replace('KEY', stored.objectKey));
    expect([401, 404]).toContain(response.status);
    expect(response.text).not.toContain('"state"');
  });

  it.each(['//admin/replay', '/%61dmin/replay', '/admin/./replay'])(
    'never replays without the token at %s',
    async (path) => {
      const before = await publishedCount();
      const response = await rawRequest('POST', path, JSON.stringify({ objectKey: stored.objectKey }));
      expect([401, 404]).toContain(response.status);
      expect(await publishedCount()).toBe(before);
    },
  );
});

describe('POST /admin/replay', () => {
  it.each(wrongCredentials)('answers 401 to %s and replays nothing', async (_label, headers) => {
    const before = await publishedCount();
    const response = await call(gateway, 'POST', '/admin/replay', {
      headers,
      json: { objectKey: stored.objectKey },
    });
    expectError(response, 401, 'UNAUTHORIZED');
    expect(await publishedCount()).toBe(before);
  });

  it.each([
    'vendors/acme/orders/../../../../etc/passwd',
    'vendors/acme/orders/2024-05-01/../../../../../etc/passwd',
    '/etc/passwd',
    'vendors/acme/orders//x.csv',
  ])('refuses the key %j that would reach outside the bucket', async (objectKey) => {
    const response = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey },
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const file = await call(gateway, 'GET', `/admin/files/${objectKey}`, { token: ADMIN_TOKEN });
    expect(file.status).toBeGreaterThanOrEqual(400);
    expect(file.status).toBeLessThan(500);
  });

  it('still replays with the admin token', async () => {
    const before = await publishedCount();
    const response = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: stored.objectKey },
    });
    expect(response.status).toBe(202);
    await gateway.running.gateway.idle();
    expect(await publishedCount()).toBe(before + goodRows.length);
  });
});
