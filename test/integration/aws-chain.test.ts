/**
 * The whole AWS path at once, each part on its stand-in and reached only through the SDK's standard
 * variables: a vendor uploads through the presigned POST the gateway hands out (s3 store, s3rver), the
 * bucket's notification travels through SQS (fauxqs) to the `sqs` intake, the file is read back from S3
 * pinned to the notified ETag, its events go out through the `sqs` sink, and the `dynamodb` ledger
 * (dynalite) records it. The events received are exactly those the local sink writes for the same object
 * version, and the notification is deleted only once they are durable.
 */
import { join } from 'node:path';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerTable } from '../../adapters/ledger/dynamodb/ledger-table.js';
import {
  drainQueue,
  queueDepth as queueDepthOf,
  startDynalite,
  startFauxqs,
  startS3rver,
  useTestCredentials,
  type S3rverNotification,
  type StandIn,
} from '../support/aws-stand-ins.js';
import { waitFor } from './support/data-dir.js';
import { ORDERS_HEADER, badOrderLine, orderData, orderLine } from './support/orders-csv.js';
import { readTopic } from './support/events.js';
import { ADMIN_TOKEN, VENDOR_KEY, call, startTestGateway, type TestGateway } from './support/test-gateway.js';

const BUCKET = 'vendor-drops';
const TABLE = 'dropgate-chain-ledger';
const QUEUES = {
  notifications: 'chain-notifications',
  topic: 'orders',
  deadLetterTopic: 'orders-dead-letter',
  controlTopic: 'dropgate-files',
};
const VARIABLES = ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_DYNAMODB'] as const;

let s3rver: StandIn;
let fauxqs: StandIn;
let dynalite: StandIn;
let sqs: SQSClient;
const queueUrls = new Map<string, string>();
const saved: Partial<Record<(typeof VARIABLES)[number], string>> = {};
/** Relays still sending, so a test can wait until every notification is on the queue. */
const relaying = new Set<Promise<unknown>>();
const relayed: string[] = [];

/** A key as S3 writes it into a notification: URL-encoded per segment, spaces as `+`. */
const s3EncodedKey = (key: string) =>
  key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment)
        .replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
    )
    .join('/');

/** What the bucket's notification configuration does: send each event to the queue, key encoded as S3 does. */
function relayToQueue(notification: S3rverNotification) {
  const Records = notification.Records.map((record) => ({
    ...record,
    s3: { ...record.s3, object: { ...record.s3.object, key: s3EncodedKey(record.s3.object.key) } },
  }));
  const body = JSON.stringify({ Records });
  relayed.push(body);
  const sending = sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrls.get(QUEUES.notifications)!, MessageBody: body }),
  );
  relaying.add(sending);
  void sending.finally(() => relaying.delete(sending));
}

beforeAll(async () => {
  useTestCredentials();
  [s3rver, fauxqs, dynalite] = await Promise.all([
    startS3rver([BUCKET], { onEvent: relayToQueue }),
    startFauxqs(),
    startDynalite(),
  ]);
  for (const name of VARIABLES) saved[name] = process.env[name];
  process.env.AWS_ENDPOINT_URL_S3 = s3rver.endpoint;
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  for (const name of Object.values(QUEUES)) {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    queueUrls.set(name, QueueUrl!);
  }
  await createLedgerTable({ table: TABLE });
});

afterAll(async () => {
  sqs?.destroy();
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await Promise.all([s3rver?.stop(), fauxqs?.stop(), dynalite?.stop()]);
});

const ordersDataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(process.cwd(), 'schemas/orders'),
  eventType: 'OrderReceived',
  topic: QUEUES.topic,
  deadLetterTopic: QUEUES.deadLetterTopic,
};

/** A gateway on the s3 store; the AWS adapters unless `local` asks for the local sink and ledger. */
function startGateway(local: boolean): Promise<TestGateway> {
  return startTestGateway({
    configFile: {
      store: { type: 's3', bucket: BUCKET, forcePathStyle: true },
      ...(local
        ? { intake: [] }
        : {
            intake: [
              {
                type: 'sqs',
                queueUrl: queueUrls.get(QUEUES.notifications),
                waitTimeSeconds: 1,
                visibilityTimeoutSeconds: 30,
              },
            ],
            sink: { type: 'sqs' },
            ledger: { type: 'dynamodb', table: TABLE },
          }),
      controlTopic: QUEUES.controlTopic,
      uploads: { maxBytes: 1_000_000, expiresInSeconds: 600 },
      ingestThreads: 0,
      datasets: [ordersDataset],
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
}

/** What a vendor does: ask for an upload, then send the file exactly as the answer says. */
async function vendorUploads(gateway: TestGateway, filename: string, body: string): Promise<string> {
  const size = new TextEncoder().encode(body).byteLength;
  const answer = await call<UploadAnswer>(gateway, 'POST', '/v1/uploads', {
    token: VENDOR_KEY,
    json: { dataset: 'orders', filename, size },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  expect(answer.body.method).toBe('POST');
  const form = new FormData();
  for (const [name, value] of Object.entries(answer.body.fields ?? {})) form.append(name, value);
  form.append(answer.body.fileField!, new Blob([body]), filename);
  const uploaded = await fetch(answer.body.uploadUrl, { method: 'POST', body: form });
  expect(uploaded.status, await uploaded.clone().text()).toBe(204);
  return answer.body.objectKey;
}

/** Messages visible or in flight on one of QUEUES. */
async function queueDepth(queue: string): Promise<number> {
  const { visible, inFlight } = await queueDepthOf(sqs, queueUrls.get(queue)!);
  return visible + inFlight;
}

const drain = (queue: string) => drainQueue(sqs, queueUrls.get(queue)!);

/** Waits until `condition` holds. */
const until = (what: string, condition: () => Promise<boolean>, timeoutMs = 20_000) =>
  waitFor(what, async () => ((await condition()) ? true : undefined), timeoutMs);

const fileStatus = (gateway: TestGateway, key: string) =>
  call<{ state: string; version: string; via: string; outcome?: Record<string, unknown> }>(
    gateway,
    'GET',
    `/admin/files/${key.split('/').map(encodeURIComponent).join('/')}`,
    { token: ADMIN_TOKEN },
  );

function ordersCsv(rows: number, offset = 0): string {
  const lines = [ORDERS_HEADER];
  for (let row = 1; row <= rows; row++) {
    lines.push(row % 20 === 0 ? badOrderLine(row + offset) : orderLine(row + offset));
  }
  return `${lines.join('\n')}\n`;
}

describe('upload to S3, notification through SQS, events out to SQS, the ledger in DynamoDB', () => {
  it('delivers exactly the events the local sink writes for the same object version, then deletes the notification', async () => {
    const aws = await startGateway(false);
    let objectKey = '';
    let version = '';
    try {
      objectKey = await vendorUploads(aws, 'batch-7.csv', ordersCsv(200));
      await until(
        'the file ingested',
        async () => (await fileStatus(aws, objectKey)).body.state === 'ingested',
      );
      const status = (await fileStatus(aws, objectKey)).body;
      expect(status).toMatchObject({
        state: 'ingested',
        via: 'sqs',
        version: expect.stringMatching(/^etag:/),
      });
      version = status.version;
      // Deleted once the file was durable: nothing left for a redelivery.
      await until('the notification queue empty', async () => (await queueDepth(QUEUES.notifications)) === 0);
      expect(relayed).toHaveLength(1);
      expect(JSON.parse(relayed[0]!)).toMatchObject({
        Records: [{ eventName: 'ObjectCreated:Post', s3: { object: { key: objectKey } } }],
      });

      // The same notification again (S3 delivers at least once): acknowledged, nothing published twice.
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrls.get(QUEUES.notifications)!, MessageBody: relayed[0]! }),
      );
      await until('the notification queue empty', async () => (await queueDepth(QUEUES.notifications)) === 0);
    } finally {
      await aws.close();
    }

    // The same object version through the local sink, as the reference.
    const local = await startGateway(true);
    try {
      const result = await local.running.gateway.ingestNow(objectKey, 'notification');
      expect(result.status).toBe('ingested');
      const received = new Map<string, Array<{ id: string; body: string }>>();
      for (const topic of [QUEUES.topic, QUEUES.deadLetterTopic, QUEUES.controlTopic]) {
        received.set(
          topic,
          (await drain(topic)).map((message) => ({
            id: message.MessageAttributes!['ce-id']!.StringValue!,
            body: message.Body!,
          })),
        );
      }
      const byId = (left: { id: string }, right: { id: string }) => (left.id < right.id ? -1 : 1);
      for (const topic of [QUEUES.topic, QUEUES.deadLetterTopic]) {
        const expected = (await readTopic(local.dataDir, topic)).map((event) => ({
          id: event.id as string,
          body: JSON.stringify(event),
        }));
        expect(received.get(topic)!.length, topic).toBe(topic === QUEUES.topic ? 190 : 10);
        const normalized = received
          .get(topic)!
          .map((event) => ({ id: event.id, body: JSON.stringify(JSON.parse(event.body)) }));
        expect(normalized.sort(byId)).toEqual(expected.sort(byId));
      }
      // One summary: the duplicate notification published none.
      const summaries = received.get(QUEUES.controlTopic)!.map((event) => JSON.parse(event.body));
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({
        type: expect.stringMatching(/FileIngested/),
        data: expect.objectContaining({ rowsPublished: 190, rowsRejected: 10 }),
      });
      expect(summaries[0].data).toMatchObject({ objectKey, objectVersion: version });
    } finally {
      await local.close();
    }
  });

  it('ingests a second upload under the same key as a new version, its events all from that version', async () => {
    const aws = await startGateway(false);
    try {
      const first = await vendorUploads(aws, 'batch-8.csv', ordersCsv(30));
      await until(
        'the first version ingested',
        async () => (await fileStatus(aws, first)).body.state === 'ingested',
      );
      const firstVersion = (await fileStatus(aws, first)).body.version;
      await drain(QUEUES.topic);

      const second = await vendorUploads(aws, 'batch-8.csv', ordersCsv(30, 1000));
      expect(second).toBe(first);
      await until('the second version ingested', async () => {
        const status = (await fileStatus(aws, second)).body;
        return status.version !== firstVersion && status.state === 'ingested';
      });
      await until('the notification queue empty', async () => (await queueDepth(QUEUES.notifications)) === 0);
      const byOrder = (left: { order_id?: unknown }, right: { order_id?: unknown }) =>
        String(left.order_id) < String(right.order_id) ? -1 : 1;
      const received = (await drain(QUEUES.topic)).map(
        (message) => (JSON.parse(message.Body!) as { data: Record<string, unknown> }).data,
      );
      // Rows of the second file only: its orders are numbered from 1001.
      const secondRows = Array.from({ length: 30 }, (_, index) => index + 1).filter((row) => row % 20 !== 0);
      expect(received.sort(byOrder)).toEqual(secondRows.map((row) => orderData(row + 1000)).sort(byOrder));
    } finally {
      await aws.close();
    }
  });
});
