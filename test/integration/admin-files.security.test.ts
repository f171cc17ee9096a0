/**
 * The load history answers the admin token only; the admin page's own files are public but hold no data,
 * and forbid inline script, framing and other origins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { ordersFile } from './support/orders-csv.js';

let gateway: TestGateway;
let stored: StoredUpload;

beforeAll(async () => {
  gateway = await startTestGateway();
  stored = await upload(gateway, 'orders.csv', ordersFile(3).csv);
  await gateway.running.gateway.idle();
});

afterAll(async () => {
  await gateway.close();
});

const wrongCredentials: Array<[string, Record<string, string>]> = [
  ['no Authorization header', {}],
  ['a vendor key', { authorization: `Bearer ${VENDOR_KEY}` }],
  ['a wrong token', { authorization: 'Bearer not-the-admin-token-0000' }],
  ['the admin token as Basic credentials', { authorization: `Basic ${ADMIN_TOKEN}` }],
];

describe('GET /admin/files', () => {
  it.each(wrongCredentials)('answers 401 to %s, listing nothing', async (_label, headers) => {
    const response = await call(gateway, 'GET', '/admin/files?state=ingested', { headers });
    expect(expectError(response, 401, 'UNAUTHORIZED').message).toContain('admin token');
    expect(JSON.stringify(response.body)).not.toContain(stored.objectKey);
  });

  it('does not take the token from the query string', async () => {
    const response = await call(gateway, 'GET', `/admin/files?token=${ADMIN_TOKEN}`);
    expectError(response, 401, 'UNAUTHORIZED');
  });

  it.each(['/ADMIN/files', '//admin/files', '/%61dmin/files'])(
    'never lists files without the token at %s',
    async (path) => {
      const response = await call(gateway, 'GET', path);
      expect([401, 404]).toContain(response.status);
      expect(JSON.stringify(response.body)).not.toContain(stored.objectKey);
    },
  );
});

describe('the admin page', () => {
  it.each(['/admin', '/admin/'])('serves %s without a token, holding no data', async (path) => {
    const response = await call(gateway, 'GET', path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = response.body as unknown as string;
    expect(html).toContain('<script src="/admin/page.js" defer></script>');
    expect(html).not.toContain(stored.objectKey);
    expect(html).not.toContain(ADMIN_TOKEN);
  });

  it.each([
    ['/admin/', 'text/html; charset=utf-8'],
    ['/admin/page.js', 'text/javascript; charset=utf-8'],
    ['/admin/page.css', 'text/css; charset=utf-8'],
  ])(
    'serves %s with a policy that allows no inline script, no framing, no other origin',
    async (path, type) => {
      const response = await call(gateway, 'GET', path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy).toContain("default-src 'none'");
      expect(policy).toContain("script-src 'self';");
      expect(policy).toContain("connect-src 'self';");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain('unsafe-inline');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    },
  );

  it('writes vendor text into the page as text nodes only', async () => {
    const script = (await call(gateway, 'GET', '/admin/page.js')).body as unknown as string;
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });

  it('keeps every other admin path behind the token', async () => {
    for (const path of ['/admin/page.json', '/admin/files/', '/admin/index.html']) {
      const response = await call(gateway, 'GET', path);
      expectError(response, 401, 'UNAUTHORIZED');
    }
  });
});
