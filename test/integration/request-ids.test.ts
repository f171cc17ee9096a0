/**
 * Request ids on every log line (Node: pino with the AsyncLocalStorage log context): each line logged
 * while a request is handled, an inline ingestion's included, carries that request's id; concurrent
 * requests keep their own; a background ingestion logs under its file's key, not under whichever request
 * woke the queue; a client's X-Request-Id is kept only when it is short and plain.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createAuthenticator } from '../../app/auth.js';
import { createApp } from '../../app/create-app.js';
import { createGateway } from '../../app/gateway.js';
import { nodeLogContext } from '../../app/node/log-context.js';
import { createPinoLogger } from '../../app/node/pino-logger.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from './support/orders-csv.js';
import { withSlowReads } from './support/store-wrappers.js';

const VENDOR_KEY = 'acme-key-7f3a9c1e5b2d4f60';
const BASE = 'http://gateway.test';
type Line = Record<string, unknown>;

function loggedGateway(mode: 'inline' | 'background') {
  const lines: Line[] = [];
  const logger = createPinoLogger({
    level: 'info',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Line) },
  });
  const store = createMemoryObjectStore({ baseUrl: BASE });
  const gateway = createGateway({
    // Reads pause between chunks, so concurrent ingestions interleave.
    store: withSlowReads(store, 2),
    sink: createMemoryEventSink(),
    ledger: createMemoryLedger(),
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: 'this-instance',
    uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
    logger,
    logContext: nodeLogContext,
  });
  const app = createApp({
    gateway,
    auth: createAuthenticator({
      adminToken: 'admin-token-5d1c9e7a3f0b8264',
      vendorKeys: new Map([[VENDOR_KEY, 'acme']]),
    }),
    logger,
    logContext: nodeLogContext,
    intakes: [createLocalUploadIntake({ receiver: store, mode })],
  });
  const grant = async (filename: string, requestId?: string) => {
    const response = await app.request('/v1/uploads', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${VENDOR_KEY}`,
        'content-type': 'application/json',
        ...(requestId ? { 'x-request-id': requestId } : {}),
      },
      body: JSON.stringify({ dataset: 'orders', filename }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as {
      objectKey: string;
      uploadUrl: string;
      headers: Record<string, string>;
    };
  };
  const put = async (filename: string, requestId?: string) => {
    const { objectKey, uploadUrl, headers } = await grant(filename);
    const response = await app.request(uploadUrl.replace(BASE, ''), {
      method: 'PUT',
      headers: { ...headers, ...(requestId ? { 'x-request-id': requestId } : {}) },
      body: ordersFile(30, 3).csv,
    });
    expect(response.status).toBe(201);
    return { objectKey, response };
  };
  return { lines, gateway, grant, put };
}

const finished = (lines: Line[], key: string) =>
  lines.filter((line) => line.message === 'file finished' && line.key === key);

describe('request ids in log lines', () => {
  it('are on every line a request logs, an inline ingestion included, and concurrent requests keep their own', async () => {
    const { lines, grant, put } = loggedGateway('inline');
    const granted = await grant('granted.csv', 'grant-7f3a');
    expect(lines.find((line) => line.message === 'upload url issued')).toMatchObject({
      requestId: 'grant-7f3a',
      key: granted.objectKey,
    });

    const uploads = await Promise.all(['a', 'b', 'c'].map((name) => put(`${name}.csv`, `put-${name}-0123`)));
    for (const [index, name] of ['a', 'b', 'c'].entries()) {
      const { objectKey, response } = uploads[index]!;
      expect(response.headers.get('x-request-id')).toBe(`put-${name}-0123`);
      const [line] = finished(lines, objectKey);
      expect(line).toMatchObject({ requestId: `put-${name}-0123`, status: 'ingested' });
    }
    // Every line is either a request's own or logged inside one: none without an id.
    expect(lines.filter((line) => typeof line.requestId !== 'string')).toEqual([]);
  });

  it('are not given to a background ingestion, which logs under its key and version', async () => {
    const { lines, gateway, put } = loggedGateway('background');
    const [first, second] = await Promise.all([
      put('one.csv', 'put-one-0001'),
      put('two.csv', 'put-two-0002'),
    ]);
    await gateway.idle();
    for (const { objectKey } of [first, second]) {
      const [line] = finished(lines, objectKey);
      expect(line).toMatchObject({ key: objectKey, mode: 'notification', status: 'ingested' });
      expect(line!.version).toEqual(expect.any(String));
      expect(line!.requestId).toBeUndefined();
    }
  });

  it('replace a client id that is too long or not plain with a fresh one', async () => {
    const { lines, put } = loggedGateway('inline');
    for (const hostile of ['x'.repeat(129), 'id with spaces', '<script>', 'a"b', 'über']) {
      const { objectKey, response } = await put(`${lines.length}.csv`, hostile);
      const echoed = response.headers.get('x-request-id')!;
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(finished(lines, objectKey)[0]?.requestId).toBe(echoed);
    }
    expect(JSON.stringify(lines)).not.toContain('<script>');
  });
});
