/** A bad load-history query is refused with 400 naming the parameter at fault, before the ledger is read. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  call,
  expectError,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway();
});

afterAll(async () => {
  await gateway.close();
});

const history = (query: string) => call(gateway, 'GET', `/admin/files${query}`, { token: ADMIN_TOKEN });

describe('GET /admin/files', () => {
  it.each([
    ['?state=done', 'state: must be one of pending, processing, ingested, rejected, failed'],
    ['?since=yesterday', 'since: must be an RFC 3339 time'],
    ['?until=2024-05-01', 'until: must be an RFC 3339 time'],
    ['?since=2024-05-01T10:00:00', 'since: must be an RFC 3339 time'],
    ['?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z', 'until: must be after since'],
    ['?limit=0', 'limit:'],
    ['?limit=1001', 'limit:'],
    ['?limit=ten', 'limit: must be a whole number from 1 to 1000'],
    ['?limit=1.5', 'limit: must be a whole number from 1 to 1000'],
    ['?prefix=' + 'p'.repeat(1025), 'prefix:'],
    ['?status=ingested', 'unknown parameter status'],
    ['?state=ingested&state=rejected', 'state is given more than once'],
  ])('answers 400 for %s, naming the parameter', async (query, message) => {
    const error = expectError(await history(query), 400, 'BAD_REQUEST');
    expect(error.message).toContain(message);
  });

  it('answers 400 for a cursor it did not give', async () => {
    const error = expectError(await history('?cursor=not-a-cursor'), 400, 'BAD_REQUEST');
    expect(error.message).toContain('cursor');
  });

  it('does not echo a parameter back into its answer', async () => {
    const response = await history(`?state=${encodeURIComponent('<script>alert(1)</script>')}`);
    expectError(response, 400, 'BAD_REQUEST');
    expect(JSON.stringify(response.body)).not.toContain('<script>');
  });
});

describe('GET /admin/files/<objectKey>', () => {
  it('answers 404 for a key without any version', async () => {
    const key = 'vendors/acme/orders/2024-05-01/never.csv';
    const error = expectError(
      await call(gateway, 'GET', `/admin/files/${key}`, { token: ADMIN_TOKEN }),
      404,
      'NOT_FOUND',
    );
    expect(error.message).toContain(key);
  });
});
