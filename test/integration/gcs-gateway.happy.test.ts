/**
 * A gateway configured with the `gcs` store, against the GCS stand-in through STORAGE_EMULATOR_HOST: a
 * vendor asks for an upload URL, PUTs the file to the bucket with the headers it was given, and the
 * landing of that generation (as a bucket notification reports it) is ingested from the bucket.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { startGcsGateway as startGcsGatewayWith, useGcsStandIn } from './support/gcs.js';
import { ordersFile } from './support/orders-csv.js';
import { PACKAGE_ROOT } from './support/child-gateway.js';
import { ADMIN_TOKEN, call, requestUpload, type TestGateway } from './support/test-gateway.js';

const gcs = useGcsStandIn();
const BUCKET = 'vendor-drop';
let gateway: TestGateway | undefined;

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const orders = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(PACKAGE_ROOT, 'schemas/orders'),
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

/** A gateway over the stand-in's bucket, the local upload intake off. */
function startGcsGateway(extra: Record<string, unknown> = {}): Promise<TestGateway> {
  return startGcsGatewayWith(gcs, BUCKET, { intake: [], datasets: [orders], ...extra });
}

async function vendorUpload(target: TestGateway, filename: string, body: string) {
  const grant = await requestUpload(target, { dataset: 'orders', filename });
  const response = await fetch(grant.uploadUrl, { method: grant.method, headers: grant.headers, body });
  expect(response.status, await response.text()).toBe(200);
  return { grant, generation: gcs.standIn.object(BUCKET, grant.objectKey)!.generation };
}

describe('gateway with the gcs store', () => {
  it('issues a signed URL at the stand-in; the vendor uploads; the notified generation is ingested', async () => {
    gateway = await startGcsGateway();
    const { csv } = ordersFile(3);
    const grant = await requestUpload(gateway, {
      dataset: 'orders',
      filename: 'orders.csv',
      size: csv.length,
    });
    expect(grant.method).toBe('PUT');
    expect(new URL(grant.uploadUrl).origin).toBe(gcs.standIn.url);
    expect(grant.objectKey).toMatch(/^vendors\/acme\/orders\/\d{4}-\d{2}-\d{2}\/orders\.csv$/);
    expect(grant.headers).toEqual({
      'content-type': 'text/csv',
      'x-goog-content-length-range': `0,${csv.length}`,
    });

    const response = await fetch(grant.uploadUrl, { method: 'PUT', headers: grant.headers, body: csv });
    expect(response.status, await response.text()).toBe(200);
    const stored = gcs.standIn.object(BUCKET, grant.objectKey)!;
    expect(stored.contentType).toBe('text/csv');

    const outcomes = await gateway.running.gateway.accept(
      {
        landings: [
          {
            bucket: BUCKET,
            key: grant.objectKey,
            version: stored.generation,
            kind: 'finalized',
            via: 'test',
          },
        ],
      },
      'inline',
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['ingested']);
    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event.source).toBe(`//storage.googleapis.com/projects/_/buckets/${BUCKET}`);
    }
    const status = await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ state: 'ingested', version: stored.generation, bucket: BUCKET });
  });

  it('closes the landing of a generation overwritten before ingestion without reading the new bytes', async () => {
    gateway = await startGcsGateway();
    const first = await vendorUpload(gateway, 'again.csv', ordersFile(2).csv);
    const second = await vendorUpload(gateway, 'again.csv', ordersFile(5).csv);
    expect(second.grant.objectKey).toBe(first.grant.objectKey);
    const key = first.grant.objectKey;
    const landing = (version: string) => ({
      bucket: BUCKET,
      key,
      version,
      kind: 'finalized' as const,
      via: 'test',
    });

    const [old] = await gateway.running.gateway.accept({ landings: [landing(first.generation)] }, 'inline');
    expect(old?.ack).toBe(true);
    expect(old?.status).toBe('superseded');
    expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);

    const [current] = await gateway.running.gateway.accept(
      { landings: [landing(second.generation)] },
      'inline',
    );
    expect(current?.status).toBe('ingested');
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(5);
  });

  it('replays the current generation from the admin API', async () => {
    gateway = await startGcsGateway();
    const { grant, generation } = await vendorUpload(gateway, 'replayed.csv', ordersFile(4).csv);
    const replay = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: grant.objectKey },
    });
    expect(replay.status, JSON.stringify(replay.body)).toBe(202);
    expect(replay.body).toMatchObject({ version: generation, status: 'scheduled' });
    await gateway.running.gateway.idle();
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(4);
  });

  it('refuses to start with the local-upload intake, which a gcs store cannot serve', async () => {
    await expect(startGcsGateway({ intake: [{ type: 'local-upload' }] })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('intake: local-upload receives uploads for the local store only'),
    });
  });
});
