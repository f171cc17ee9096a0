/**
 * Inline intakes (what a Cloud Run push handler uses): the request is answered only once the file's
 * events are durable (2xx), it was rejected, or it is a known duplicate; a fault or a live lease held by
 * another instance gets a retryable status, so the sender redelivers and nothing is acknowledged early.
 */
import { describe, expect, it } from 'vitest';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import type { EventSink } from '../../adapters/ports.js';
import { createInProcessGateway } from './support/in-process-gateway.js';
import { ordersFile } from './support/orders-csv.js';
import { VENDOR_KEY } from './support/test-gateway.js';

const BASE = 'http://gateway.test';

function inlineGateway(options: { sink?: EventSink } = {}) {
  const store = createMemoryObjectStore({ baseUrl: BASE });
  const { sink, ledger, gateway, app } = createInProcessGateway({
    store,
    sink: options.sink,
    intakes: [createLocalUploadIntake({ receiver: store, mode: 'inline' })],
  });
  const put = async (filename: string, csv: string) => {
    const grant = await app.request('/v1/uploads', {
      method: 'POST',
      headers: { authorization: `Bearer ${VENDOR_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'orders', filename }),
    });
    expect(grant.status).toBe(201);
    const { uploadUrl, headers } = (await grant.json()) as {
      uploadUrl: string;
      headers: Record<string, string>;
    };
    return app.request(uploadUrl.replace(BASE, ''), { method: 'PUT', headers, body: csv });
  };
  return { store, sink, ledger, gateway, put };
}

describe('an inline intake', () => {
  it('answers 201 only once the file is ingested, with its events already published', async () => {
    const { sink, ledger, store, put } = inlineGateway();
    const { csv, goodRows } = ordersFile(25, 5);
    const response = await put('orders.csv', csv);
    expect(response.status).toBe(201);
    const body = (await response.json()) as { objectKey: string; version: string; ingestion: string };
    expect(body.ingestion).toBe('ingested');
    expect(sink.events('orders')).toHaveLength(goodRows.length);
    expect(
      await ledger.get({ bucket: store.bucket, key: body.objectKey, version: body.version }),
    ).toMatchObject({
      state: 'ingested',
      via: 'local-upload',
    });
  });

  it('answers 503 with Retry-After when the sink fails, and leaves the version recorded to resume', async () => {
    const failing: EventSink = {
      capabilities: { ordered: true, maxMessageBytes: 1 << 20 },
      publish: async () => {
        throw new DropgateError('PUBLISH_FAILED', 'the topic is unavailable');
      },
      close: async () => undefined,
    };
    const { ledger, store, put } = inlineGateway({ sink: failing });
    const response = await put('orders.csv', ordersFile(5).csv);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('RETRY_LATER');
    expect(body.error.message).toContain('the topic is unavailable');
    const { records } = await ledger.unfinished({ bucket: store.bucket });
    expect(records).toMatchObject([{ state: 'failed' }]);
  });

  it('answers 503 while another instance holds a live lease, then 201 as a duplicate once it is done', async () => {
    const { ledger, store, gateway, put } = inlineGateway();
    const first = await put('orders.csv', ordersFile(3).csv);
    expect(first.status).toBe(201);
    const { objectKey, version } = (await first.json()) as { objectKey: string; version: string };
    const ref = { bucket: store.bucket, key: objectKey, version };
    // Another instance is replaying the version right now.
    await ledger.claim(ref, { dataset: 'orders', owner: 'other-instance', leaseMs: 60_000, mode: 'replay' });

    const redelivery = { landings: [{ ...ref, kind: 'finalized' as const, via: 'test' }] };
    const [busy] = await gateway.accept(redelivery, 'inline');
    expect(busy).toMatchObject({ status: 'in-progress', ack: false });
    expect(busy!.retryAfterSeconds).toBeGreaterThan(30);

    await ledger.finish(ref, 'other-instance', {
      state: 'ingested',
      dataset: 'orders',
      schemaVersion: 1,
      rowsRead: 3,
      rowsPublished: 3,
      rowsRejected: 0,
    });
    const [done] = await gateway.accept(redelivery, 'inline');
    expect(done).toMatchObject({ status: 'duplicate', ack: true });
  });
});
