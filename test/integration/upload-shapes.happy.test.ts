/**
 * `POST /v1/uploads` answers in the shape the store signs: a PUT with headers (the gateway's own stores,
 * GCS) or a form POST with fields (S3's size policy). The app runs in process over the memory adapters.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { ObjectStore } from '../../adapters/ports.js';
import { createAuthenticator } from '../../app/auth.js';
import { createApp } from '../../app/create-app.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';

const VENDOR_KEY = 'acme-key-0c3e5a7b9d1f2468';
const MAX_BYTES = 10 * 1024 * 1024;

function appOver(store: ObjectStore) {
  const gateway = createGateway({
    store,
    sink: createMemoryEventSink(),
    ledger: createMemoryLedger(),
    datasets: [testDataset()],
    controlTopic: 'dropgate.control',
    owner: 'upload-shapes-test',
    uploads: { maxBytes: MAX_BYTES, expiresInSeconds: 600 },
    logger: silentLogger,
  });
  const auth = createAuthenticator({
    adminToken: 'admin-token-9e8d7c6b5a4f3e21',
    vendorKeys: new Map([[VENDOR_KEY, 'acme']]),
  });
  return createApp({ gateway, auth, logger: silentLogger, intakes: [] });
}

async function requestUpload(store: ObjectStore, body: Record<string, unknown>) {
  const response = await appOver(store).request('/v1/uploads', {
    method: 'POST',
    headers: { authorization: `Bearer ${VENDOR_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Record<string, unknown>;
}

/** A store that signs presigned POSTs the way S3 does, its size limit in the policy. */
function formPostStore(): ObjectStore {
  const memory = createMemoryObjectStore({ bucket: 'landing' });
  return {
    ...memory,
    async createUploadUrl(request) {
      const policy = btoa(JSON.stringify({ conditions: [['content-length-range', 0, request.maxBytes]] }));
      return {
        method: 'POST',
        url: 'https://landing.s3.eu-west-1.amazonaws.com/',
        fields: { key: request.key, 'Content-Type': request.contentType ?? '', Policy: policy },
        fileField: 'file',
        key: request.key,
        expiresAt: '2031-01-01T00:10:00.000Z',
      };
    },
  };
}

const today = () => new Date().toISOString().slice(0, 10);

describe('POST /v1/uploads', () => {
  it('answers a PUT with the headers to send, and no form fields', async () => {
    const grant = await requestUpload(createMemoryObjectStore({ bucket: 'landing' }), {
      dataset: 'orders',
      filename: 'batch-1.csv',
    });

    expect(Object.keys(grant)).toEqual([
      'objectKey',
      'uploadUrl',
      'method',
      'headers',
      'maxBytes',
      'expiresAt',
    ]);
    expect(grant).toMatchObject({
      objectKey: `vendors/acme/orders/${today()}/batch-1.csv`,
      method: 'PUT',
      headers: { 'content-type': 'text/csv' },
      maxBytes: MAX_BYTES,
    });
  });

  it('answers a form POST with its fields, in order, and the name of the file field', async () => {
    const grant = await requestUpload(formPostStore(), {
      dataset: 'orders',
      filename: 'batch-1.csv.gz',
      size: 4096,
    });

    const objectKey = `vendors/acme/orders/${today()}/batch-1.csv.gz`;
    expect(Object.keys(grant)).toEqual([
      'objectKey',
      'uploadUrl',
      'method',
      'fields',
      'fileField',
      'maxBytes',
      'expiresAt',
    ]);
    expect(grant).toEqual({
      objectKey,
      uploadUrl: 'https://landing.s3.eu-west-1.amazonaws.com/',
      method: 'POST',
      fields: {
        key: objectKey,
        'Content-Type': 'application/gzip',
        Policy: btoa(JSON.stringify({ conditions: [['content-length-range', 0, 4096]] })),
      },
      fileField: 'file',
      maxBytes: 4096,
      expiresAt: '2031-01-01T00:10:00.000Z',
    });
    expect(Object.keys(grant.fields as object)).toEqual(['key', 'Content-Type', 'Policy']);
  });
});
