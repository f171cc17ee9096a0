/**
 * Events packed many to a message (`rowsPerMessage`), in the CloudEvents batch format, on the real stand-ins:
 * the pubsub sink on the Pub/Sub emulator and the sqs sink on fauxqs. Unpacked, the messages hold exactly the
 * events published, in order, each once; a message never exceeds its rows or the sink's bytes; a failed
 * message fails each of its events. Also packEvents itself.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLOUDEVENTS_BATCH_CONTENT_TYPE,
  packEvents,
  unpackFailures,
} from '../../adapters/event-sink/packed-events.js';
import { createPubSubEventSink } from '../../adapters/event-sink/pubsub/pubsub-event-sink.js';
import { createSqsEventSink } from '../../adapters/event-sink/sqs/sqs-event-sink.js';
import { EncodedEvents } from '../../workers/event-batch.js';
import { startFauxqs, useTestCredentials, type StandIn } from '../support/aws-stand-ins.js';
import { emulatedProject, type EmulatedProject } from '../support/pubsub-emulator.js';
import { eventOfSize, testEvent } from '../contract/event-sink-contract.js';

const events = Array.from({ length: 250 }, (_, index) =>
  testEvent(`file-${index + 1}`, { order: index + 1, note: 'x'.repeat(index % 7) }),
);

describe('packEvents', () => {
  it('packs greedily up to the rows and bytes of a message, each body a JSON array of the events in order', () => {
    const batch = EncodedEvents.of(events);
    const { messages, members } = packEvents(batch, 100, 1_000_000);
    expect(members.map((indices) => indices.length)).toEqual([100, 100, 50]);
    expect(members.flat()).toEqual(events.map((_, index) => index));
    const decoder = new TextDecoder();
    const unpacked = messages.toEvents().flatMap((message) => JSON.parse(message.body) as unknown[]);
    expect(unpacked).toEqual(events.map((event) => JSON.parse(event.body)));
    expect(messages.id(0)).toBe('file-1+100');
    expect(messages.id(2)).toBe('file-201+50');
    expect(messages.attributes(1)).toMatchObject({ 'content-type': CLOUDEVENTS_BATCH_CONTENT_TYPE });
    expect(decoder.decode(messages.ndjson()).split('\n')).toHaveLength(4);

    // A byte limit cuts before the rows do; every message stays within it, brackets and commas counted.
    const small = packEvents(batch, 100, 2_000);
    for (let index = 0; index < small.messages.length; index++) {
      expect(small.messages.body(index).byteLength).toBeLessThanOrEqual(2_000);
    }
    expect(small.members.flat()).toEqual(events.map((_, index) => index));
    expect(small.messages.length).toBeGreaterThan(3);
  });

  it('gives an event larger than a message one of its own, and fails each event of a failed message', () => {
    const batch = EncodedEvents.of([testEvent('a'), eventOfSize('big', 5_000), testEvent('c')]);
    const { messages, members } = packEvents(batch, 10, 1_000);
    expect(members).toEqual([[0], [1], [2]]);
    expect(messages.body(1).byteLength).toBeGreaterThan(1_000);
    expect(unpackFailures([{ index: 1, message: 'too large', retryable: false }], members)).toEqual([
      { index: 1, message: 'too large', retryable: false },
    ]);
    const packed = packEvents(EncodedEvents.of(events.slice(0, 10)), 4, 1_000_000);
    expect(unpackFailures([{ index: 1, message: 'throttled', retryable: true }], packed.members)).toEqual(
      [4, 5, 6, 7].map((index) => ({ index, message: 'throttled', retryable: true })),
    );
  });
});

describe('the pubsub sink with rowsPerMessage', () => {
  let project: EmulatedProject;
  beforeAll(async () => {
    project = emulatedProject('packed');
    await project.createTopics('orders', 'orders.dead-letter');
  });
  afterAll(async () => project?.close());

  it('sends a packed topic’s events as CloudEvents batches, and other topics one event a message', async () => {
    const sink = createPubSubEventSink({
      projectId: project.projectId,
      rowsPerMessage: new Map([['orders', 100]]),
    });
    try {
      expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
      expect(await sink.publish('orders.dead-letter', EncodedEvents.of(events.slice(0, 3)))).toEqual({
        failed: [],
      });
    } finally {
      await sink.close();
    }
    const packed = await project.pull('orders');
    expect(packed).toHaveLength(3);
    for (const message of packed) {
      expect(message.attributes['content-type']).toBe(CLOUDEVENTS_BATCH_CONTENT_TYPE);
    }
    const unpacked = packed.flatMap(
      (message) => JSON.parse(message.data.toString('utf8')) as Array<{ id: string }>,
    );
    expect(unpacked.map((event) => event.id).sort()).toEqual(events.map((event) => event.id).sort());
    const single = await project.pull('orders.dead-letter');
    expect(single.map((message) => message.attributes['content-type'])).toEqual(
      Array(3).fill('application/cloudevents+json'),
    );
  });

  it('refuses packing in binary mode, which cannot carry a batch', () => {
    expect(() =>
      createPubSubEventSink({
        projectId: project.projectId,
        mode: 'binary',
        rowsPerMessage: new Map([['orders', 10]]),
      }),
    ).toThrow(/binary mode cannot carry/);
  });
});

describe('the sqs sink with rowsPerMessage', () => {
  let fauxqs: StandIn;
  let client: SQSClient;
  let queueUrl: string;
  beforeAll(async () => {
    useTestCredentials();
    fauxqs = await startFauxqs();
    process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
    client = new SQSClient({ useQueueUrlAsEndpoint: false });
    ({ QueueUrl: queueUrl = '' } = await client.send(new CreateQueueCommand({ QueueName: 'packed-orders' })));
  });
  afterAll(async () => {
    client?.destroy();
    delete process.env.AWS_ENDPOINT_URL_SQS;
    await fauxqs?.stop();
  });

  it('sends CloudEvents batches of at most rowsPerMessage events, each event once', async () => {
    const sink = createSqsEventSink({ rowsPerMessage: new Map([['packed-orders', 60]]) });
    try {
      expect(await sink.publish('packed-orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    } finally {
      await sink.close();
    }
    const messages: Message[] = [];
    for (;;) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 600,
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      messages.push(...Messages);
    }
    expect(messages).toHaveLength(5);
    for (const message of messages) {
      expect(message.MessageAttributes!['content-type']!.StringValue).toBe(CLOUDEVENTS_BATCH_CONTENT_TYPE);
      expect(message.MessageAttributes!['ce-id']!.StringValue).toMatch(/^file-\d+\+(60|10)$/);
    }
    const unpacked = messages.flatMap((message) => JSON.parse(message.Body!) as Array<{ id: string }>);
    expect(unpacked.map((event) => event.id).sort()).toEqual(events.map((event) => event.id).sort());
  });
});
