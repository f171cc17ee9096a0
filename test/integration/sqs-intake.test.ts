/**
 * The `sqs` intake against fauxqs's SQS (in-process, 127.0.0.1), reached through AWS_ENDPOINT_URL_SQS as an
 * operator would: S3 notifications in every envelope are ingested inline and their messages deleted only
 * once the events are durable; duplicates and stale notifications ingest nothing twice; a file that keeps
 * failing is redelivered, then dead-lettered by the queue's redrive policy; a file outlasting the
 * visibility timeout keeps its message; two consumers sharing one ledger ingest a file once.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createSqsIntake } from '../../adapters/intake/sqs/sqs-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { etagToken, withS3VersionTokens } from './support/store-wrappers.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, IntakeResult, Ledger, ObjectStore, QueueConsumer } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { queueDepth, startFauxqs, useTestCredentials, type StandIn } from '../support/aws-stand-ins.js';
import { testDataset } from '../support/datasets.js';
import { eventBridgeEvent, s3Record, s3TestEvent, snsEnvelope } from '../support/s3-notification-messages.js';
import type { CloudEvent } from '../support/cloud-events.js';
import { ordersFile } from './support/orders-csv.js';
import { withSlowReads } from './support/store-wrappers.js';

const BUCKET = 'uploads';
let fauxqs: StandIn;
let sqs: SQSClient;
const running: QueueConsumer[] = [];

beforeAll(async () => {
  useTestCredentials();
  fauxqs = await startFauxqs();
  // The standard variable, as an operator sets it: the intake builds its own client and finds fauxqs.
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((consumer) => consumer.stop()));
});

afterAll(async () => {
  sqs.destroy();
  for (const client of clients) client.destroy();
  delete process.env.AWS_ENDPOINT_URL_SQS;
  await fauxqs.stop();
});

let queues = 0;
async function createQueue(options: { maxReceiveCount?: number } = {}) {
  const name = `notifications-${++queues}`;
  let deadLetter: { url: string; arn: string } | undefined;
  if (options.maxReceiveCount !== undefined) {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: created.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    deadLetter = { url: created.QueueUrl!, arn: attributes.Attributes!.QueueArn! };
  }
  const created = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: deadLetter
        ? {
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: deadLetter.arn,
              maxReceiveCount: options.maxReceiveCount,
            }),
          }
        : {},
    }),
  );
  return { url: created.QueueUrl!, deadLetterUrl: deadLetter?.url };
}

const clients: SQSClient[] = [];
function quietClient() {
  const client = new SQSClient({ useQueueUrlAsEndpoint: false });
  clients.push(client);
  return client;
}

const send = (queueUrl: string, body: unknown) =>
  sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Stand {
  store: ReturnType<typeof createMemoryObjectStore>;
  sink: ReturnType<typeof createMemoryEventSink>;
  ledger: Ledger;
}

function stand(options: { chunkSize?: number } = {}): Stand {
  return {
    store: withS3VersionTokens(
      createMemoryObjectStore({
        bucket: BUCKET,
        ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      }),
    ),
    sink: createMemoryEventSink(),
    ledger: createMemoryLedger(),
  };
}

/** A gateway over the stand's adapters with an `sqs` intake consuming `queueUrl`. */
function consumer(
  base: Stand,
  queueUrl: string,
  options: {
    owner?: string;
    store?: ObjectStore;
    sink?: EventSink;
    visibilityTimeoutSeconds?: number;
    concurrency?: number;
    signal?: AbortSignal;
    /** Let the intake build its client from the SDK's standard configuration, as `dropgate serve` does. */
    defaultClient?: boolean;
  } = {},
) {
  const gateway = createGateway({
    store: options.store ?? base.store,
    sink: options.sink ?? base.sink,
    ledger: base.ledger,
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: options.owner ?? 'instance-a',
    uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { retry: { attempts: 1, baseDelayMs: 1 }, ...(options.signal ? { signal: options.signal } : {}) },
  });
  const accepted: IntakeResult[] = [];
  const intake = createSqsIntake({
    queueUrl,
    waitTimeSeconds: 1,
    maxRetryDelaySeconds: 0,
    stopGraceMs: 5_000,
    concurrency: options.concurrency ?? 4,
    // fauxqs names queues `http://sqs.<region>.127.0.0.1:<port>/...`, no valid URL: the SDK would warn on
    // every call that it cannot use the queue URL as the endpoint (and use AWS_ENDPOINT_URL_SQS anyway).
    ...(options.defaultClient ? {} : { client: quietClient() }),
    ...(options.visibilityTimeoutSeconds
      ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }
      : {}),
  });
  intake.start(async (result) => {
    accepted.push(result);
    return gateway.accept(result, 'inline');
  });
  running.push(intake);
  return { intake, gateway, accepted };
}

const objectKeysOf = (events: Array<{ body: string }>) =>
  new Set(events.map((event) => (JSON.parse(event.body) as CloudEvent).subject));

describe('the sqs intake', () => {
  it('ingests S3 Records (several in one message), SNS-wrapped and EventBridge notifications, and deletes each message', async () => {
    const base = stand();
    const { url } = await createQueue();
    const keys = [
      'vendors/acme/orders/red flower (1).csv',
      'vendors/acme/orders/c++ notes.csv',
      'vendors/acme/orders/café 日本.csv',
      'vendors/acme/orders/eventbridge a+b.csv',
    ];
    const objects = keys.map((key, index) => base.store.put(key, ordersFile(index + 2).csv));
    const encoded = (key: string) => encodeURIComponent(key).replace(/%20/g, '+');
    // Versioned bucket: the version id; unversioned: the ETag. Here both name the memory store's version.
    await send(url, {
      Records: [
        s3Record({ bucket: BUCKET, key: encoded(keys[0]!), eTag: objects[0]!.version }),
        s3Record({ bucket: BUCKET, key: encoded(keys[1]!), eTag: objects[1]!.version }),
      ],
    });
    await send(
      url,
      snsEnvelope({
        Records: [s3Record({ bucket: BUCKET, key: encoded(keys[2]!), eTag: objects[2]!.version })],
      }),
    );
    await send(url, eventBridgeEvent({ bucket: BUCKET, key: keys[3]!, etag: objects[3]!.version }));
    await send(url, s3TestEvent(BUCKET));
    consumer(base, url, { defaultClient: true });

    const rows = 2 + 3 + 4 + 5;
    await until(() => base.sink.events('orders').length === rows, 15_000, 'every row published');
    await until(async () => (await queueDepth(sqs, url)).inFlight === 0, 15_000, 'every message deleted');
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    for (const [index, key] of keys.entries()) {
      expect(
        await base.ledger.get({ bucket: BUCKET, key, version: etagToken(objects[index]!.version) }),
      ).toMatchObject({
        state: 'ingested',
        via: 'sqs',
      });
    }
    expect(base.sink.events('orders')).toHaveLength(rows);
  });

  it('ingests a file notified twice once, and deletes both messages', async () => {
    const base = stand();
    const { url } = await createQueue();
    const key = 'vendors/acme/orders/twice.csv';
    const object = base.store.put(key, ordersFile(7).csv);
    const notification = { Records: [s3Record({ bucket: BUCKET, key, eTag: object.version })] };
    await send(url, notification);
    await send(url, notification);
    const { accepted } = consumer(base, url, { concurrency: 1 });

    await until(() => accepted.length === 2, 15_000, 'both notifications handled');
    await until(async () => (await queueDepth(sqs, url)).inFlight === 0, 15_000, 'both messages deleted');
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    expect(base.sink.events('orders')).toHaveLength(7);
  });

  it('never ingests an older version notified after a newer one was ingested', async () => {
    const base = stand();
    const { url } = await createQueue();
    const key = 'vendors/acme/orders/overwritten.csv';
    const older = base.store.put(key, ordersFile(3).csv);
    const newer = base.store.put(key, ordersFile(6).csv);
    const notify = (version: string, sequencer: string) =>
      send(url, { Records: [s3Record({ bucket: BUCKET, key, eTag: version, sequencer })] });
    const first = consumer(base, url, { concurrency: 1 });
    await notify(newer.version, '0055AED6DCD90281E6');
    await until(() => base.sink.events('orders').length === 6, 15_000, 'the newer version ingested');
    await notify(older.version, '0055AED6DCD90281E5');
    await until(async () => (await queueDepth(sqs, url)).inFlight === 0 && first.accepted.length === 2);

    expect(base.sink.events('orders')).toHaveLength(6);
    // This process knew the newer sequencer: the stale notification never reached the ledger.
    expect(await base.ledger.get({ bucket: BUCKET, key, version: etagToken(older.version) })).toBeUndefined();
    expect(await base.ledger.latest(BUCKET, key)).toMatchObject({
      version: etagToken(newer.version),
      state: 'ingested',
    });

    // Another instance, which never saw the newer notification, reads only the store's current version.
    await first.intake.stop();
    running.splice(running.indexOf(first.intake), 1);
    const second = consumer(base, url, { owner: 'instance-b' });
    await notify(older.version, '0055AED6DCD90281E5');
    await until(async () => second.accepted.length === 1 && (await queueDepth(sqs, url)).inFlight === 0);
    expect(base.sink.events('orders')).toHaveLength(6);
    // The gateway finds the store holds a newer version the ledger knows: answered superseded, not recorded.
    expect(await base.ledger.get({ bucket: BUCKET, key, version: etagToken(older.version) })).toBeUndefined();
    expect(await base.ledger.get({ bucket: BUCKET, key, version: etagToken(newer.version) })).toMatchObject({
      state: 'ingested',
    });
  });

  it('redelivers a file whose events cannot be published, then the redrive policy dead-letters it', async () => {
    const base = stand();
    const { url, deadLetterUrl } = await createQueue({ maxReceiveCount: 3 });
    const key = 'vendors/acme/orders/poison.csv';
    const object = base.store.put(key, ordersFile(4).csv);
    let publishes = 0;
    const failing: EventSink = {
      capabilities: { ordered: true, maxMessageBytes: 1 << 20 },
      publish: async () => {
        publishes++;
        throw new DropgateError('PUBLISH_FAILED', 'the topic is throttling');
      },
      close: async () => undefined,
    };
    await send(url, { Records: [s3Record({ bucket: BUCKET, key, eTag: object.version })] });
    const { accepted } = consumer(base, url, { sink: failing });

    await until(
      async () =>
        (
          await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: deadLetterUrl,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          )
        ).Attributes?.ApproximateNumberOfMessages === '1',
      20_000,
      'the message in the dead-letter queue',
    );
    expect(accepted).toHaveLength(3);
    expect(publishes).toBeGreaterThanOrEqual(3);
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, WaitTimeSeconds: 1 }));
    expect(JSON.parse(dead.Messages![0]!.Body!)).toMatchObject({ Records: [{ s3: { object: { key } } }] });
    expect(await base.ledger.get({ bucket: BUCKET, key, version: etagToken(object.version) })).toMatchObject({
      state: 'failed',
      outcome: { error: { code: 'PUBLISH_FAILED' } },
    });
  });

  it('leaves a message that is no notification for the redrive policy to dead-letter, never dropping it', async () => {
    const base = stand();
    const { url, deadLetterUrl } = await createQueue({ maxReceiveCount: 2 });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'not a notification' }));
    const { accepted } = consumer(base, url);

    await until(
      async () => (await queueDepth(sqs, deadLetterUrl!)).visible === 1,
      15_000,
      'the message in the dead-letter queue',
    );
    expect(accepted).toHaveLength(0);
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, WaitTimeSeconds: 1 }));
    expect(dead.Messages?.[0]?.Body).toBe('not a notification');
  });

  it('extends the visibility of a file that outlasts the timeout: ingested once, never redelivered', async () => {
    const base = stand({ chunkSize: 256 });
    const { url } = await createQueue();
    const key = 'vendors/acme/orders/slow.csv';
    const { csv } = ordersFile(60);
    const object = base.store.put(key, csv);
    const chunks = Math.ceil(csv.length / 256);
    // About 5 s of reading against a visibility timeout of 2 s.
    const slow = withSlowReads(base.store, Math.ceil(5000 / chunks));
    await send(url, { Records: [s3Record({ bucket: BUCKET, key, eTag: object.version })] });
    const started = Date.now();
    const { accepted } = consumer(base, url, { store: slow, visibilityTimeoutSeconds: 2 });

    await until(() => base.sink.events('orders').length === 60, 20_000, 'the slow file ingested');
    expect(Date.now() - started).toBeGreaterThan(4000);
    await until(async () => (await queueDepth(sqs, url)).inFlight === 0, 5000, 'the message deleted');
    expect(accepted).toHaveLength(1);
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    expect(base.sink.events('orders')).toHaveLength(60);
  });

  it('lets two consumers sharing one ledger ingest a file notified twice exactly once', async () => {
    const base = stand({ chunkSize: 256 });
    const { url } = await createQueue();
    const key = 'vendors/acme/orders/shared.csv';
    const { csv } = ordersFile(30);
    const object = base.store.put(key, csv);
    const slow = withSlowReads(base.store, 40);
    const notification = { Records: [s3Record({ bucket: BUCKET, key, eTag: object.version })] };
    const a = consumer(base, url, { owner: 'instance-a', store: slow, concurrency: 1 });
    const b = consumer(base, url, { owner: 'instance-b', store: slow, concurrency: 1 });
    await send(url, notification);
    await send(url, notification);

    await until(
      async () => {
        const depth = await queueDepth(sqs, url);
        return base.sink.events('orders').length >= 30 && depth.visible === 0 && depth.inFlight === 0;
      },
      20_000,
      'the file ingested and both messages deleted',
    );
    expect(a.accepted.length + b.accepted.length).toBeGreaterThanOrEqual(2);
    expect(base.sink.events('orders')).toHaveLength(30);
    expect(objectKeysOf(base.sink.events('orders')).size).toBe(1);
  });

  it('on stop, leaves the message of a file cut short for redelivery; the next consumer finishes it', async () => {
    const base = stand({ chunkSize: 256 });
    const { url } = await createQueue();
    const key = 'vendors/acme/orders/interrupted.csv';
    const { csv } = ordersFile(60);
    const object = base.store.put(key, csv);
    const slow = withSlowReads(base.store, 60);
    await send(url, { Records: [s3Record({ bucket: BUCKET, key, eTag: object.version })] });
    const shutdown = new AbortController();
    const first = consumer(base, url, { store: slow, signal: shutdown.signal });
    await until(() => first.accepted.length === 1, 10_000, 'the message received');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // What the gateway's close does on SIGTERM: ingestions stop at their next block, then the intake stops.
    shutdown.abort();
    await first.intake.stop();
    running.splice(running.indexOf(first.intake), 1);
    const published = base.sink.events('orders').length;
    expect(published).toBeLessThan(60);
    expect((await base.ledger.get({ bucket: BUCKET, key, version: etagToken(object.version) }))?.state).toBe(
      'failed',
    );

    const second = consumer(base, url, { owner: 'instance-b' });
    await until(
      async () =>
        (await base.ledger.get({ bucket: BUCKET, key, version: etagToken(object.version) }))?.state ===
        'ingested',
      15_000,
      'the file finished by the next consumer',
    );
    await until(async () => second.accepted.length === 1 && (await queueDepth(sqs, url)).inFlight === 0);
    expect(await queueDepth(sqs, url)).toEqual({ visible: 0, inFlight: 0 });
    expect(new Set(base.sink.events('orders').map((event) => event.id)).size).toBe(60);
  });
});
