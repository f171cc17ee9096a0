/** What a vendor sees when an upload request or an upload is wrong, against a real gateway over HTTP. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  call,
  expectError,
  putUpload,
  requestUpload,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

const UPLOAD_LIMIT = 2048;
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({
    configFile: {
      uploads: { maxBytes: UPLOAD_LIMIT, expiresInSeconds: 600 },
      datasets: [
        {
          name: 'orders',
          match: 'vendors/*/orders/**',
          schema: join(process.cwd(), 'schemas/orders/v1.json'),
          eventType: 'OrderReceived',
          topic: 'orders',
          deadLetterTopic: 'orders.dead-letter',
        },
      ],
    },
  });
});

afterAll(async () => {
  await gateway.close();
});

const postUpload = (json: unknown) => call(gateway, 'POST', '/v1/uploads', { token: VENDOR_KEY, json });

/** Nothing of the key is in the bucket, its temporary files are gone, and nothing was ingested. */
async function expectNothingStored(objectKey: string): Promise<void> {
  expect(existsSync(join(gateway.dataDir, 'bucket', ...objectKey.split('/')))).toBe(false);
  expect(await readdir(join(gateway.dataDir, 'tmp'))).toEqual([]);
  const status = await call(gateway, 'GET', `/admin/files/${objectKey}`, { token: ADMIN_TOKEN });
  expect(status.status).toBe(404);
  await gateway.running.gateway.idle();
  const events = await readTopic(gateway.dataDir, 'orders');
  expect(events.filter((event) => event.subject === objectKey)).toEqual([]);
}

describe('POST /v1/uploads with a bad request', () => {
  it('answers 400 for a dataset that does not exist, naming it', async () => {
    const error = expectError(
      await postUpload({ dataset: 'invoices', filename: 'a.csv' }),
      400,
      'DATASET_UNKNOWN',
    );
    expect(error.message).toContain('invoices');
  });

  it.each(['../x.csv', 'a b.csv', '.hidden.csv', 'dir/x.csv', '-x.csv', 'x.csv\n', `${'a'.repeat(197)}.csv`])(
    'answers 400 naming the filename for %j',
    async (filename) => {
      const error = expectError(await postUpload({ dataset: 'orders', filename }), 400, 'BAD_REQUEST');
      expect(error.message).toContain('filename');
    },
  );

  it.each(['orders.xlsx', 'orders.json', 'orders', 'orders.csv.zip'])(
    'answers 400 for %j, which is not a file type the dataset reads',
    async (filename) => {
      const error = expectError(await postUpload({ dataset: 'orders', filename }), 400, 'BAD_REQUEST');
      expect(error.message).toContain('filename');
      expect(error.message).toContain('.csv');
    },
  );

  it('answers 400 when the body is not JSON', async () => {
    const response = await call(gateway, 'POST', '/v1/uploads', {
      token: VENDOR_KEY,
      body: 'dataset=orders&filename=a.csv',
      headers: { 'content-type': 'application/json' },
    });
    expect(expectError(response, 400, 'BAD_REQUEST').message).toContain('JSON');
  });

  it.each([
    [{ dataset: 'orders' }, 'filename'],
    [{ filename: 'a.csv' }, 'dataset'],
    [{ dataset: 'orders', filename: 'a.csv', size: -1 }, 'size'],
    [{ dataset: 'orders', filename: 'a.csv', size: 1.5 }, 'size'],
    [{ dataset: 'orders', filename: 'a.csv', bucket: 'elsewhere' }, 'bucket'],
    [['orders', 'a.csv'], 'body'],
    [{ dataset: 'orders', filename: 'a.csv', contentType: 'text/csv\r\nx-injected: 1' }, 'contentType'],
    [{ dataset: 'orders', filename: 'a.csv', contentType: 'csv' }, 'contentType'],
    [{ dataset: 'orders', filename: 'a.csv', contentType: 'text/csv; charset' }, 'contentType'],
  ])('answers 400 for the body %j, naming %s', async (json, field) => {
    const error = expectError(await postUpload(json), 400, 'BAD_REQUEST');
    expect(error.message).toContain(field);
  });

  it('answers 400 saying a required field is missing, not what JavaScript received', async () => {
    const error = expectError(await postUpload({ filename: 'a.csv' }), 400, 'BAD_REQUEST');
    expect(error.message).toBe('invalid request body: dataset: is missing (must be a string)');
  });

  it('accepts a media type with parameters and echoes it in the headers to send', async () => {
    const grant = await requestUpload(gateway, {
      dataset: 'orders',
      filename: 'a.csv',
      contentType: 'text/csv; charset="utf-8"',
    });
    expect(grant.headers).toEqual({ 'content-type': 'text/csv; charset="utf-8"' });
  });

  it.each([
    ['with a Content-Length', (body: string) => ({ body })],
    [
      'streamed',
      (body: string) => ({
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(body));
            controller.close();
          },
        }),
        duplex: 'half',
      }),
    ],
  ])('answers 413 to a JSON body over 64 KiB %s, before buffering it', async (_label, bodyOf) => {
    const huge = JSON.stringify({ dataset: 'orders', filename: 'a.csv', padding: 'x'.repeat(70_000) });
    const response = await fetch(`${gateway.url}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VENDOR_KEY}`, 'content-type': 'application/json' },
      ...bodyOf(huge),
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 413 when the declared size is over the upload limit', async () => {
    const error = expectError(
      await postUpload({ dataset: 'orders', filename: 'big.csv', size: UPLOAD_LIMIT + 1 }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expect(error.message).toContain(String(UPLOAD_LIMIT));
  });

  it('issues a URL for a file exactly at the limit', async () => {
    const grant = await requestUpload(gateway, {
      dataset: 'orders',
      filename: 'edge.csv',
      size: UPLOAD_LIMIT,
    });
    expect(grant.maxBytes).toBe(UPLOAD_LIMIT);
  });
});

describe('PUT to an upload URL with too much data', () => {
  const tooBig = ordersFile(60).csv;

  it('answers 413 and keeps nothing when the body is over the size the vendor declared', async () => {
    const small = ordersFile(2).csv;
    const grant = await requestUpload(gateway, {
      dataset: 'orders',
      filename: 'declared.csv',
      size: Buffer.byteLength(small),
    });
    const response = await putUpload(grant, `${small}ORD-X,C,S,1,1,EUR,2024-05-01T10:00:00Z,,,\n`);
    expectError(response, 413, 'PAYLOAD_TOO_LARGE');
    await expectNothingStored(grant.objectKey);
  });

  it('answers 413 and keeps nothing when the body is over the gateway’s upload limit', async () => {
    expect(Buffer.byteLength(tooBig)).toBeGreaterThan(UPLOAD_LIMIT);
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'undeclared.csv' });
    expect(grant.maxBytes).toBe(UPLOAD_LIMIT);
    expectError(await putUpload(grant, tooBig), 413, 'PAYLOAD_TOO_LARGE');
    await expectNothingStored(grant.objectKey);
  });

  it('answers 413 and keeps nothing when a streamed body without Content-Length runs over', async () => {
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'streamed.csv' });
    const bytes = new TextEncoder().encode(tooBig);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 512) {
          controller.enqueue(bytes.subarray(offset, offset + 512));
        }
        controller.close();
      },
    });
    const response = await fetch(grant.uploadUrl, {
      method: 'PUT',
      headers: grant.headers,
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    const text = await response.text();
    expectError(
      { status: response.status, headers: response.headers, body: JSON.parse(text) },
      413,
      'PAYLOAD_TOO_LARGE',
    );
    await expectNothingStored(grant.objectKey);
  });
});

describe('unknown routes', () => {
  it('answers 404 in the same error shape', async () => {
    const error = expectError(await call(gateway, 'GET', '/v1/nothing-here'), 404, 'NOT_FOUND');
    expect(error.message).toContain('/v1/nothing-here');
  });

  it('echoes the caller’s request id in errors', async () => {
    const response = await call(gateway, 'GET', '/v1/nothing-here', {
      headers: { 'x-request-id': 'trace-123' },
    });
    expect(expectError(response, 404, 'NOT_FOUND').requestId).toBe('trace-123');
  });
});
