/**
 * The whole Google Cloud path at once: a vendor PUTs to the V4 signed URL the gateway hands out (gcs store,
 * the GCS stand-in), the bucket's OBJECT_FINALIZE notification is published to a Pub/Sub topic (the
 * emulator) whose push subscription delivers it to the `gcs-pubsub-push` intake, the generation is read
 * back pinned, its events go out through the `pubsub` sink and the `firestore` ledger (the emulator)
 * records it. Pulled back from Pub/Sub, the events are exactly those the local sink writes for the same
 * generation; a redelivered notification publishes nothing; an overwrite is ingested as its own version.
 */
import { PubSub } from '@google-cloud/pubsub';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredObject } from '../support/gcs-stand-in/gcs-stand-in.js';
import { notificationAttributes, objectResource } from '../support/gcs-notifications.js';
import { emulatedProject, type EmulatedProject } from '../support/pubsub-emulator.js';
import { waitFor } from './support/data-dir.js';
import { readTopic, type CloudEvent } from './support/events.js';
import { startGcsGateway, useGcsStandIn } from './support/gcs.js';
import { ordersFile } from './support/orders-csv.js';
import { PACKAGE_ROOT } from './support/child-gateway.js';
import { ADMIN_TOKEN, call, requestUpload, type TestGateway } from './support/test-gateway.js';

const gcs = useGcsStandIn();
const BUCKET = 'vendor-drop-chain';
const PUSH_PATH = '/v1/notifications/gcs-pubsub-push';
const TOPICS = ['orders', 'orders.dead-letter', 'dropgate.files'];
const NOTIFICATIONS = 'gcs-uploads';

let project: EmulatedProject;
let pubsub: PubSub;
/** Notifications on their way to the topic, so a test can wait for every one to be published. */
const publishing = new Set<Promise<unknown>>();

beforeAll(async () => {
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    throw new Error(
      'FIRESTORE_EMULATOR_HOST is not set: this suite needs the Firestore emulator (test/global-setup)',
    );
  }
  project = emulatedProject('chain');
  await project.createTopics(...TOPICS);
  pubsub = new PubSub({ projectId: project.projectId });
  await pubsub.createTopic(NOTIFICATIONS);
  // What the bucket's notification configuration does: one message per stored generation, JSON_API_V1.
  gcs.standIn.onFinalize((object) => {
    if (object.bucket !== BUCKET) return;
    const sending = pubsub.topic(NOTIFICATIONS).publishMessage(notificationOf(object));
    publishing.add(sending);
    void sending.finally(() => publishing.delete(sending));
  });
});

afterAll(async () => {
  await Promise.all(publishing);
  await pubsub
    ?.topic(NOTIFICATIONS)
    .delete()
    .catch(() => undefined);
  await pubsub?.close();
  await project?.close();
});

/** The message GCS publishes for an object version: its resource as data, the attributes GCS sets. */
function notificationOf(object: StoredObject) {
  const notified = { bucket: object.bucket, key: object.name, generation: object.generation };
  const resource = {
    ...objectResource(notified),
    size: String(object.bytes.byteLength),
    contentType: object.contentType,
    timeCreated: object.timeCreated,
    updated: object.updated,
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
  };
  return {
    data: Buffer.from(JSON.stringify(resource)),
    attributes: { ...notificationAttributes(notified), eventTime: object.updated },
  };
}

const orders = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(PACKAGE_ROOT, 'schemas/orders'),
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

/** A gateway over the stand-in's bucket: the Google adapters, or the local sink and ledger as reference. */
function startGoogleGateway(reference: boolean): Promise<TestGateway> {
  return startGcsGateway(gcs, BUCKET, {
    ...(reference
      ? { intake: [] }
      : {
          // The emulator's pushes carry no OIDC token (google-push.security tests the verification).
          intake: [{ type: 'gcs-pubsub-push', auth: 'none' }],
          sink: { type: 'pubsub', projectId: project.projectId },
          ledger: {
            type: 'firestore',
            projectId: project.projectId,
            collectionPrefix: `${project.projectId}-`,
          },
        }),
    ingestThreads: 0,
    datasets: [orders],
  });
}

async function vendorUploads(gateway: TestGateway, filename: string, body: string) {
  const grant = await requestUpload(gateway, { dataset: 'orders', filename, size: body.length });
  const response = await fetch(grant.uploadUrl, { method: grant.method, headers: grant.headers, body });
  expect(response.status, await response.text()).toBe(200);
  return { key: grant.objectKey, generation: gcs.standIn.object(BUCKET, grant.objectKey)!.generation };
}

const fileStatus = async (gateway: TestGateway, key: string) =>
  (
    await call<{ state: string; version: string; via: string }>(gateway, 'GET', `/admin/files/${key}`, {
      token: ADMIN_TOKEN,
    })
  ).body;

const until = (what: string, condition: () => Promise<boolean>) =>
  waitFor(what, async () => ((await condition()) ? true : undefined), 30_000);

/** A push subscription from the notification topic to `gateway`, removed by the returned function. */
async function pushTo(gateway: TestGateway): Promise<() => Promise<unknown>> {
  const [subscription] = await pubsub
    .topic(NOTIFICATIONS)
    .createSubscription(`${NOTIFICATIONS}-push-${Date.now()}`, {
      pushConfig: { pushEndpoint: `${gateway.url}${PUSH_PATH}` },
      ackDeadlineSeconds: 30,
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
    });
  return () => subscription.delete();
}

/** A summary's duration is the one thing two ingestions of a file do not share. */
const withoutDuration = (body: string) => {
  const event = JSON.parse(body) as { data: { durationMs?: number } };
  delete event.data.durationMs;
  return event;
};

describe('signed upload to GCS, notification pushed through Pub/Sub, events out to Pub/Sub, the ledger in Firestore', () => {
  it('publishes exactly what the local sink writes for the same generation, once however often it is notified', async () => {
    const google = await startGoogleGateway(false);
    let removeSubscription: (() => Promise<unknown>) | undefined;
    const { csv, goodRows, badRows } = ordersFile(500, 11);
    let uploaded: { key: string; generation: string };
    try {
      removeSubscription = await pushTo(google);
      uploaded = await vendorUploads(google, 'chain-1.csv', csv);
      await until(
        'the file ingested',
        async () => (await fileStatus(google, uploaded.key)).state === 'ingested',
      );
      expect(await fileStatus(google, uploaded.key)).toMatchObject({
        via: 'gcs-pubsub-push',
        version: uploaded.generation,
      });

      // GCS delivers at least once: the same generation notified again ingests nothing.
      await pubsub
        .topic(NOTIFICATIONS)
        .publishMessage(notificationOf(gcs.standIn.object(BUCKET, uploaded.key)!));
      await until(
        'the redelivered notification answered',
        async () =>
          google.logs.filter((line) => line.includes(PUSH_PATH) && line.includes('"status":200')).length >= 2,
      );
    } finally {
      await removeSubscription?.();
      await google.close();
    }

    const pulled = new Map<string, string[]>();
    for (const topic of TOPICS) {
      pulled.set(
        topic,
        (await project.pull(topic)).map(({ data }) => data.toString('utf8')),
      );
    }
    expect(pulled.get('orders')).toHaveLength(goodRows.length);
    expect(pulled.get('orders.dead-letter')).toHaveLength(badRows.length);
    expect(pulled.get('dropgate.files')).toHaveLength(1);

    const reference = await startGoogleGateway(true);
    try {
      expect((await reference.running.gateway.ingestNow(uploaded.key, 'notification')).status).toBe(
        'ingested',
      );
      for (const topic of ['orders', 'orders.dead-letter']) {
        const local = (await readTopic(reference.dataDir, topic)).map((event) => JSON.stringify(event));
        expect([...pulled.get(topic)!].sort()).toEqual(local.sort());
      }
      const [localSummary] = await readTopic(reference.dataDir, 'dropgate.files');
      expect(withoutDuration(pulled.get('dropgate.files')![0]!)).toEqual(
        withoutDuration(JSON.stringify(localSummary)),
      );
    } finally {
      await reference.close();
    }
  });

  it('ingests an overwrite as its own generation, its events all from that generation', async () => {
    const google = await startGoogleGateway(false);
    let removeSubscription: (() => Promise<unknown>) | undefined;
    try {
      removeSubscription = await pushTo(google);
      const first = await vendorUploads(google, 'chain-2.csv', ordersFile(20).csv);
      await until(
        'the first generation ingested',
        async () => (await fileStatus(google, first.key)).state === 'ingested',
      );
      await project.pull('orders');

      const second = await vendorUploads(google, 'chain-2.csv', ordersFile(35).csv);
      expect(second.key).toBe(first.key);
      expect(second.generation).not.toBe(first.generation);
      await until('the second generation ingested', async () => {
        const status = await fileStatus(google, second.key);
        return status.version === second.generation && status.state === 'ingested';
      });
      const events = (await project.pull('orders')).map(
        ({ data }) => JSON.parse(data.toString('utf8')) as CloudEvent,
      );
      expect(events).toHaveLength(35);
      expect(new Set(events.map((event) => event.objectversion))).toEqual(new Set([second.generation]));
    } finally {
      await removeSubscription?.();
      await google.close();
    }
  });
});
