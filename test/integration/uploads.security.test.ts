/** Who may upload, what a signed upload URL permits, and what the logs never show, on a real gateway. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUploadSigner } from '../../adapters/object-store/upload-signature.js';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  OTHER_VENDOR_KEY,
  SIGNING_SECRET,
  VENDOR_KEY,
  call,
  expectError,
  putUpload,
  requestUpload,
  type UploadGrant,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;

beforeEach(async () => {
  gateway = await startTestGateway();
});

afterEach(async () => {
  await gateway.close();
});

const csv = ordersFile(3).csv;

async function expectNothingStored(...objectKeys: string[]): Promise<void> {
  await gateway.running.gateway.idle();
  for (const objectKey of objectKeys) {
    expect(existsSync(join(gateway.dataDir, 'bucket', ...objectKey.split('/'))), objectKey).toBe(false);
  }
  expect(await readdir(join(gateway.dataDir, 'tmp'))).toEqual([]);
  expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
  expect(await readTopic(gateway.dataDir, 'dropgate.files')).toEqual([]);
}

describe('POST /v1/uploads authentication', () => {
  it.each([
    ['no Authorization header', undefined],
    ['a wrong key', { authorization: 'Bearer not-a-real-vendor-key-000' }],
    ['the admin token', { authorization: `Bearer ${ADMIN_TOKEN}` }],
    ['a vendor key with extra characters', { authorization: `Bearer ${VENDOR_KEY}x` }],
    ['a vendor key cut short', { authorization: `Bearer ${VENDOR_KEY.slice(0, -1)}` }],
    ['the vendor key as Basic credentials', { authorization: `Basic ${VENDOR_KEY}` }],
    ['the vendor key without a scheme', { authorization: VENDOR_KEY }],
  ])('answers 401 to %s', async (_label, headers) => {
    const response = await call(gateway, 'POST', '/v1/uploads', {
      json: { dataset: 'orders', filename: 'orders.csv' },
      ...(headers ? { headers } : {}),
    });
    expect(expectError(response, 401, 'UNAUTHORIZED').message).toContain('vendor API key');
  });

  it('checks the key before looking at the request, so strangers learn nothing about datasets', async () => {
    const response = await call(gateway, 'POST', '/v1/uploads', {
      json: { dataset: 'no-such-dataset', filename: '../x' },
    });
    expectError(response, 401, 'UNAUTHORIZED');
  });

  it('keeps one vendor out of another’s folder', async () => {
    const acme = await requestUpload(gateway, { dataset: 'orders', filename: 'orders.csv' }, VENDOR_KEY);
    const globex = await requestUpload(
      gateway,
      { dataset: 'orders', filename: 'orders.csv' },
      OTHER_VENDOR_KEY,
    );
    expect(acme.objectKey.startsWith('vendors/acme/')).toBe(true);
    expect(globex.objectKey.startsWith('vendors/globex/')).toBe(true);
    // globex's URL cannot be bent to acme's key.
    const bent = globex.uploadUrl.replace('/vendors/globex/', '/vendors/acme/');
    expectError(await putUpload(globex, csv, { url: bent }), 403, 'FORBIDDEN');
    await expectNothingStored(acme.objectKey, globex.objectKey);
  });
});

describe('PUT to a signed upload URL', () => {
  let grant: UploadGrant;

  beforeEach(async () => {
    grant = await requestUpload(gateway, { dataset: 'orders', filename: 'orders.csv' });
  });

  const withParam = (url: string, name: string, value: string | null) => {
    const parsed = new URL(url);
    if (value === null) parsed.searchParams.delete(name);
    else parsed.searchParams.set(name, value);
    return parsed.toString();
  };

  it('stores the file when the URL and headers are used as issued', async () => {
    const response = await putUpload(grant, csv);
    expect(response.status).toBe(201);
    expect(existsSync(join(gateway.dataDir, 'bucket', ...grant.objectKey.split('/')))).toBe(true);
  });

  it.each([
    [
      'a tampered signature',
      (url: string) => url.replace(/signature=(.)/, (_, c) => `signature=${c === 'A' ? 'B' : 'A'}`),
    ],
    ['a signature from another URL', (url: string) => withParam(url, 'signature', 'A'.repeat(43))],
    ['no signature', (url: string) => withParam(url, 'signature', null)],
    ['a signature that is not base64url', (url: string) => withParam(url, 'signature', 'not/base64+')],
    ['a raised size limit', (url: string) => withParam(url, 'maxBytes', '999999999')],
    [
      'a later expiry',
      (url: string) => withParam(url, 'expires', String(Math.floor(Date.now() / 1000) + 86_400)),
    ],
    ['another file name in the path', (url: string) => url.replace('/orders.csv?', '/other.csv?')],
    ['another dataset folder in the path', (url: string) => url.replace('/orders/', '/invoices/')],
    [
      'a path escaping the vendor folder',
      (url: string) => url.replace('/vendors/acme/', '/vendors/acme/%2E%2E/globex/'),
    ],
  ])('answers 403 and stores nothing for %s', async (_label, tamper) => {
    const url = tamper(grant.uploadUrl);
    expect(url).not.toBe(grant.uploadUrl);
    const response = await putUpload(grant, csv, { url });
    expect(expectError(response, 403, 'FORBIDDEN').message).toContain('upload refused');
    await expectNothingStored(grant.objectKey, 'vendors/acme/orders/other.csv');
  });

  it.each([
    ['another content type', { 'content-type': 'text/plain' }],
    ['the content type with a charset added', { 'content-type': 'text/csv; charset=utf-8' }],
    ['no content type', {}],
  ])('answers 403 and stores nothing for %s', async (_label, headers) => {
    const response = await putUpload(grant, new TextEncoder().encode(csv), { headers });
    expectError(response, 403, 'FORBIDDEN');
    await expectNothingStored(grant.objectKey);
  });

  it('answers 403 and stores nothing once the URL has expired', async () => {
    const signer = createUploadSigner({ baseUrl: gateway.url, secret: SIGNING_SECRET });
    const request = { key: grant.objectKey, maxBytes: 10_000, contentType: 'text/csv', expiresInSeconds: 60 };
    const expired = await signer.sign(request, Date.now() - 61_000);

    const response = await putUpload({ uploadUrl: expired.url, headers: expired.headers }, csv);
    expect(expectError(response, 403, 'FORBIDDEN').message).toContain('expired');
    await expectNothingStored(grant.objectKey);

    // The same URL signed a moment ago works: the refusal was the expiry, not the secret.
    const fresh = await signer.sign(request, Date.now() - 30_000);
    expect((await putUpload({ uploadUrl: fresh.url, headers: fresh.headers }, csv)).status).toBe(201);
  });

  it('takes the file with PUT only', async () => {
    const response = await fetch(grant.uploadUrl, { method: 'POST', headers: grant.headers, body: csv });
    expect(response.status).toBe(404);
    await expectNothingStored(grant.objectKey);
  });
});

describe('log output', () => {
  it('never contains a vendor key, the admin token, the signing secret or an upload signature', async () => {
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'orders.csv' });
    const signature = new URL(grant.uploadUrl).searchParams.get('signature')!;
    expect((await putUpload(grant, csv)).status).toBe(201);
    await gateway.running.gateway.idle();
    const forged = grant.uploadUrl.replace('/orders.csv?', '/forged.csv?');
    expect((await putUpload(grant, csv, { url: forged })).status).toBe(403);
    expect((await putUpload(grant, csv, { headers: { 'content-type': 'text/plain' } })).status).toBe(403);
    const wrongKey = 'wrong-vendor-key-guess-1234';
    await call(gateway, 'POST', '/v1/uploads', {
      token: wrongKey,
      json: { dataset: 'orders', filename: 'a.csv' },
    });
    await call(gateway, 'POST', '/v1/uploads', { token: VENDOR_KEY, body: 'not json' });
    await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: ADMIN_TOKEN });
    await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: VENDOR_KEY });
    await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: grant.objectKey },
    });
    await gateway.running.gateway.idle();

    const logs = gateway.logs.join('\n');
    // The logs do record the traffic: uploads, refusals and ingestion.
    expect(logs).toContain(`"path":"/v1/local-uploads/${grant.objectKey}"`);
    expect(logs).toContain('"status":403');
    expect(logs).toContain('file finished');
    for (const secret of [VENDOR_KEY, OTHER_VENDOR_KEY, ADMIN_TOKEN, SIGNING_SECRET, signature, wrongKey]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toContain('signature=');
  });
});
