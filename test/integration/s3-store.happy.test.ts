/**
 * A gateway with the `s3` store on s3rver, pointed there by the SDK's own AWS_ENDPOINT_URL_S3 and
 * credential variables: POST /v1/uploads answers with a presigned POST (or PUT) the vendor uses as
 * given, the file lands in the bucket, and a replay ingests it from there, reading it back through S3.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, TEST_CREDENTIALS, TEST_REGION, type StandIn } from '../support/aws-stand-ins.js';
import { readTopic } from './support/events.js';
import { ORDERS_HEADER, orderData, orderLine } from './support/orders-csv.js';
import { ADMIN_TOKEN, VENDOR_KEY, call, startTestGateway, type TestGateway } from './support/test-gateway.js';

const BUCKET = 'dropgate-uploads';
const VARIABLES = [
  'AWS_ENDPOINT_URL_S3',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
] as const;
let s3rver: StandIn;
const saved: Partial<Record<(typeof VARIABLES)[number], string>> = {};
let gateway: TestGateway | undefined;

beforeAll(async () => {
  s3rver = await startS3rver([BUCKET]);
  for (const name of VARIABLES) saved[name] = process.env[name];
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3rver.endpoint,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: TEST_REGION,
  });
});

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

afterAll(async () => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await s3rver?.stop();
});

const ordersDataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(process.cwd(), 'schemas/orders/v1.json'),
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

function startWithS3Store(store: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return startTestGateway({
    configFile: {
      store: { type: 's3', bucket: BUCKET, forcePathStyle: true, ...store },
      uploads: { maxBytes: 1_000_000, expiresInSeconds: 600 },
      // Parsing on the main thread: the store is what is under test, and dist/ need not be built.
      ingestThreads: 0,
      datasets: [ordersDataset],
      ...extra,
    },
  });
}

interface UploadAnswer {
  objectKey: string;
  uploadUrl: string;
  method: 'PUT' | 'POST';
  headers?: Record<string, string>;
  fields?: Record<string, string>;
  fileField?: string;
  maxBytes: number;
  expiresAt: string;
}

async function requestUpload(running: TestGateway, request: Record<string, unknown>): Promise<UploadAnswer> {
  const response = await call<UploadAnswer>(running, 'POST', '/v1/uploads', {
    token: VENDOR_KEY,
    json: request,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** What a vendor does with the answer, reading nothing but the answer. */
function uploadAsTold(answer: UploadAnswer, body: string): Promise<Response> {
  if (answer.method === 'PUT') {
    return fetch(answer.uploadUrl, { method: 'PUT', headers: answer.headers, body });
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(answer.fields ?? {})) form.append(name, value);
  form.append(answer.fileField!, new Blob([body]), 'orders.csv');
  return fetch(answer.uploadUrl, { method: 'POST', body: form });
}

/** Replays the key through the admin API and waits for its events. */
async function ingestByReplay(running: TestGateway, objectKey: string) {
  const replay = await call(running, 'POST', '/admin/replay', { token: ADMIN_TOKEN, json: { objectKey } });
  expect(replay.status, JSON.stringify(replay.body)).toBe(202);
  await running.running.gateway.idle();
  const status = await call<{ state: string; version: string }>(
    running,
    'GET',
    `/admin/files/${objectKey.split('/').map(encodeURIComponent).join('/')}`,
    { token: ADMIN_TOKEN },
  );
  expect(status.body).toMatchObject({ state: 'ingested', version: expect.stringMatching(/^etag:/) });
  return readTopic(running.dataDir, 'orders');
}

const csv = [ORDERS_HEADER, orderLine(1), orderLine(2)].join('\n') + '\n';

describe('POST /v1/uploads with the s3 store', () => {
  it('answers a presigned POST bounded to the declared size; the vendor’s form lands the file in S3', async () => {
    gateway = await startWithS3Store({});
    const size = new TextEncoder().encode(csv).byteLength;
    const answer = await requestUpload(gateway, { dataset: 'orders', filename: 'orders-may.csv', size });

    expect(answer).toMatchObject({
      method: 'POST',
      uploadUrl: `${s3rver.endpoint}/${BUCKET}`,
      fileField: 'file',
      maxBytes: size,
    });
    expect(answer.headers).toBeUndefined();
    expect(answer.fields).toMatchObject({ key: answer.objectKey, 'Content-Type': 'text/csv' });
    const policy = JSON.parse(Buffer.from(answer.fields!.Policy!, 'base64').toString('utf8')) as {
      conditions: unknown[];
    };
    expect(policy.conditions).toContainEqual(['content-length-range', 0, size]);

    const uploaded = await uploadAsTold(answer, csv);
    expect(uploaded.status, await uploaded.clone().text()).toBe(204);

    const events = await ingestByReplay(gateway, answer.objectKey);
    expect(events.map((event) => event.data)).toEqual([orderData(1), orderData(2)]);
    expect(events.every((event) => event.source === `arn:aws:s3:::${BUCKET}`)).toBe(true);
  });

  it('answers a presigned PUT with the headers to send when the store is configured "upload": "put"', async () => {
    gateway = await startWithS3Store({ upload: 'put' });
    const answer = await requestUpload(gateway, { dataset: 'orders', filename: 'orders-june.csv' });

    expect(answer).toMatchObject({
      method: 'PUT',
      headers: { 'content-type': 'text/csv' },
      maxBytes: 1_000_000,
    });
    expect(answer.fields).toBeUndefined();
    expect(new URL(answer.uploadUrl).pathname).toBe(`/${BUCKET}/${answer.objectKey}`);
    expect(new URL(answer.uploadUrl).searchParams.get('X-Amz-Expires')).toBe('600');

    const uploaded = await uploadAsTold(answer, csv);
    expect(uploaded.status, await uploaded.clone().text()).toBe(200);
    const events = await ingestByReplay(gateway, answer.objectKey);
    expect(events.map((event) => event.data)).toEqual([orderData(1), orderData(2)]);
  });

  it('refuses to start with the local upload intake, which only the local store serves', async () => {
    await expect(
      startTestGateway({
        configFile: {
          store: { type: 's3', bucket: BUCKET, forcePathStyle: true },
          intake: [{ type: 'local-upload' }],
          datasets: [ordersDataset],
        },
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('intake: local-upload receives uploads for the local store only'),
    });
  });
});
