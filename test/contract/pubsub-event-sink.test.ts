/**
 * The Pub/Sub sink against the Pub/Sub emulator: the EventSink contract in structured mode, then
 * requests cut at Pub/Sub's 1,000 messages and 10 MB (the emulator enforces neither size limit, so the
 * sizes are checked on the serialized requests), a missing topic, messages Pub/Sub would refuse, an
 * unreachable service, and binary mode round-trips of every kind of event the pipeline makes.
 */
import { protos, v1 } from '@google-cloud/pubsub';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPubSubEventSink,
  PUBSUB_MAX_MESSAGE_BYTES,
  publisherClientOptions,
  type PublisherClientLike,
  type PubSubEventSinkOptions,
} from '../../adapters/event-sink/pubsub/pubsub-event-sink.js';
import { binaryMessage } from '../../adapters/event-sink/pubsub/binary-message.js';
import { publishRequestBytes } from '../../adapters/event-sink/pubsub/publish-request-bytes.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, OutgoingEvent } from '../../adapters/ports.js';
import { EncodedEvents } from '../../workers/event-batch.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { publishWithRetries } from '../../workers/batch-publisher.js';
import { testDataset } from '../support/datasets.js';
import { emulatedProject, type EmulatedProject, type PulledMessage } from '../support/pubsub-emulator.js';
import { ordersFile } from '../integration/support/orders-csv.js';
import { eventOfSize, eventSinkContract, testEvent } from './event-sink-contract.js';

const CONTRACT_TOPICS = ['orders', 'orders.dead-letter', 'never-used'];

eventSinkContract('pubsub (emulator), structured mode', async () => {
  const project = emulatedProject('contract');
  await project.createTopics(...CONTRACT_TOPICS);
  const sink = createPubSubEventSink({ projectId: project.projectId });
  const published = async (topic: string) =>
    (await project.pull(topic)).map(({ data, attributes }) => {
      expect(attributes['content-type']).toBe('application/cloudevents+json');
      const body = data.toString('utf8');
      return { id: (JSON.parse(body) as { id: string }).id, body };
    });
  return { sink, published, dispose: project.close };
});

interface WatchedRequest {
  messages: number;
  /** The serialized PublishRequest's bytes, as the client sends it. */
  bytes: number;
  /** What its first message adds to a request. */
  firstMessageBytes: number;
}

/** The real client, with each request's size noted and, when asked, a fault thrown instead of sending. */
function watchedClient(
  options: ConstructorParameters<typeof v1.PublisherClient>[0],
  fault?: (request: number) => Error | undefined,
) {
  const client = new v1.PublisherClient(options);
  const requests: WatchedRequest[] = [];
  let running = 0;
  let mostRunning = 0;
  const watched: PublisherClientLike = {
    async publish(request, callOptions) {
      const encoded = protos.google.pubsub.v1.PublishRequest.encode(request).finish();
      const bytes = encoded.byteLength;
      // The sink's own encoder (used without a `client`) writes the library's bytes, to the byte.
      expect(Buffer.compare(publishRequestBytes(request.topic, request.messages), encoded)).toBe(0);
      const first = protos.google.pubsub.v1.PubsubMessage.encode(request.messages[0]!).finish().byteLength;
      requests.push({ messages: request.messages.length, bytes, firstMessageBytes: first + 5 });
      const error = fault?.(requests.length);
      if (error) throw error;
      mostRunning = Math.max(mostRunning, ++running);
      try {
        return await client.publish(request, callOptions);
      } finally {
        running--;
      }
    },
    close: () => client.close(),
  };
  return { client: watched, requests, mostRunning: () => mostRunning };
}

const ids = (messages: PulledMessage[]) =>
  messages.map(({ data }) => (JSON.parse(data.toString('utf8')) as { id: string }).id).sort();

describe('pubsub event sink', () => {
  let project: EmulatedProject;
  let sinks: EventSink[];
  beforeEach(async () => {
    project = emulatedProject('sink');
    sinks = [];
  });
  afterEach(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    await project.close();
  });
  const open = (options: Partial<PubSubEventSinkOptions> = {}) => {
    const sink = createPubSubEventSink({ projectId: project.projectId, ...options });
    sinks.push(sink);
    return sink;
  };

  it('sends at most 1,000 messages a request', async () => {
    await project.createTopics('orders');
    const watch = watchedClient(project.clientOptions);
    const sink = open({ client: watch.client });
    const events = Array.from({ length: 2_500 }, (_, index) => testEvent(`split-${index}`, { index }));
    expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    expect(watch.requests.map(({ messages }) => messages)).toEqual([1_000, 1_000, 500]);
    expect(ids(await project.pull('orders'))).toEqual(events.map(({ id }) => id).sort());
  });

  it('sends at most 10 MB a request, topic and attributes included', async () => {
    await project.createTopics('orders');
    const watch = watchedClient(project.clientOptions);
    const sink = open({ client: watch.client, maxInFlight: 1 });
    // Six of these make 9.6 MB with their attributes; a seventh would pass 10 MB.
    const events = Array.from({ length: 14 }, (_, index) => eventOfSize(`big-${index}`, 1_600_000));
    expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    expect(watch.requests.map(({ messages }) => messages)).toEqual([6, 6, 2]);
    for (const { bytes } of watch.requests) expect(bytes).toBeLessThanOrEqual(10_000_000);
    expect(ids(await project.pull('orders'))).toEqual(events.map(({ id }) => id).sort());
  });

  it('fills a request close to 10 MB with events of every size, never past it', async () => {
    await project.createTopics('orders');
    const watch = watchedClient(project.clientOptions);
    // One request at a time keeps the emulator's heap (256 MB in tests) clear of several 10 MB requests.
    const sink = open({ client: watch.client, maxInFlight: 1 });
    const sizes = [9_999, 100_000, 700, 2_500_000, 333_333, 300];
    const events = Array.from({ length: 60 }, (_, index) => eventOfSize(`mixed-${index}`, sizes[index % 6]!));
    expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    expect(watch.requests.length).toBeGreaterThan(1);
    for (const { bytes } of watch.requests) expect(bytes).toBeLessThanOrEqual(10_000_000);
    // Each request ends only where the next event would not fit (the count allows a few bytes a message
    // of framing the sink overestimates).
    for (let index = 0; index + 1 < watch.requests.length; index++) {
      const next = watch.requests[index + 1]!.firstMessageBytes;
      expect(watch.requests[index]!.bytes + next).toBeGreaterThan(9_999_000);
    }
    expect((await project.pull('orders')).length).toBe(60);
  });

  it('fails the whole publish for a topic that does not exist, naming topic and project', async () => {
    const sink = open();
    await expect(sink.publish('nowhere', EncodedEvents.of([testEvent('lost')]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      retryable: false,
      message: expect.stringMatching(
        new RegExp(`Pub/Sub topic "nowhere" of project "${project.projectId}" does not exist`),
      ),
    });
  });

  it('refuses a topic name Pub/Sub does not allow before sending anything', async () => {
    const watch = watchedClient(project.clientOptions);
    const sink = open({ client: watch.client });
    for (const topic of ['ab', '1orders', 'goog-orders', 'with space', 'a/b']) {
      await expect(sink.publish(topic, EncodedEvents.of([testEvent('x')]))).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(`"${topic}" is not a Pub/Sub topic id`),
      });
    }
    expect(watch.requests).toEqual([]);
  });

  it('refuses for good an event Pub/Sub would refuse, by its index, and sends the rest', async () => {
    await project.createTopics('orders');
    const events = Array.from({ length: 1_500 }, (_, index) => testEvent(`event-${index}`, { index }));
    events[3] = eventOfSize('too-large', PUBSUB_MAX_MESSAGE_BYTES + 1);
    events[1_100] = { ...testEvent('long-attribute'), attributes: { dataset: 'x'.repeat(1_025) } };
    const { failed } = await open().publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      { index: 3, message: expect.stringContaining('larger than'), retryable: false },
      {
        index: 1_100,
        message: expect.stringContaining('attribute "dataset" of 1025 bytes'),
        retryable: false,
      },
    ]);
    const sent = events.filter((_, index) => index !== 3 && index !== 1_100);
    expect(ids(await project.pull('orders'))).toEqual(sent.map(({ id }) => id).sort());
  });

  it('reports every event of a request the service did not take as retryable, by its index', async () => {
    await project.createTopics('orders');
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection reset'), { code: 14 });
    const watch = watchedClient(project.clientOptions, (request) =>
      request === 2 ? unavailable : undefined,
    );
    const sink = open({ client: watch.client, maxInFlight: 1 });
    const events = Array.from({ length: 2_500 }, (_, index) => testEvent(`event-${index}`, { index }));
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed.map(({ index }) => index)).toEqual(
      Array.from({ length: 1_000 }, (_, index) => 1_000 + index),
    );
    expect(failed.every(({ retryable, message }) => retryable && message.includes('UNAVAILABLE'))).toBe(true);
    const expected = [...events.slice(0, 1_000), ...events.slice(2_000)];
    expect(ids(await project.pull('orders'))).toEqual(expected.map(({ id }) => id).sort());
  });

  it('reports a request refused as invalid as not retryable', async () => {
    await project.createTopics('orders');
    const invalid = Object.assign(new Error('3 INVALID_ARGUMENT: bad message'), { code: 3 });
    const watch = watchedClient(project.clientOptions, () => invalid);
    const { failed } = await open({ client: watch.client }).publish(
      'orders',
      EncodedEvents.of([testEvent('a'), testEvent('b')]),
    );
    expect(failed).toEqual([
      { index: 0, message: expect.stringContaining('INVALID_ARGUMENT'), retryable: false },
      { index: 1, message: expect.stringContaining('INVALID_ARGUMENT'), retryable: false },
    ]);
  });

  it('fails every event retryably, and promptly, while Pub/Sub cannot be reached', async () => {
    // Nothing listens on port 9: the real client's connection fails as in an outage.
    const unreachable = publisherClientOptions(project.projectId, '127.0.0.1:9');
    const sink = open({ client: new v1.PublisherClient(unreachable), requestTimeoutMs: 3_000 });
    const events = Array.from({ length: 1_200 }, (_, index) => testEvent(`event-${index}`));
    const started = Date.now();
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(failed.map(({ index }) => index)).toEqual(events.map((_, index) => index));
    expect(failed.every(({ retryable }) => retryable)).toBe(true);
  });

  it("keeps each partition key's order on an ordered subscription, across concurrent publishes and a failed request's retry", async () => {
    await project.createOrderedTopic('orders');
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection reset'), { code: 14 });
    // The first request fails: the second publish's events of the same keys must wait for its retry.
    const watch = watchedClient(project.clientOptions, (request) =>
      request === 1 ? unavailable : undefined,
    );
    const sink = open({ client: watch.client });
    const keyed = (index: number) => ({
      ...testEvent(`keyed-${index}`, { index }),
      attributes: { dataset: 'orders', partitionkey: `key-${index % 3}` },
    });
    const first = Array.from({ length: 30 }, (_, index) => keyed(index));
    const second = Array.from({ length: 30 }, (_, index) => keyed(30 + index));
    const retry = { attempts: 8, baseDelayMs: 20 };
    const refused = await Promise.all(
      [first, second].map((events) => publishWithRetries(sink, 'orders', EncodedEvents.of(events), retry)),
    );
    expect(refused).toEqual([[], []]);
    const pulled = await project.pull('orders');
    const byKey = new Map<string, number[]>();
    for (const { data, orderingKey, attributes } of pulled) {
      expect(attributes.partitionkey).toBe(orderingKey);
      const { index } = (JSON.parse(data.toString('utf8')) as { data: { index: number } }).data;
      byKey.set(orderingKey, [...(byKey.get(orderingKey) ?? []), index]);
    }
    for (const key of [0, 1, 2]) {
      const expected = [...first, ...second].map((_, index) => index).filter((index) => index % 3 === key);
      expect(byKey.get(`key-${key}`)).toEqual(expected);
    }
  });

  it('runs at most maxInFlightPerSink requests at once across concurrent publishes', async () => {
    await project.createTopics('orders');
    const watch = watchedClient(project.clientOptions);
    const sink = open({ client: watch.client, maxInFlight: 4, maxInFlightPerSink: 2 });
    const batches = Array.from({ length: 3 }, (_, batch) =>
      Array.from({ length: 3_000 }, (_, index) => testEvent(`b${batch}-${index}`)),
    );
    await Promise.all(batches.map((batch) => sink.publish('orders', EncodedEvents.of(batch))));
    expect(watch.requests).toHaveLength(9);
    expect(watch.mostRunning()).toBe(2);
    expect((await project.pull('orders')).length).toBe(9_000);
  });
});

/** The structured event a binary-mode message stands for, as the binding maps it back. */
function fromBinary({ data, attributes }: PulledMessage) {
  const event: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('ce-')) event[key.slice(3)] = value;
  }
  if (attributes['content-type'] !== undefined) event.datacontenttype = attributes['content-type'];
  if (data.length > 0) event.data = JSON.parse(data.toString('utf8'));
  return event;
}

/** An event's JSON document with every attribute as its canonical string, as binary mode carries it. */
function canonical(body: string) {
  const event = JSON.parse(body) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(event).map(([key, value]) => [key, key === 'data' ? value : String(value)]),
  );
}

describe('pubsub event sink, binary mode', () => {
  let project: EmulatedProject;
  beforeEach(() => {
    project = emulatedProject('binary');
  });
  afterEach(() => project.close());

  it('carries every event of an ingestion (rows, dead letters, the summary) as attributes and data', async () => {
    const topics = ['orders', 'orders.dead-letter', 'dropgate.files'];
    await project.createTopics(...topics);
    const { csv } = ordersFile(1_500, 7);
    const key = 'vendors/acme/orders/2024-05-01/orders.csv';
    // One version of one object, ingested twice on ledgers of their own: the same events, ids and all.
    const store = createMemoryObjectStore({ bucket: 'incoming' });
    store.put(key, csv);
    const ingest = async (sink: EventSink) => {
      const result = await ingestFile(
        { store, sink, ledger: createMemoryLedger(), controlTopic: 'dropgate.files', owner: 'test' },
        { dataset: testDataset(), key, mode: 'notification' },
      );
      expect(result.status).toBe('ingested');
    };
    const memory = createMemoryEventSink();
    await ingest(memory);
    const pubsub = createPubSubEventSink({ projectId: project.projectId, mode: 'binary' });
    await ingest(pubsub);
    await pubsub.close();

    for (const topic of topics) {
      const expected = memory.events(topic);
      expect(expected.length).toBeGreaterThan(0);
      const pulled = await project.pull(topic);
      const byId = new Map(pulled.map((message) => [message.attributes['ce-id'], message]));
      expect([...byId.keys()].sort()).toEqual(expected.map(({ id }) => id).sort());
      for (const event of expected) {
        const message = byId.get(event.id)!;
        const [received, sent] = [fromBinary(message), canonical(event.body)];
        if (event.id.endsWith('-file')) {
          // The summary's duration is the one thing two ingestions of a file do not share.
          for (const summary of [received, sent]) delete (summary.data as { durationMs?: number }).durationMs;
        } else {
          // The data is the body's own bytes for `data`, not a re-serialization of it.
          expect(event.body.endsWith(`"data":${message.data.toString('utf8')}}`)).toBe(true);
        }
        expect(received).toEqual(sent);
        // The event's own attributes ride along, as in structured mode.
        expect(message.attributes).toMatchObject(event.attributes!);
      }
    }
  });

  it("sends a topic named in modes in its mode (a dataset's pubsubMode), the others in the sink's", async () => {
    await project.createTopics('orders', 'orders.dead-letter');
    const sink = createPubSubEventSink({
      projectId: project.projectId,
      modes: new Map([['orders', 'binary']]),
    });
    for (const topic of ['orders', 'orders.dead-letter']) {
      expect(await sink.publish(topic, EncodedEvents.of([testEvent(`in-${topic}`)]))).toEqual({ failed: [] });
    }
    await sink.close();
    const [binary] = await project.pull('orders');
    expect(binary!.attributes['ce-id']).toBe('in-orders');
    expect(JSON.parse(binary!.data.toString('utf8'))).toEqual({ id: 'in-orders' });
    const [structured] = await project.pull('orders.dead-letter');
    expect(structured!.attributes['content-type']).toBe('application/cloudevents+json');
    expect(JSON.parse(structured!.data.toString('utf8'))).toMatchObject({ id: 'in-orders.dead-letter' });
  });

  it('refuses an event whose attributes binary mode cannot carry, and sends the others', async () => {
    await project.createTopics('orders');
    const sink = createPubSubEventSink({ projectId: project.projectId, mode: 'binary' });
    const subject = 's'.repeat(1_100);
    const events: OutgoingEvent[] = [
      testEvent('fine'),
      {
        id: 'long-subject',
        body: JSON.stringify({ specversion: '1.0', id: 'long-subject', subject, data: {} }),
      },
      {
        id: 'nested',
        body: JSON.stringify({ specversion: '1.0', id: 'nested', extension: { a: 1 }, data: {} }),
      },
    ];
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    await sink.close();
    expect(failed).toEqual([
      {
        index: 1,
        message: expect.stringContaining('attribute "ce-subject" of 1100 bytes'),
        retryable: false,
      },
      { index: 2, message: expect.stringContaining('"extension" is an object'), retryable: false },
    ]);
    expect((await project.pull('orders')).map(({ attributes }) => attributes['ce-id'])).toEqual(['fine']);
  });
});

describe('binaryMessage', () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it('maps attributes to ce- attributes in canonical form and keeps data as its JSON text', () => {
    const body = new TextEncoder().encode(
      '{ "specversion":"1.0", "id":"a\\"b", "rownumber": 12, "flag":true, "nothing": null,' +
        ' "datacontenttype":"application/json", "data": {"x": [1, "}"]} }',
    );
    const { data, attributes } = binaryMessage(body);
    expect(attributes).toEqual({
      'ce-specversion': '1.0',
      'ce-id': 'a"b',
      'ce-rownumber': '12',
      'ce-flag': 'true',
      'content-type': 'application/json',
    });
    expect(text(data)).toBe('{"x": [1, "}"]}');
    expect(data.buffer).toBe(body.buffer);
  });

  it('gives JSON data without a content type application/json, and none to an event without data', () => {
    expect(binaryMessage(encode({ id: 'a', data: [1] })).attributes['content-type']).toBe('application/json');
    const empty = binaryMessage(encode({ id: 'a' }));
    expect(empty).toEqual({ data: new Uint8Array(0), attributes: { 'ce-id': 'a' } });
  });

  it('decodes data_base64, and a string of a content type other than JSON, to their bytes', () => {
    const binary = binaryMessage(encode({ id: 'a', datacontenttype: 'image/png', data_base64: 'AAEC/w==' }));
    expect([...binary.data]).toEqual([0, 1, 2, 255]);
    expect(binary.attributes).toEqual({ 'ce-id': 'a', 'content-type': 'image/png' });
    const plain = binaryMessage(encode({ id: 'a', datacontenttype: 'text/plain', data: 'Zoë\n' }));
    expect(text(plain.data)).toBe('Zoë\n');
    const jsonString = binaryMessage(encode({ id: 'a', datacontenttype: 'application/json', data: 'Zoë' }));
    expect(text(jsonString.data)).toBe('"Zoë"');
  });

  it.each(['', '[]', '{"id":"a"', '{"id" "a"}', '{"id":"a",}', '"text"'])(
    'refuses %j, saying why',
    (body) => {
      expect(() => binaryMessage(new TextEncoder().encode(body))).toThrow(/not a JSON object/);
    },
  );
});
