/**
 * The `gcs-pubsub-pull` intake against Google's Pub/Sub emulator, reached through PUBSUB_EMULATOR_HOST as an
 * operator would: GCS notifications pulled from a subscription are ingested inline and acknowledged only once
 * the events are durable; a notification delivered twice ingests once; a file whose events cannot be
 * published is nacked, redelivered, and moved to the dead-letter topic by the subscription's policy; a file
 * outlasting the acknowledgement deadline keeps its lease and is ingested once.
 */
import { PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createGcsPubsubPullIntake } from '../../adapters/intake/gcs-pubsub-pull/gcs-pubsub-pull-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, IntakeResult, ObjectStore, QueueConsumer } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { notificationAttributes, objectResource } from '../support/gcs-notifications.js';
import { emulatorHost } from '../support/pubsub-emulator.js';
import { waitFor } from './support/data-dir.js';
import { ordersFile } from './support/orders-csv.js';
import { withSlowReads } from './support/store-wrappers.js';

const BUCKET = 'uploads';
const PROJECT = `pull-${process.pid}`;
let pubsub: PubSub;
const running: QueueConsumer[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(() => {
  emulatorHost();
  pubsub = new PubSub({ projectId: PROJECT });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((consumer) => consumer.stop()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await pubsub.close();
});

let sequence = 0;

/** A notification topic and a pull subscription to it (with a dead-letter topic when asked). */
async function subscribed(
  options: { ackDeadlineSeconds?: number; maxDeliveryAttempts?: number } = {},
): Promise<{ topic: Topic; subscription: Subscription; deadLetters?: Subscription }> {
  const name = `gcs-notifications-${++sequence}`;
  const [topic] = await pubsub.createTopic(name);
  cleanups.push(() => topic.delete());
  let deadLetters: Subscription | undefined;
  let deadLetterPolicy;
  if (options.maxDeliveryAttempts) {
    const [deadTopic] = await pubsub.createTopic(`${name}-dead`);
    [deadLetters] = await deadTopic.createSubscription(`${name}-dead-all`);
    cleanups.push(
      () => deadTopic.delete(),
      () => deadLetters!.delete(),
    );
    deadLetterPolicy = { deadLetterTopic: deadTopic.name, maxDeliveryAttempts: options.maxDeliveryAttempts };
  }
  const [subscription] = await topic.createSubscription(`${name}-dropgate`, {
    ackDeadlineSeconds: options.ackDeadlineSeconds ?? 10,
    retryPolicy: { minimumBackoff: { seconds: 0 }, maximumBackoff: { seconds: 1 } },
    ...(deadLetterPolicy ? { deadLetterPolicy } : {}),
  });
  cleanups.push(() => subscription.delete());
  return { topic, subscription, ...(deadLetters ? { deadLetters } : {}) };
}

/** Publishes what GCS publishes for an OBJECT_FINALIZE, payload format JSON_API_V1. */
function notify(topic: Topic, key: string, generation: string) {
  const object = { bucket: BUCKET, key, generation };
  return topic.publishMessage({
    data: Buffer.from(JSON.stringify(objectResource(object))),
    attributes: notificationAttributes(object),
  });
}

function stand() {
  return {
    store: createMemoryObjectStore({ bucket: BUCKET, chunkSize: 256 }),
    sink: createMemoryEventSink(),
    ledger: createMemoryLedger(),
  };
}

/** A gateway over the stand's adapters, its `gcs-pubsub-pull` intake reading `subscription`. */
function consumer(
  base: ReturnType<typeof stand>,
  subscription: Subscription,
  options: { store?: ObjectStore; sink?: EventSink; leaseSeconds?: number; stallMs?: number } = {},
) {
  const gateway = createGateway({
    store: options.store ?? base.store,
    sink: options.sink ?? base.sink,
    ledger: base.ledger,
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: 'instance-a',
    uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { retry: { attempts: 1, baseDelayMs: 1 } },
  });
  const accepted: IntakeResult[] = [];
  // Built from the standard configuration (PUBSUB_EMULATOR_HOST, the project), as `dropgate serve` does.
  const intake = createGcsPubsubPullIntake({
    bucket: BUCKET,
    subscription: subscription.name,
    stopGraceMs: 5_000,
    ...(options.leaseSeconds ? { leaseSeconds: options.leaseSeconds } : {}),
  });
  intake.start(async (result) => {
    accepted.push(result);
    // The event loop blocked, as a long garbage collection or a CPU-starved machine would.
    if (options.stallMs && accepted.length === 1) {
      const until = Date.now() + options.stallMs;
      while (Date.now() < until);
    }
    return gateway.accept(result, 'inline');
  });
  running.push(intake);
  return { accepted };
}

const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) =>
  waitFor(what, async () => ((await condition()) ? true : undefined), timeoutMs);

describe('the gcs-pubsub-pull intake', () => {
  it('ingests a pulled notification once however often it is delivered, and acknowledges each', async () => {
    const base = stand();
    const { topic, subscription } = await subscribed();
    const key = 'vendors/acme/orders/pulled.csv';
    const object = base.store.put(key, ordersFile(25).csv);
    await notify(topic, key, object.version);
    await notify(topic, key, object.version);
    const { accepted } = consumer(base, subscription);

    await until('both deliveries handled', () => accepted.length === 2);
    await until('the file ingested', () => base.sink.events('orders').length === 25);
    expect(await base.ledger.get({ bucket: BUCKET, key, version: object.version })).toMatchObject({
      state: 'ingested',
      via: 'gcs-pubsub-pull',
      attempts: 1,
    });
    expect(base.sink.events('dropgate.files')).toHaveLength(1);
  });

  it('nacks a file whose events cannot be published; the dead-letter policy moves it after its attempts', async () => {
    const base = stand();
    const { topic, subscription, deadLetters } = await subscribed({ maxDeliveryAttempts: 5 });
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
    await notify(topic, key, object.version);
    const dead: string[] = [];
    deadLetters!.on('message', (message: { attributes: Record<string, string>; ack(): void }) => {
      dead.push(message.attributes.objectId!);
      message.ack();
    });
    cleanups.push(() => deadLetters!.close());
    const { accepted } = consumer(base, subscription, { sink: failing });

    await until('the notification dead-lettered', () => dead.length === 1, 60_000);
    expect(dead).toEqual([key]);
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    expect(publishes).toBeGreaterThanOrEqual(5);
    expect(await base.ledger.get({ bucket: BUCKET, key, version: object.version })).toMatchObject({
      state: 'failed',
      outcome: { error: { code: 'PUBLISH_FAILED' } },
    });
  }, 90_000);

  it('keeps its lease through a stalled event loop longer than the subscription deadline', async () => {
    const base = stand();
    const { topic, subscription } = await subscribed({ ackDeadlineSeconds: 10 });
    const key = 'vendors/acme/orders/stalled.csv';
    const object = base.store.put(key, ordersFile(20).csv);
    await notify(topic, key, object.version);
    // 12 s with no timer able to run, so no lease extension: only the lease set at delivery holds.
    const { accepted } = consumer(base, subscription, { stallMs: 12_000 });

    await until('the file ingested', () => base.sink.events('orders').length === 20, 30_000);
    // Anything redelivered would have come within the retry policy's 1 s backoff.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(accepted).toHaveLength(1);
  }, 60_000);

  it('keeps the lease of a file that outlasts the acknowledgement deadline: delivered and ingested once', async () => {
    const base = stand();
    const { topic, subscription } = await subscribed({ ackDeadlineSeconds: 10 });
    const key = 'vendors/acme/orders/slow.csv';
    const { csv } = ordersFile(60);
    const object = base.store.put(key, csv);
    // About 14 s of reading against the subscription's acknowledgement deadline of 10 s: the intake's
    // leases (leaseSeconds, default 60) hold it. With the library's own 10 s leases, renewed at a random
    // point before 9 s, a loaded CI machine once let it lapse and the message came back mid-ingest.
    const slow = withSlowReads(base.store, Math.ceil(14_000 / Math.ceil(csv.length / 256)));
    await notify(topic, key, object.version);
    const started = Date.now();
    const { accepted } = consumer(base, subscription, { store: slow });

    await until('the slow file ingested', () => base.sink.events('orders').length === 60, 40_000);
    expect(Date.now() - started).toBeGreaterThan(11_000);
    expect(accepted).toHaveLength(1);
    expect(base.sink.events('orders')).toHaveLength(60);
  }, 60_000);
});
