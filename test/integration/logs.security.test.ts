/**
 * The gateway's log lines on Node (pino) during an upload and admin calls: JSON with `severity`, request
 * ids and file keys, and never a credential: not the signed URL's query string, not a bearer token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPinoLogger } from '../../app/node/pino-logger.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  SIGNING_SECRET,
  VENDOR_KEY,
  call,
  putUpload,
  requestUpload,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('log lines', () => {
  it('carry request ids and keys, and no signed URL query, token or key, through an upload and admin calls', async () => {
    gateway = await startTestGateway({
      logger: (write) => createPinoLogger({ level: 'info', destination: { write } }),
    });
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'logged.csv' });
    const query = new URL(grant.uploadUrl).search.slice(1);
    expect(query.length).toBeGreaterThan(10);
    expect((await putUpload(grant, ordersFile(6, 3).csv)).status).toBe(201);
    await gateway.running.gateway.idle();
    const path = `/admin/files/${encodeURIComponent(grant.objectKey)}`;
    expect((await call(gateway, 'GET', path, { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await call(gateway, 'GET', path, { token: 'wrong-token-0123456789abcdef' })).status).toBe(401);

    const lines = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) {
      expect(['INFO', 'WARNING', 'ERROR']).toContain(line.severity);
      expect(line.message).toEqual(expect.any(String));
      expect(Date.parse(line.time as string)).not.toBeNaN();
    }
    const requests = lines.filter((line) => line.message === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(4);
    for (const request of requests) expect(request.requestId).toEqual(expect.any(String));
    expect(lines.some((line) => line.message === 'file finished' && line.key === grant.objectKey)).toBe(true);

    const everything = gateway.logs.join('\n');
    for (const secret of [query, grant.uploadUrl, ADMIN_TOKEN, VENDOR_KEY, SIGNING_SECRET]) {
      expect(everything).not.toContain(secret);
    }
    for (const value of new URLSearchParams(query).values()) {
      if (value.length >= 16) expect(everything).not.toContain(value);
    }
  });
});
