/**
 * The registry is public on purpose (schemas are contracts consumers resolve), so it must serve schemas
 * and nothing else: no file of the gateway, no other dataset's data, whatever the path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectError, startTestGateway, type TestGateway } from './support/test-gateway.js';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway();
});

afterAll(async () => {
  await gateway.close();
});

describe('the schema registry', () => {
  it('answers without credentials, and a wrong token changes nothing', async () => {
    expect((await call(gateway, 'GET', '/schemas/orders/v2')).status).toBe(200);
    expect((await call(gateway, 'GET', '/schemas/orders/v2', { token: 'not-a-token' })).status).toBe(200);
  });

  it.each([
    '/schemas/orders/v3',
    '/schemas/orders/v02',
    '/schemas/orders/2',
    '/schemas/orders/v1.json',
    '/schemas/nobody/v1',
    '/schemas/orders/..%2F..%2Fpackage.json',
    '/schemas/..%2Fpackage.json/v1',
    '/schemas/%2E%2E/v1',
    '/schemas/orders/v1/extra',
  ])('answers 404 for %s', async (path) => {
    const response = await call(gateway, 'GET', path);
    expectError(response, 404, 'NOT_FOUND');
  });

  it('takes no writes', async () => {
    const response = await call(gateway, 'PUT', '/schemas/orders/v3', { json: { type: 'object' } });
    expect(response.status).toBe(404);
  });
});
