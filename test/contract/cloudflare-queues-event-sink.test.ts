/**
 * Runs the EventSink contract against the Cloudflare Queues sink over real Miniflare queues, reached from
 * Node through Miniflare's binding proxy, then the sink's own limits and its packed messages. A consumer
 * Worker keeps every message it receives in memory and answers them over fetch; reads wait until every
 * message sent has been received, since a queue delivers after `sendBatch` resolves.
 */
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createCloudflareQueuesEventSink,
  QUEUE_LIMITS,
  QUEUE_MAX_BODY_BYTES,
  type QueueBinding,
} from '../../adapters/event-sink/cloudflare-queues/cloudflare-queues-event-sink.js';
import { EncodedEvents } from '../../workers/event-batch.js';
import { eventually } from '../workerd/support/edge-worker.js';
import { eventOfSize, eventSinkContract, testEvent } from './event-sink-contract.js';

/** Topic -> queue: queue names take no dots. */
const QUEUES: Record<string, string> = {
  orders: 'orders',
  'orders.dead-letter': 'orders-dead-letter',
  'never-used': 'never-used',
};
const binding = (topic: string) => QUEUES[topic]!.toUpperCase().replace(/-/g, '_');

const RECORDER = `
const received = new Map();
export default {
  async queue(batch) {
    const list = received.get(batch.queue) ?? [];
    received.set(batch.queue, list);
    for (const message of batch.messages) list.push(message.body);
    batch.ackAll();
  },
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/forget') received.clear();
    return Response.json(received.get(url.searchParams.get('queue')) ?? []);
  },
};`;

let miniflare: Miniflare;
/** Messages handed to each queue's sendBatch, to know when all of them have been received. */
const sent = new Map<string, number>();
let queues: Map<string, QueueBinding>;

beforeAll(async () => {
  const consumer = { maxBatchSize: 100, maxBatchTimeout: 0 };
  miniflare = new Miniflare({
    modules: true,
    script: RECORDER,
    compatibilityDate: '2026-04-01',
    queueProducers: Object.fromEntries(
      Object.entries(QUEUES).map(([topic, queueName]) => [binding(topic), { queueName }]),
    ),
    queueConsumers: Object.fromEntries(Object.values(QUEUES).map((queue) => [queue, consumer])),
  });
  queues = new Map();
  for (const [topic, queue] of Object.entries(QUEUES)) {
    const producer = (await miniflare.getQueueProducer(binding(topic))) as unknown as QueueBinding;
    queues.set(topic, {
      send: (body, options) => producer.send(body, options),
      async sendBatch(messages) {
        const list = [...messages];
        await producer.sendBatch(list);
        sent.set(queue, (sent.get(queue) ?? 0) + list.length);
      },
    });
  }
});

afterAll(() => miniflare?.dispose());

const receivedBodies = async (queue: string) =>
  (await (await miniflare.dispatchFetch(`http://recorder/?queue=${queue}`)).json()) as string[];

/** Every message body received on `topic`'s queue, once all sent to it have arrived. */
async function messagesOf(topic: string): Promise<string[]> {
  const queue = QUEUES[topic]!;
  return eventually(
    () => receivedBodies(queue),
    (bodies) => bodies.length >= (sent.get(queue) ?? 0),
  );
}

async function forget() {
  await Promise.all(Object.keys(QUEUES).map(messagesOf));
  await miniflare.dispatchFetch('http://recorder/forget');
  sent.clear();
}

const idAndBody = (body: string) => ({ id: (JSON.parse(body) as { id: string }).id, body });

eventSinkContract('cloudflare-queues (Miniflare queues)', async () => {
  await forget();
  return {
    sink: createCloudflareQueuesEventSink({ queues }),
    published: async (topic) => (await messagesOf(topic)).map(idAndBody),
  };
});

describe('Cloudflare Queues event sink', () => {
  /** Each sendBatch call's messages, by topic. */
  let batches: Array<{ topic: string; bodies: string[] }>;
  const counting = () =>
    new Map(
      [...queues].map(([topic, queue]) => [
        topic,
        {
          send: queue.send,
          async sendBatch(messages: Iterable<{ body: unknown }>) {
            const list = [...messages];
            batches.push({ topic, bodies: list.map(({ body }) => body as string) });
            await queue.sendBatch(list);
          },
        } satisfies QueueBinding,
      ]),
    );
  beforeEach(async () => {
    await forget();
    batches = [];
  });

  it("counts each message's metadata: batches of at most 256,000 bytes and 100 messages", async () => {
    // Small: 2,500 bytes with metadata, so 100 messages (250,000 bytes) bind first. Large: 64,050 bytes
    // with metadata, so 4 (256,200) do not fit in 256,000, where 4 bodies alone (255,800) would.
    const small = Array.from({ length: 250 }, (_, index) => eventOfSize(`small-${index}`, 2_400));
    const large = Array.from({ length: 9 }, (_, index) => eventOfSize(`large-${index}`, 63_950));
    const sink = createCloudflareQueuesEventSink({ queues: counting(), maxInFlight: 1 });
    expect(await sink.publish('orders', EncodedEvents.of([...small, ...large]))).toEqual({ failed: [] });
    for (const { bodies } of batches) {
      const bytes = bodies.reduce(
        (total, body) => total + Buffer.byteLength(body) + QUEUE_LIMITS.metadataBytes,
        0,
      );
      expect(bodies.length).toBeLessThanOrEqual(100);
      expect(bytes).toBeLessThanOrEqual(256_000);
    }
    // The last 50 small (125,000 bytes) take 2 large (253,100); the other 7 go 3 a batch.
    expect(batches.map(({ bodies }) => bodies.length)).toEqual([100, 100, 52, 3, 3, 1]);
    expect((await messagesOf('orders')).length).toBe(259);
  });

  it('refuses a body past 127,900 bytes (128,000 less the metadata), naming both', async () => {
    const sink = createCloudflareQueuesEventSink({ queues });
    expect(sink.capabilities.maxMessageBytes).toBe(QUEUE_MAX_BODY_BYTES);
    const events = [eventOfSize('fits', 127_900), eventOfSize('too-large', 127_901)];
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      {
        index: 1,
        message:
          'event of 127901 bytes is larger than the 127900 bytes a Queues message leaves it ' +
          '(128000 bytes a message, ~100 of them metadata)',
        retryable: false,
      },
    ]);
    expect((await messagesOf('orders')).map(idAndBody)).toEqual([{ id: 'fits', body: events[0]!.body }]);
  });

  it('packs rowsPerMessage events a message as a CloudEvents batch (a JSON array), every event once', async () => {
    const events = Array.from({ length: 250 }, (_, index) => testEvent(`packed-${index}`, { index }));
    const sink = createCloudflareQueuesEventSink({
      queues: counting(),
      rowsPerMessage: new Map([['orders', 100]]),
    });
    expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    const messages = await messagesOf('orders');
    expect(messages).toHaveLength(3);
    const unpacked = messages.flatMap((body) => JSON.parse(body) as Array<{ id: string }>);
    expect(unpacked.map((event) => event.id).sort()).toEqual(events.map((event) => event.id).sort());
    expect(messages.map((body) => (JSON.parse(body) as unknown[]).length).sort()).toEqual([100, 100, 50]);
  });

  it('packs no message past 127,900 bytes, and refuses an event too large for one by its index', async () => {
    const sink = createCloudflareQueuesEventSink({
      queues: counting(),
      rowsPerMessage: new Map([['orders', 100]]),
    });
    // A lone event in a packed message gains its brackets, so the sink promises 2 bytes less.
    expect(sink.capabilities.maxMessageBytes).toBe(QUEUE_MAX_BODY_BYTES - 2);
    const events = [
      ...Array.from({ length: 6 }, (_, index) => eventOfSize(`big-${index}`, 30_000)),
      eventOfSize('largest', QUEUE_MAX_BODY_BYTES - 2),
      eventOfSize('too-large', QUEUE_MAX_BODY_BYTES - 1),
      testEvent('last'),
    ];
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      {
        index: 7,
        message:
          'event of 127899 bytes is larger than the 127898 bytes a Queues message leaves it (128000 ' +
          'bytes a message, ~100 of them metadata, 2 the brackets of a packed message)',
        retryable: false,
      },
    ]);
    const messages = await messagesOf('orders');
    for (const body of messages) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(QUEUE_MAX_BODY_BYTES);
    const unpacked = messages.flatMap((body) => JSON.parse(body) as Array<{ id: string }>);
    expect(unpacked.map((event) => event.id).sort()).toEqual(
      events
        .filter((_, index) => index !== 7)
        .map((event) => event.id)
        .sort(),
    );
  });

  it('names the missing binding of a topic without one', async () => {
    const sink = createCloudflareQueuesEventSink({ queues });
    await expect(sink.publish('nowhere', EncodedEvents.of([testEvent('x')]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('topic nowhere has no queue binding'),
    });
  });
});
