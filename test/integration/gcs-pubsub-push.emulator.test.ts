/**
 * End to end through Google's Pub/Sub emulator: a GCS-shaped notification published to a topic reaches
 * the running gateway through a push subscription whose endpoint is `/v1/notifications/gcs-pubsub-push`
 * (auth none: the emulator signs no token), and the object it names, in the gateway's local bucket, is
 * ingested; redelivered and duplicate notifications ingest it once; a push answered 503 while another
 * instance holds the lease is redelivered by the emulator and then succeeds.
 */
import { createAdaptorServer } from '@hono/node-server';
import { PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { createAuthenticator } from '../../app/auth.js';
import { createApp } from '../../app/create-app.js';
import { createGateway } from '../../app/gateway.js';
import { embeddedConfig } from '../../app/node/load-config.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { notificationAttributes, objectResource } from '../support/gcs-notifications.js';
import { idCounts, readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  SIGNING_SECRET,
  call,
  makeTemporaryDirectory,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

const PUSH_PATH = '/v1/notifications/gcs-pubsub-push';

let pubsub: PubSub;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(() => {
  if (!process.env.PUBSUB_EMULATOR_HOST) {
    throw new Error(
      'PUBSUB_EMULATOR_HOST is not set: this suite needs the Pub/Sub emulator (test/global-setup)',
    );
  }
  pubsub = new PubSub({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'dropgate-test' });
});

afterEach(async () => {
  // Subscriptions first, so the emulator stops pushing before the gateways go.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await pubsub.close();
});

let sequence = 0;

/** A topic GCS would notify, and a push subscription delivering it to `endpoint`. */
async function pushSubscription(endpoint: string): Promise<{ topic: Topic; subscription: Subscription }> {
  const name = `gcs-uploads-${process.pid}-${Date.now()}-${sequence++}`;
  const [topic] = await pubsub.createTopic(name);
  const [subscription] = await topic.createSubscription(`${name}-push`, {
    pushConfig: { pushEndpoint: endpoint },
    ackDeadlineSeconds: 10,
    retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
  });
  cleanups.push(
    () => topic.delete(),
    () => subscription.delete(),
  );
  return { topic, subscription };
}

/** Publishes what GCS publishes for an OBJECT_FINALIZE, payload format JSON_API_V1. */
function publishFinalize(topic: Topic, object: { bucket: string; key: string; generation: string }) {
  return topic.publishMessage({
    data: Buffer.from(JSON.stringify(objectResource(object))),
    attributes: notificationAttributes(object),
  });
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Writes an object into a local bucket directory as a vendor's upload would, and returns its version. */
async function writeObject(
  bucketDirectory: string,
  temporaryDirectory: string,
  key: string,
  content: string,
) {
  const path = join(bucketDirectory, ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  const store = await createLocalObjectStore({
    directory: bucketDirectory,
    temporaryDirectory,
    baseUrl: 'http://127.0.0.1',
    signingSecret: SIGNING_SECRET,
  });
  return (await store.stat(key))!;
}

describe('a gateway configured with the gcs-pubsub-push intake, behind the Pub/Sub emulator', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({
      configFile: {
        datasets: embeddedConfig.datasets,
        intake: [{ type: 'gcs-pubsub-push', auth: 'none' }],
      },
    });
  });

  afterAll(async () => {
    await gateway?.close();
  });

  const pushAnswers = () =>
    gateway.logs
      .map((line) => JSON.parse(line) as { message: string; path?: string; status?: number })
      .filter((entry) => entry.message === 'request' && entry.path === PUSH_PATH)
      .map((entry) => entry.status);

  it('warns at start that pushes are not verified', () => {
    const warnings = gateway.logs
      .map((line) => JSON.parse(line) as { severity: string; message: string })
      .filter((entry) => entry.severity === 'WARNING' && entry.message.includes('WITHOUT verifying'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('intake gcs-pubsub-push');
  });

  it('ingests the object a pushed notification names, once however often it is notified', async () => {
    const { topic } = await pushSubscription(`${gateway.url}${PUSH_PATH}`);
    const key = 'vendors/acme/orders/2026-12-02/pushed.csv';
    const { csv, goodRows, badRows } = ordersFile(40, 9);
    const object = await writeObject(join(gateway.dataDir, 'bucket'), join(gateway.dataDir, 'tmp'), key, csv);
    expect(object.bucket).toBe('local');
    const notified = { bucket: object.bucket, key, generation: object.version };

    await publishFinalize(topic, notified);
    const record = await eventually('the file to be ingested', async () => {
      const status = await call<{ state: string; via: string; attempts: number }>(
        gateway,
        'GET',
        `/admin/files/${key}`,
        {
          token: ADMIN_TOKEN,
        },
      );
      return status.status === 200 && status.body.state === 'ingested' ? status.body : undefined;
    });
    expect(record).toMatchObject({ via: 'gcs-pubsub-push', attempts: 1 });
    const events = await readTopic<{ order_id: string }>(gateway.dataDir, 'orders');
    expect(events).toHaveLength(goodRows.length);
    expect(new Set(events.map((event) => event.data.order_id))).toEqual(
      new Set(goodRows.map((row) => `ORD-${row}`)),
    );
    expect(await readTopic(gateway.dataDir, 'orders.dead-letter')).toHaveLength(badRows.length);

    // GCS delivers at least once: the same notification again, twice, is acknowledged and ingests nothing.
    await publishFinalize(topic, notified);
    await publishFinalize(topic, notified);
    await eventually('three pushes answered 200', async () =>
      pushAnswers().filter((status) => status === 200).length >= 3 ? true : undefined,
    );
    const after = await readTopic(gateway.dataDir, 'orders');
    expect(after).toHaveLength(goodRows.length);
    expect([...idCounts(after).values()].every((count) => count === 1)).toBe(true);
    expect(await readTopic(gateway.dataDir, 'dropgate.files')).toHaveLength(1);
    expect(pushAnswers().every((status) => status === 200)).toBe(true);
  });
});

describe('a push while another instance holds the lease', () => {
  it('is answered 503, redelivered by the emulator, and ingested once the lease is free', async () => {
    const directory = await makeTemporaryDirectory();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const bucketDirectory = join(directory, 'bucket');
    const temporaryDirectory = join(directory, 'tmp');
    await mkdir(temporaryDirectory, { recursive: true });
    const store = await createLocalObjectStore({
      directory: bucketDirectory,
      temporaryDirectory,
      baseUrl: 'http://127.0.0.1',
      signingSecret: SIGNING_SECRET,
    });
    const sink = createMemoryEventSink();
    const ledger = createMemoryLedger();
    const gateway = createGateway({
      store,
      sink,
      ledger,
      datasets: [testDataset()],
      controlTopic: 'dropgate.files',
      owner: 'this-instance',
      uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
      logger: silentLogger,
    });
    const app = createApp({
      gateway,
      auth: createAuthenticator({ adminToken: ADMIN_TOKEN, vendorKeys: new Map() }),
      logger: silentLogger,
      intakes: [createGcsPubsubPushIntake({ bucket: store.bucket, auth: 'none' })],
    });
    const answers: Array<{ status: number; at: number; retryAfter: string | null }> = [];
    const server = createAdaptorServer({
      fetch: async (request: Request) => {
        const response = await app.fetch(request);
        answers.push({
          status: response.status,
          at: Date.now(),
          retryAfter: response.headers.get('retry-after'),
        });
        return response;
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const key = 'vendors/acme/orders/2026-12-02/leased.csv';
    const { csv, goodRows } = ordersFile(12);
    const object = await writeObject(bucketDirectory, temporaryDirectory, key, csv);
    const ref = { bucket: store.bucket, key, version: object.version };
    // Another instance took the version a moment ago (a replay there, say) and holds it for 3 s more.
    await ledger.register(ref, { dataset: 'orders', via: 'other-instance', request: 'ingest' });
    const leaseMs = 3_000;
    const claim = await ledger.claim(ref, {
      dataset: 'orders',
      owner: 'other-instance',
      leaseMs,
      mode: 'notification',
    });
    expect(claim.claimed).toBe(true);
    const leaseEnds = Date.now() + leaseMs;

    const { topic } = await pushSubscription(`${url}${PUSH_PATH}`);
    await publishFinalize(topic, { bucket: store.bucket, key, generation: object.version });
    await eventually('a push answered 200', async () =>
      answers.some((answer) => answer.status === 200) ? true : undefined,
    );

    const refused = answers.filter((answer) => answer.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(Number(refused[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    // Nothing was ingested while the other instance held the version.
    const accepted = answers.find((answer) => answer.status === 200)!;
    expect(accepted.at).toBeGreaterThanOrEqual(leaseEnds);
    expect(answers.indexOf(accepted)).toBe(answers.length - 1);
    expect(sink.events('orders')).toHaveLength(goodRows.length);
    expect(await ledger.get(ref)).toMatchObject({ state: 'ingested', attempts: 2 });
  });
});
