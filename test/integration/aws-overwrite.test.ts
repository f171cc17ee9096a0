/**
 * An S3 object overwritten between its notification and its read, on the whole AWS path: the `s3` store on
 * a bucket of the versioned S3 stand-in (versioning on: reads pinned by VersionId; off: by `If-Match` on the
 * ETag), the `sqs` intake and the `sqs` sink on fauxqs, the `dynamodb` ledger on dynalite. S3's notification
 * of version 1 goes through the queue; version 2 is written before the gateway receives it, between its
 * claim and its read, while its body is being read (the connection then breaks, as it may when a read
 * is cut off), or between two of a Parquet file's range reads. Version 1 never publishes version 2's rows nor a mix: it is ingested whole from its own
 * bytes where its version id still reads them, else closed as rejected OBJECT_VERSION_GONE; its
 * notification is deleted once that is settled, and version 2's notification ingests version 2 once.
 */
import { rm } from 'node:fs/promises';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqsEventSink } from '../../adapters/event-sink/sqs/sqs-event-sink.js';
import { createSqsIntake } from '../../adapters/intake/sqs/sqs-intake.js';
import { createDynamoDbLedger } from '../../adapters/ledger/dynamodb/dynamodb-ledger.js';
import { createLedgerTable } from '../../adapters/ledger/dynamodb/ledger-table.js';
import { createS3ObjectStore, type S3ObjectStore } from '../../adapters/object-store/s3/s3-object-store.js';
import { parseS3ObjectVersion } from '../../adapters/object-store/s3-object-version.js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { FileRecord, IntakeResult, ObjectInfo, QueueConsumer } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { startDynalite, startFauxqs, useTestCredentials, type StandIn } from '../support/aws-stand-ins.js';
import type { CloudEvent, FileSummaryData } from '../support/cloud-events.js';
import { testDataset } from '../support/datasets.js';
import { s3Record } from '../support/s3-notification-messages.js';
import { startVersionedS3StandIn, type VersionedS3StandIn } from '../support/versioned-s3-stand-in.js';
import { orderData, ordersFile } from './support/orders-csv.js';
import { ordersParquet } from './support/orders-parquet.js';
import { makeTemporaryDirectory } from './support/test-gateway.js';

const TABLE = 'dropgate-overwrite-ledger';
const VARIABLES = ['AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_DYNAMODB'] as const;
/** Version 2's order numbers start here, so each event's data says which version it came from. */
const V2_OFFSET = 1000;

let fauxqs: StandIn;
let dynalite: StandIn;
let versioned: VersionedS3StandIn;
let unversioned: VersionedS3StandIn;
let sqs: SQSClient;
const saved: Partial<Record<(typeof VARIABLES)[number], string>> = {};
const running: Array<{ intake: QueueConsumer; close(): Promise<void> }> = [];

beforeAll(async () => {
  useTestCredentials();
  [fauxqs, dynalite, versioned, unversioned] = await Promise.all([
    startFauxqs(),
    startDynalite(),
    startVersionedS3StandIn(),
    startVersionedS3StandIn({ versioning: false }),
  ]);
  for (const name of VARIABLES) saved[name] = process.env[name];
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  await createLedgerTable({ table: TABLE });
});

const directories: string[] = [];
afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.close();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

afterAll(async () => {
  sqs?.destroy();
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await Promise.all([fauxqs?.stop(), dynalite?.stop(), versioned?.stop(), unversioned?.stop()]);
});

let cases = 0;

/** A gateway on the AWS adapters, its own bucket and queues, consuming its notification queue. */
async function awsGateway(standIn: VersionedS3StandIn, options: { rowsPerMessage?: number } = {}) {
  const name = `overwrite-${++cases}`;
  const queue = async (suffix: string) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${suffix}` }))).QueueUrl!;
  const queues = {
    notifications: await queue('notifications'),
    topic: await queue('orders'),
    deadLetterTopic: await queue('orders-dead-letter'),
    controlTopic: await queue('files'),
  };
  const store = await createS3ObjectStore({
    bucket: name,
    endpoint: standIn.endpoint,
    forcePathStyle: true,
  });
  await fetch(`${standIn.endpoint}/${name}`, { method: 'PUT' });
  const sink = createSqsEventSink(
    options.rowsPerMessage ? { rowsPerMessage: new Map([[queues.topic, options.rowsPerMessage]]) } : {},
  );
  const ledger = createDynamoDbLedger({ table: TABLE });
  const gateway = createGateway({
    store,
    sink,
    ledger,
    datasets: [testDataset({ topic: queues.topic, deadLetterTopic: queues.deadLetterTopic })],
    controlTopic: queues.controlTopic,
    owner: name,
    uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { retry: { attempts: 2, baseDelayMs: 10 } },
  });
  const intake = createSqsIntake({
    queueUrl: queues.notifications,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 10,
    maxRetryDelaySeconds: 1,
    stopGraceMs: 5_000,
  });
  const accepted: IntakeResult[] = [];
  intake.start(async (result) => {
    accepted.push(result);
    return gateway.accept(result, 'inline');
  });
  running.push({
    intake,
    async close() {
      await intake.stop();
      gateway.stop();
      await sink.close();
      await ledger.close();
      store.client.destroy();
    },
  });
  return { store, ledger, queues, accepted };
}

type Aws = Awaited<ReturnType<typeof awsGateway>>;

/** Writes a version of `key` as a vendor's upload would, and describes it as the store does. */
async function write(store: S3ObjectStore, key: string, body: string | Uint8Array): Promise<ObjectInfo> {
  await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body }));
  return (await store.stat(key))!;
}

/** What S3 sends the queue for a version: its ETag, and its version id in a versioned bucket. */
async function notify(aws: Aws, standIn: VersionedS3StandIn, info: ObjectInfo, sequence: number) {
  const pin = parseS3ObjectVersion(info.version)!;
  const versionId = 'versionId' in pin ? pin.versionId : undefined;
  const eTag =
    'etag' in pin
      ? pin.etag
      : standIn.versions(aws.store.bucket, info.key).find((version) => version.versionId === versionId)!.etag;
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: aws.queues.notifications,
      MessageBody: JSON.stringify({
        Records: [
          s3Record({
            bucket: aws.store.bucket,
            key: encodeURIComponent(info.key),
            eTag,
            ...(versionId === undefined ? {} : { versionId }),
            sequencer: `0055AED6DCD9028${sequence}00`,
          }),
        ],
      }),
    }),
  );
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function queueEmpty(queueUrl: string): Promise<boolean> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible) ===
    0
  );
}

/** Every message on the queue now, each received once. */
async function drain(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

/** A settled record of the version: ingested or rejected. */
async function settled(aws: Aws, info: ObjectInfo): Promise<FileRecord> {
  let record: FileRecord | undefined;
  await until(`${info.version} settled`, async () => {
    record = await aws.ledger.get(info);
    return record?.state === 'ingested' || record?.state === 'rejected';
  }).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify({ record, accepted: aws.accepted })}`);
  });
  return record!;
}

/**
 * The events of each version, checked against that version's content: every row event's data is the row
 * of the version its `objectversion` names (version 2's orders are numbered from V2_OFFSET + 1).
 */
async function eventsByVersion(aws: Aws, first: ObjectInfo, second: ObjectInfo) {
  const rows = new Map<string, number[]>([
    [first.version, []],
    [second.version, []],
  ]);
  // A packed message holds a JSON array of events.
  const published = (await drain(aws.queues.topic)).flatMap(
    (message) => JSON.parse(message.Body!) as CloudEvent | CloudEvent[],
  );
  for (const event of published) {
    const row = event.rownumber!;
    const offset = event.objectversion === second.version ? V2_OFFSET : 0;
    expect(rows.has(event.objectversion), event.objectversion).toBe(true);
    expect(event.data.order_id).toBe(orderData(row + offset).order_id);
    rows.get(event.objectversion)!.push(row);
  }
  const summaries = (await drain(aws.queues.controlTopic)).map(
    (message) => JSON.parse(message.Body!) as CloudEvent<FileSummaryData>,
  );
  const sorted = (version: string) => rows.get(version)!.sort((left, right) => left - right);
  return {
    first: sorted(first.version),
    second: sorted(second.version),
    summaries: (version: string) =>
      summaries.filter((summary) => summary.objectversion === version).map((summary) => summary.type),
  };
}

/** Version 1's CSV (orders 1..rows) and version 2's (orders numbered from V2_OFFSET + 1). */
function contents(rows: number, noteLength?: number) {
  const first = ordersFile(rows, 0, noteLength ? { noteLength } : {}).csv;
  const second = ordersFile(5).csv.replace(/ORD-(\d+),/g, (_, n: string) => `ORD-${Number(n) + V2_OFFSET},`);
  const rowsOf = (count: number) => Array.from({ length: count }, (_, index) => index + 1);
  return { first, second, firstRows: rowsOf(rows), secondRows: rowsOf(5) };
}

/** Version 2's own notification, then its ingestion: whole, once. */
async function expectSecondIngestedOnce(aws: Aws, standIn: VersionedS3StandIn, second: ObjectInfo) {
  await notify(aws, standIn, second, 2);
  expect(await settled(aws, second)).toMatchObject({ state: 'ingested', via: 'sqs' });
  await until('every notification deleted', () => queueEmpty(aws.queues.notifications));
}

describe('an S3 object overwritten between its notification and its read', () => {
  it('ETag pin, replaced before the notification is received: version 1 closed as replaced, nothing of it published', async () => {
    const aws = await awsGateway(unversioned);
    const key = 'vendors/acme/orders/2024-05-01/late.csv';
    const { first, second, secondRows } = contents(20);
    const v1 = await write(aws.store, key, first);
    const v2 = await write(aws.store, key, second);
    await notify(aws, unversioned, v1, 1);
    // The only version the bucket has: the stand-in kept no other.
    expect(v1.version).toMatch(/^etag:/);

    expect(await settled(aws, v1)).toMatchObject({
      state: 'rejected',
      outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
    });
    await until('version 1 notification deleted', () => queueEmpty(aws.queues.notifications));
    await expectSecondIngestedOnce(aws, unversioned, v2);

    const events = await eventsByVersion(aws, v1, v2);
    expect(events.first).toEqual([]);
    expect(events.summaries(v1.version)).toEqual([]);
    expect(events.second).toEqual(secondRows);
    expect(events.summaries(v2.version)).toEqual(['FileIngested']);
  });

  it('ETag pin, replaced between the claim and the read: the read is refused (412), version 1 rejected with no row out', async () => {
    const aws = await awsGateway(unversioned);
    const key = 'vendors/acme/orders/2024-05-01/claimed.csv';
    const { first, second, secondRows } = contents(20);
    const v1 = await write(aws.store, key, first);
    let v2: ObjectInfo | undefined;
    unversioned.beforeNextGet(key, async () => {
      v2 = await write(aws.store, key, second);
    });
    await notify(aws, unversioned, v1, 1);

    expect(await settled(aws, v1)).toMatchObject({
      state: 'rejected',
      attempts: 1,
      outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
    });
    await until('version 1 notification deleted', () => queueEmpty(aws.queues.notifications));
    expect(v2).toBeDefined();
    await expectSecondIngestedOnce(aws, unversioned, v2!);

    const events = await eventsByVersion(aws, v1, v2!);
    expect(events.first).toEqual([]);
    expect(events.summaries(v1.version)).toEqual(['FileRejected']);
    expect(events.second).toEqual(secondRows);
    expect(events.summaries(v2!.version)).toEqual(['FileIngested']);
  });

  it('ETag pin, replaced mid-read and the read broken off: version 1 rejected OBJECT_VERSION_GONE, none of version 2 in it', async () => {
    const aws = await awsGateway(unversioned);
    const key = 'vendors/acme/orders/2024-05-01/mid-read.csv';
    const { first, second, secondRows } = contents(300, 200);
    const v1 = await write(aws.store, key, first);
    const held = unversioned.holdReads(key, 20_000);
    await notify(aws, unversioned, v1, 1);
    await held.reached;
    const v2 = await write(aws.store, key, second);
    held.cut();

    expect(await settled(aws, v1)).toMatchObject({
      state: 'rejected',
      outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
    });
    await until('version 1 notification deleted', () => queueEmpty(aws.queues.notifications));
    await expectSecondIngestedOnce(aws, unversioned, v2);

    const events = await eventsByVersion(aws, v1, v2);
    // Whatever of version 1 went out before the break is its own first rows, each once.
    expect(events.first).toEqual(events.first.map((_, index) => index + 1));
    expect(events.first.length).toBeLessThan(300);
    expect(events.summaries(v1.version)).toEqual(['FileRejected']);
    expect(events.second).toEqual(secondRows);
  });

  it('version id pin, replaced between the claim and the read: the notified version id is read, version 1 ingested whole', async () => {
    const aws = await awsGateway(versioned);
    const key = 'vendors/acme/orders/2024-05-01/pinned.csv';
    const { first, second, firstRows, secondRows } = contents(20);
    const v1 = await write(aws.store, key, first);
    let v2: ObjectInfo | undefined;
    versioned.beforeNextGet(key, async () => {
      v2 = await write(aws.store, key, second);
    });
    await notify(aws, versioned, v1, 1);

    const versionId = versioned.versions(aws.store.bucket, key)[0]!.versionId;
    // The notification's versionId became the record's version...
    expect(v1.version).toBe(`version-id:${versionId}`);
    expect(await settled(aws, v1)).toMatchObject({ state: 'ingested', via: 'sqs', attempts: 1 });
    // ...and the read named it, after version 2 was the current one.
    expect(versioned.requests).toContainEqual(
      expect.stringMatching(new RegExp(`^GET /${aws.store.bucket}/.*versionId=${versionId}`)),
    );
    expect(v2).toBeDefined();
    await expectSecondIngestedOnce(aws, versioned, v2!);

    const events = await eventsByVersion(aws, v1, v2!);
    expect(events.first).toEqual(firstRows);
    expect(events.summaries(v1.version)).toEqual(['FileIngested']);
    expect(events.second).toEqual(secondRows);
    expect(events.summaries(v2!.version)).toEqual(['FileIngested']);
  });

  it('version id pin, replaced mid-read and the read broken off: redelivered, then closed as replaced with the rows it had out', async () => {
    const aws = await awsGateway(versioned);
    const key = 'vendors/acme/orders/2024-05-01/pinned-mid-read.csv';
    const { first, second, secondRows } = contents(300, 200);
    const v1 = await write(aws.store, key, first);
    const held = versioned.holdReads(key, 20_000);
    await notify(aws, versioned, v1, 1);
    await held.reached;
    const v2 = await write(aws.store, key, second);
    held.cut();

    // The broken read failed the attempt (its version id still names its bytes: worth a retry); the
    // notification came back, and by then version 2 was current: version 1 is closed where it stopped.
    const record = await settled(aws, v1);
    await until('version 1 notification deleted', () => queueEmpty(aws.queues.notifications));
    expect(aws.accepted.length).toBe(2);
    await expectSecondIngestedOnce(aws, versioned, v2);
    const events = await eventsByVersion(aws, v1, v2);
    expect(events.first.length).toBeGreaterThan(0);
    expect(events.first.length).toBeLessThan(300);
    expect(events.first).toEqual(events.first.map((_, index) => index + 1));
    expect(record).toMatchObject({
      state: 'rejected',
      attempts: 2,
      outcome: {
        rowsRead: events.first.length,
        rowsPublished: events.first.length,
        error: {
          code: 'OBJECT_VERSION_GONE',
          message: expect.stringContaining(`after its first ${events.first.length} rows were published`),
        },
      },
    });
    expect(events.second).toEqual(secondRows);
  });

  it('ETag pin, Parquet replaced between two range reads: the next range is refused (412), version 1 rejected where it stopped', async () => {
    const aws = await awsGateway(unversioned, { rowsPerMessage: 100 });
    const key = 'vendors/acme/orders/2024-05-01/ranges.parquet';
    const directory = await makeTemporaryDirectory('dropgate-aws-overwrite-');
    directories.push(directory);
    const first = await ordersParquet(directory, 10_000, 1_000, 'v1');
    const second = await ordersParquet(directory, 5, 5, 'v2', V2_OFFSET);
    const v1 = await write(aws.store, key, first.bytes);
    let v2: ObjectInfo | undefined;
    // The footer and the first row groups are read; version 2 lands before the fourth range.
    unversioned.beforeNextGet(key, async () => void (v2 = await write(aws.store, key, second.bytes)), 3);
    await notify(aws, unversioned, v1, 1);

    expect(await settled(aws, v1)).toMatchObject({
      state: 'rejected',
      outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
    });
    await until('version 1 notification deleted', () => queueEmpty(aws.queues.notifications));
    await expectSecondIngestedOnce(aws, unversioned, v2!);
    const events = await eventsByVersion(aws, v1, v2!);
    // The row groups read before the replacement went out, each row once, and nothing after them.
    expect(events.first.length).toBeGreaterThan(0);
    expect(events.first.length).toBeLessThan(10_000);
    expect(events.first).toEqual(events.first.map((_, index) => index + 1));
    expect(events.summaries(v1.version)).toEqual(['FileRejected']);
    expect(events.second).toEqual(second.goodRows);
  });

  it('version id pin, Parquet replaced between two range reads: every range names the version, version 1 ingested whole', async () => {
    const aws = await awsGateway(versioned, { rowsPerMessage: 100 });
    const key = 'vendors/acme/orders/2024-05-01/ranges.parquet';
    const directory = await makeTemporaryDirectory('dropgate-aws-overwrite-');
    directories.push(directory);
    const first = await ordersParquet(directory, 10_000, 1_000, 'v1');
    const second = await ordersParquet(directory, 5, 5, 'v2', V2_OFFSET);
    const v1 = await write(aws.store, key, first.bytes);
    let v2: ObjectInfo | undefined;
    versioned.beforeNextGet(key, async () => void (v2 = await write(aws.store, key, second.bytes)), 3);
    await notify(aws, versioned, v1, 1);

    expect(await settled(aws, v1)).toMatchObject({ state: 'ingested', attempts: 1 });
    expect(v2).toBeDefined();
    await expectSecondIngestedOnce(aws, versioned, v2!);
    const events = await eventsByVersion(aws, v1, v2!);
    expect(events.first).toEqual(first.goodRows);
    expect(events.summaries(v1.version)).toEqual(['FileIngested']);
    expect(events.second).toEqual(second.goodRows);
  });
});
