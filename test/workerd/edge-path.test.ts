/**
 * The edge path inside workerd, end to end: the product Worker under Miniflare with a real R2 bucket,
 * queues and the Durable Object ledger. Objects are put through the R2 binding (Miniflare serves no S3
 * API, so a presigned upload cannot be tried locally) and real-shaped R2 event notifications are sent to
 * the notification queue (nothing emits them locally); the events are read back from the output queues.
 */
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createDurableObjectLedger,
  type DurableObjectNamespaceLike,
} from '../../adapters/ledger/durable-object/durable-object-ledger.js';
import {
  BUCKET,
  MAX_RETRIES,
  QUEUES,
  SECRETS,
  bundleEdgeWorker,
  edgeConfig,
  eventually,
  notification,
  orderRow,
  ordersCsv,
  putObject,
  received,
  sendNotifications,
  startEdgeMiniflare,
} from './support/edge-worker.js';

const row = orderRow;
const csv = ordersCsv;

type CloudEvent = { id: string; subject?: string; data: Record<string, unknown> };

let bundle: Awaited<ReturnType<typeof bundleEdgeWorker>>;
beforeAll(async () => {
  bundle = await bundleEdgeWorker(edgeConfig());
}, 60_000);
afterAll(() => bundle?.remove());

describe('the edge path under workerd', () => {
  let miniflare: Miniflare;

  beforeAll(async () => {
    miniflare = startEdgeMiniflare(bundle.script);
    await miniflare.ready;
  }, 60_000);

  afterAll(async () => {
    await miniflare?.dispose();
  });

  const put = (key: string, text: string) => putObject(miniflare, key, text);
  const notify = (...bodies: unknown[]) => sendNotifications(miniflare, ...bodies);
  const events = async (queue: string) =>
    (await received(miniflare, queue)).map((body) => JSON.parse(body) as CloudEvent);
  const eventsOf = async (queue: string, key: string) =>
    (await events(queue)).filter((event) => event.subject?.endsWith(key) || event.data?.objectKey === key);
  const fileStatus = async (key: string) => {
    const response = await miniflare.dispatchFetch(`http://localhost/admin/files/${key}`, {
      headers: { authorization: `Bearer ${SECRETS.DROPGATE_ADMIN_TOKEN}` },
    });
    return response.status === 200
      ? ((await response.json()) as { state: string; attempts: number })
      : undefined;
  };

  test('serves health and issues an R2 presigned PUT scoped to the key and content type', async () => {
    expect((await miniflare.dispatchFetch('http://localhost/healthz')).status).toBe(200);
    const response = await miniflare.dispatchFetch('http://localhost/v1/uploads', {
      method: 'POST',
      headers: { authorization: 'Bearer acme-key-for-the-edge-tests', 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'orders', filename: 'batch.csv' }),
    });
    expect(response.status).toBe(201);
    const upload = (await response.json()) as {
      uploadUrl: string;
      method: string;
      headers: Record<string, string>;
      objectKey: string;
    };
    expect(upload.method).toBe('PUT');
    expect(upload.headers).toEqual({ 'content-type': 'text/csv' });
    const url = new URL(upload.uploadUrl);
    expect(url.host).toBe(`${SECRETS.R2_ACCOUNT_ID}.r2.cloudflarestorage.com`);
    expect(decodeURIComponent(url.pathname)).toBe(`/${BUCKET}/${upload.objectKey}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^test-access-key-id\/\d{8}\/auto\/s3\/aws4_request$/,
    );
    expect(upload.uploadUrl).not.toContain(SECRETS.R2_SECRET_ACCESS_KEY);
  });

  test('ingests a PutObject notification: rows on the output queue, bad rows dead-lettered, the file ingested', async () => {
    const key = 'vendors/acme/orders/2026-11-24/put.csv';
    const object = await put(key, csv(row('P-1'), row('P-2', 0), row('P-3')));
    await notify(notification('PutObject', key, object));

    const rows = await eventually(
      () => eventsOf(QUEUES.orders, key),
      (list) => list.length >= 2,
    );
    expect(rows.map((event) => event.data.order_id).sort()).toEqual(['P-1', 'P-3']);
    const dead = await eventually(
      () => eventsOf(QUEUES.ordersDeadLetter, key),
      (list) => list.length >= 1,
    );
    expect(dead).toHaveLength(1);
    expect(
      await eventually(
        () => fileStatus(key),
        (status) => status?.state === 'ingested',
      ),
    ).toMatchObject({
      state: 'ingested',
      attempts: 1,
    });
  });

  test('a duplicate notification (CopyObject of the same version, twice) is ingested once', async () => {
    const key = 'vendors/acme/orders/2026-11-24/twice.csv';
    const object = await put(key, csv(row('D-1'), row('D-2')));
    await notify(
      notification('CopyObject', key, object),
      notification('CompleteMultipartUpload', key, object),
    );
    await eventually(
      () => fileStatus(key),
      (status) => status?.state === 'ingested',
    );
    await notify(notification('PutObject', key, object));
    // Time for a second ingestion to show, had there been one.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await eventsOf(QUEUES.orders, key)).map((event) => event.data.order_id).sort()).toEqual([
      'D-1',
      'D-2',
    ]);
    expect((await fileStatus(key))?.attempts).toBe(1);
  });

  test('an object replaced between its notification and the read publishes none of the old rows', async () => {
    const key = 'vendors/acme/orders/2026-11-24/replaced.csv';
    const old = await put(key, csv(row('OLD-1')));
    const current = await put(key, csv(row('NEW-1'), row('NEW-2')));
    expect(current.eTag).not.toBe(old.eTag);
    await notify(notification('PutObject', key, old), notification('PutObject', key, current));
    const rows = await eventually(
      () => eventsOf(QUEUES.orders, key),
      (list) => list.length >= 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await eventsOf(QUEUES.orders, key)).map((event) => event.data.order_id).sort()).toEqual(
      rows.map((event) => event.data.order_id).sort(),
    );
    expect(rows.map((event) => event.data.order_id).sort()).toEqual(['NEW-1', 'NEW-2']);
  });

  test('a lease held elsewhere is a retry, not an ack: the redelivery ingests once the lease ends', async () => {
    const key = 'vendors/acme/orders/2026-11-24/leased.csv';
    const object = await put(key, csv(row('L-1')));
    const ledger = createDurableObjectLedger({
      namespace: (await miniflare.getDurableObjectNamespace(
        'LEDGER',
        'dropgate',
      )) as unknown as DurableObjectNamespaceLike,
    });
    const ref = { bucket: BUCKET, key, version: object.eTag };
    expect(
      (
        await ledger.claim(ref, {
          dataset: 'orders',
          owner: 'another-worker',
          leaseMs: 1_500,
          mode: 'notification',
        })
      ).claimed,
    ).toBe(true);
    await notify(notification('PutObject', key, object));
    const status = await eventually(
      () => fileStatus(key),
      (found) => found?.state === 'ingested',
      20_000,
    );
    expect(status?.attempts).toBe(2);
    expect((await eventsOf(QUEUES.orders, key)).map((event) => event.data.order_id)).toEqual(['L-1']);
  });

  test('deletions are acknowledged and ignored; a message that is no notification ends in the dead-letter queue', async () => {
    const key = 'vendors/acme/orders/2026-11-24/deleted.csv';
    await notify(notification('DeleteObject', key), notification('LifecycleDeletion', key), {
      hello: 'world',
    });
    const dead = await eventually(
      () => received(miniflare, QUEUES.deadLetters),
      (list) => list.length >= 1,
      10_000 + MAX_RETRIES * 2_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await received(miniflare, QUEUES.deadLetters)).map((body) => JSON.parse(body))).toEqual([
      { hello: 'world' },
    ]);
    expect(dead).toHaveLength(1);
    expect(await fileStatus(key)).toBeUndefined();
  });
});

describe('the Worker names what its environment lacks', () => {
  test('without two secrets, every request is refused with 503 naming both and how to set them', async () => {
    const { R2_SECRET_ACCESS_KEY: _, DROPGATE_ADMIN_TOKEN: __, ...rest } = SECRETS;
    const miniflare = startEdgeMiniflare(bundle.script, rest);
    try {
      const response = await miniflare.dispatchFetch('http://localhost/v1/uploads', { method: 'POST' });
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('CONFIG_INVALID');
      for (const name of ['R2_SECRET_ACCESS_KEY', 'DROPGATE_ADMIN_TOKEN'])
        expect(body.error.message).toContain(
          `secret ${name} is missing: run \`wrangler secret put ${name}\``,
        );
      for (const value of Object.values(rest)) expect(body.error.message).not.toContain(value);
    } finally {
      await miniflare.dispose();
    }
  });
});
