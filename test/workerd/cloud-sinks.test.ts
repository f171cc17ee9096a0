/**
 * The product Worker under workerd publishing over the clouds' HTTP APIs, where their Node SDKs do not
 * run. With a `pubsub` sink a file's events are pulled back from the Pub/Sub emulator, reached through
 * PUBSUB_EMULATOR_HOST, and then through a service account's key: the JWT signed inside workerd,
 * exchanged for a token the requests carry. With an `sqs` sink they are received from fauxqs. What the
 * environment must hold for each sink is checked on Node, faster: test/unit/worker-wire.test.ts.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { exportPKCS8, generateKeyPair, importSPKI, exportSPKI, jwtVerify } from 'jose';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  drainQueue,
  startFauxqs,
  TEST_CREDENTIALS,
  TEST_REGION,
  type StandIn,
} from '../support/aws-stand-ins.js';
import { emulatedProject, emulatorHost, type EmulatedProject } from '../support/pubsub-emulator.js';
import {
  bundleEdgeWorker,
  edgeConfig,
  eventually,
  notification,
  row,
  csv,
  putObject,
  SECRETS,
  notify,
  startEdgeMiniflare,
  TOPICS,
} from './support/edge-worker.js';

type CloudEvent = { id: string; type: string; subject?: string; data: Record<string, unknown> };

/** Puts a file of two good rows and a bad one and notifies the Worker of it. */
async function ingest(miniflare: Miniflare, name: string) {
  const key = `vendors/acme/orders/2026-11-24/${name}.csv`;
  const object = await putObject(miniflare, key, csv(row('C-1'), row('C-2', 0), row('C-3')));
  await notify(miniflare, notification('PutObject', key, object));
  return key;
}

/** What each topic received so far, kept across reads (`read` takes each message once). */
function collector(read: (topic: string) => Promise<string[]>) {
  const seen = new Map<string, CloudEvent[]>(TOPICS.map((topic) => [topic, []]));
  return async () => {
    for (const topic of TOPICS) {
      seen.get(topic)!.push(...(await read(topic)).map((body) => JSON.parse(body) as CloudEvent));
    }
    return seen;
  };
}

/** The rows, dead letters and file summary of one file: what the Worker published. */
async function publishedFile(read: () => Promise<Map<string, CloudEvent[]>>) {
  const seen = await eventually(read, (topics) => topics.get('dropgate-files')!.length >= 1, 30_000);
  return {
    rows: seen
      .get('orders')!
      .map((event) => event.data.order_id)
      .sort(),
    deadLetters: seen.get('orders-dead-letter')!.length,
    summaries: seen.get('dropgate-files')!.map((event) => event.type),
  };
}

describe('the Worker publishing to Pub/Sub over REST', () => {
  let project: EmulatedProject;
  let bundle: Awaited<ReturnType<typeof bundleEdgeWorker>>;

  beforeAll(async () => {
    project = emulatedProject('edge');
    await project.createTopics(...TOPICS);
    bundle = await bundleEdgeWorker(edgeConfig({ sink: { type: 'pubsub', projectId: project.projectId } }));
  }, 60_000);
  afterAll(async () => {
    await bundle?.remove();
    await project?.close();
  });

  const pulled = () =>
    collector(async (topic) => (await project.pull(topic)).map(({ data }) => data.toString('utf8')));

  test('with PUBSUB_EMULATOR_HOST: rows, dead letters and the summary are pulled from the emulator', async () => {
    const miniflare = startEdgeMiniflare(bundle.script, { ...SECRETS, PUBSUB_EMULATOR_HOST: emulatorHost() });
    try {
      await ingest(miniflare, 'emulator');
      expect(await publishedFile(pulled())).toEqual({
        rows: ['C-1', 'C-3'],
        deadLetters: 1,
        summaries: ['FileIngested'],
      });
    } finally {
      await miniflare.dispose();
    }
  }, 60_000);

  test('with a service account key: each request carries a token for the JWT signed in workerd', async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const publicKey = await importSPKI(await exportSPKI(pair.publicKey), 'RS256');
    const key = {
      type: 'service_account',
      client_email: 'dropgate@edge-project.iam.gserviceaccount.com',
      private_key: await exportPKCS8(pair.privateKey),
      private_key_id: 'edge-key',
      token_uri: 'https://oauth2.googleapis.com/token',
    };
    const authorizations: string[] = [];
    let exchanges = 0;
    // Google's two endpoints, served here: the token exchange, and Pub/Sub passed on to the emulator.
    const outbound = async (request: Request) => {
      const url = new URL(request.url);
      if (url.href === key.token_uri) {
        const assertion = new URLSearchParams(await request.text()).get('assertion')!;
        const { payload } = await jwtVerify(assertion, publicKey, {
          issuer: key.client_email,
          audience: key.token_uri,
        });
        expect(payload.scope).toBe('https://www.googleapis.com/auth/pubsub');
        exchanges++;
        return Response.json({ access_token: `edge-token-${exchanges}`, expires_in: 3_599 });
      }
      expect(url.host).toBe('pubsub.googleapis.com');
      authorizations.push(request.headers.get('authorization') ?? '(none)');
      return fetch(`http://${emulatorHost()}${url.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: await request.text(),
      });
    };
    const miniflare = startEdgeMiniflare(
      bundle.script,
      { ...SECRETS, GOOGLE_SERVICE_ACCOUNT_KEY: JSON.stringify(key) },
      { outbound },
    );
    try {
      await ingest(miniflare, 'service-account');
      expect(await publishedFile(pulled())).toEqual({
        rows: ['C-1', 'C-3'],
        deadLetters: 1,
        summaries: ['FileIngested'],
      });
      expect(exchanges).toBe(1);
      expect(authorizations.length).toBeGreaterThanOrEqual(3);
      expect(new Set(authorizations)).toEqual(new Set(['Bearer edge-token-1']));
    } finally {
      await miniflare.dispose();
    }
  }, 60_000);
});

describe('the Worker publishing to SQS over its JSON protocol', () => {
  let standIn: StandIn;
  let client: SQSClient;
  let queueUrls: Map<string, string>;
  let bundle: Awaited<ReturnType<typeof bundleEdgeWorker>>;

  beforeAll(async () => {
    standIn = await startFauxqs();
    client = new SQSClient({
      endpoint: standIn.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      useQueueUrlAsEndpoint: false,
    });
    queueUrls = new Map();
    for (const topic of TOPICS) {
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: topic }));
      queueUrls.set(topic, QueueUrl!);
    }
    bundle = await bundleEdgeWorker(edgeConfig({ sink: { type: 'sqs', region: TEST_REGION } }));
  }, 60_000);
  afterAll(async () => {
    await bundle?.remove();
    client?.destroy();
    await standIn?.stop();
  });

  test('rows, dead letters and the summary are received from the queues', async () => {
    const miniflare = startEdgeMiniflare(bundle.script, {
      ...SECRETS,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: standIn.endpoint,
    });
    try {
      await ingest(miniflare, 'sqs');
      const received = collector(async (topic) =>
        (await drainQueue(client, queueUrls.get(topic)!)).map((message) => message.Body!),
      );
      expect(await publishedFile(received)).toEqual({
        rows: ['C-1', 'C-3'],
        deadLetters: 1,
        summaries: ['FileIngested'],
      });
    } finally {
      await miniflare.dispose();
    }
  }, 60_000);
});
