/**
 * Runs the EventSink contract against both SQS sinks on fauxqs, the SDK's (Node) and the signed-fetch one
 * of Workers (JSON protocol), then SQS's own limits, failures and FIFO.
 */
import {
  CreateQueueCommand,
  SQSClient,
  type Message,
  type SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../app/node/load-config.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncodedEvents } from '../../workers/event-batch.js';
import { createSqsEventSink } from '../../adapters/event-sink/sqs/sqs-event-sink.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { publishWithRetries } from '../../workers/batch-publisher.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from '../integration/support/orders-csv.js';
import {
  createSqsHttpEventSink,
  type SqsHttpEventSinkOptions,
} from '../../adapters/event-sink/sqs/sqs-http-event-sink.js';
import { deduplicationIdOf, SQS_MAX_REQUEST_BYTES } from '../../adapters/event-sink/sqs/sqs-sink.js';
import type { EventSink } from '../../adapters/ports.js';
import {
  drainQueue,
  startFauxqs,
  TEST_CREDENTIALS,
  TEST_REGION,
  MadeUpAnswer,
  useTestCredentials,
  watchedSqsClient,
  type StandIn,
} from '../support/aws-stand-ins.js';
import { eventOfSize, eventSinkContract, testEvent } from './event-sink-contract.js';

useTestCredentials();
await acceptEveryUnicodeCharacter();

/**
 * fauxqs 1.9 checks a body's characters without the regular expression's `u` flag, so it refuses every
 * character above U+FFFF (an emoji), which SQS takes (#x10000 to #x10FFFF are allowed). Its check is
 * made SQS's here, in the stand-in running in this process, so the contract's unicode body can pass.
 */
async function acceptEveryUnicodeCharacter() {
  const entry = realpathSync(join(packageRoot, 'node_modules/fauxqs/dist/sqs/sqsTypes.js'));
  const types = (await import(pathToFileURL(entry).href)) as { INVALID_MESSAGE_BODY_CHAR: RegExp };
  // eslint-disable-next-line no-control-regex
  const invalid = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
  types.INVALID_MESSAGE_BODY_CHAR.test = (text: string) => invalid.test(text);
}

/** Points the SDK at `standIn` the way an operator would: the standard variable. */
function useEndpoint(standIn: StandIn) {
  process.env.AWS_ENDPOINT_URL_SQS = standIn.endpoint;
}

async function createQueues(client: SQSClient, names: string[]): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  for (const name of names) {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
    urls.set(name, QueueUrl!);
  }
  return urls;
}

const idAndBody = (message: Message) => ({
  id: message.MessageAttributes?.['ce-id']?.StringValue ?? '(no ce-id)',
  body: message.Body!,
});

eventSinkContract('sqs on fauxqs', async () => {
  const standIn = await startFauxqs();
  useEndpoint(standIn);
  const client = new SQSClient({ useQueueUrlAsEndpoint: false });
  const urls = await createQueues(client, ['orders', 'orders.dead-letter', 'never-used']);
  const sink = createSqsEventSink();
  return {
    sink,
    published: async (topic) => (await drainQueue(client, urls.get(topic)!)).map(idAndBody),
    async dispose() {
      client.destroy();
      await standIn.stop();
    },
  };
});

describe('SQS event sink', () => {
  let standIn: StandIn;
  let client: SQSClient;
  let sinks: EventSink[];
  /** Every SendMessageBatch request sent, by its entries. */
  let requests: Array<SendMessageBatchCommand['input']>;
  /** SendMessageBatch requests running now, and the most that ran at once. */
  let running: number;
  let mostRunning: number;

  beforeEach(async () => {
    standIn = await startFauxqs();
    useEndpoint(standIn);
    client = new SQSClient({ useQueueUrlAsEndpoint: false });
    sinks = [];
    requests = [];
    running = 0;
    mostRunning = 0;
  });
  afterEach(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    client.destroy();
    await standIn.stop();
  });

  /** A sink whose client records each SendMessageBatch request, and how many run at once. */
  function open(options: Parameters<typeof createSqsEventSink>[0] = {}) {
    const recorded = watchedSqsClient(async (action, input, send) => {
      if (action !== 'SendMessageBatch') return send();
      requests.push(input as SendMessageBatchCommand['input']);
      mostRunning = Math.max(mostRunning, ++running);
      try {
        return await send();
      } finally {
        running--;
      }
    });
    const sink = createSqsEventSink({ client: recorded, ...options });
    sinks.push(sink);
    return sink;
  }

  it('sends requests of at most 10 entries and 1 MiB, attributes counted, losing nothing', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const small = Array.from({ length: 23 }, (_, index) => testEvent(`small-${index}`, { index }));
    // 300,000-byte bodies: three fit in 1 MiB, a fourth does not.
    const large = Array.from({ length: 7 }, (_, index) => eventOfSize(`large-${index}`, 300_000));
    const sink = open();
    expect(await sink.publish('orders', EncodedEvents.of([...large, ...small]))).toEqual({ failed: [] });

    // Three large bodies fill a request by bytes; small ones fill it by entries.
    expect(requests.map((request) => request.Entries!.length)).toEqual([3, 3, 10, 10, 4]);
    for (const request of requests) {
      expect(request.Entries!.length).toBeLessThanOrEqual(10);
      let bytes = 0;
      for (const entry of request.Entries!) {
        bytes += Buffer.byteLength(entry.MessageBody!);
        for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
          bytes += Buffer.byteLength(name) + value.DataType!.length + Buffer.byteLength(value.StringValue!);
        }
      }
      expect(bytes).toBeLessThanOrEqual(SQS_MAX_REQUEST_BYTES);
    }
    const received = (await drainQueue(client, url!)).map(idAndBody);
    expect(received.map((event) => event.id).sort()).toEqual(
      [...small, ...large].map((event) => event.id).sort(),
    );
  });

  it('carries the CloudEvents attributes as message attributes, at most ten', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const body = JSON.stringify({
      specversion: '1.0',
      id: 'abc-1',
      source: '//dropgate.local/buckets/uploads',
      type: 'OrderReceived',
      subject: 'vendors/acme/orders/a b.csv',
      time: '2024-05-01T12:00:00.000Z',
      datacontenttype: 'application/json',
      dataset: 'orders',
      data: { source: 'not the envelope', time: 'nor this' },
    });
    const attributes = { type: 'OrderReceived', dataset: 'orders', schemaversion: '2' };
    await open().publish('orders', EncodedEvents.of([{ id: 'abc-1', body, attributes }]));
    const [message] = await drainQueue(client, url!);
    const received = Object.fromEntries(
      Object.entries(message!.MessageAttributes!).map(([name, value]) => [name, value.StringValue]),
    );
    expect(received).toEqual({
      'ce-id': 'abc-1',
      'ce-specversion': '1.0',
      'ce-type': 'OrderReceived',
      'ce-source': '//dropgate.local/buckets/uploads',
      'ce-subject': 'vendors/acme/orders/a b.csv',
      'ce-time': '2024-05-01T12:00:00.000Z',
      'content-type': 'application/cloudevents+json',
      'ce-dataset': 'orders',
      'ce-schemaversion': '2',
    });
    expect(message!.Body).toBe(body);

    const many = Object.fromEntries(Array.from({ length: 12 }, (_, index) => [`extra${index}`, 'x']));
    await open().publish('orders', EncodedEvents.of([{ ...testEvent('many'), attributes: many }]));
    const [crowded] = await drainQueue(client, url!);
    expect(Object.keys(crowded!.MessageAttributes!)).toHaveLength(10);
    expect(crowded!.MessageAttributes!['ce-id']?.StringValue).toBe('many');
  });

  it("gives each message of a mixed batch its own envelope's attributes", async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    // Row events of two files written as the pipeline writes them (envelope first, id last before the
    // data), interleaved, and a control event whose id comes second (its envelope after it).
    const row = (file: string, row: number) =>
      `{"specversion":"1.0","source":"//b","type":"OrderReceived","subject":"${file}",` +
      `"time":"${file === 'a' ? '2024-05-01' : '2024-05-02'}T00:00:00Z","id":"${file}-${row}",` +
      `"rownumber":${row},"data":{"subject":"x","time":"y"}}`;
    const events = [
      { id: 'a-1', body: row('a', 1) },
      { id: 'a-2', body: row('a', 2) },
      { id: 'b-1', body: row('b', 1) },
      { id: 'a-3', body: row('a', 3) },
      {
        id: 'summary',
        body: '{"specversion":"1.0","id":"summary","source":"//b","type":"FileIngested","subject":"a","time":"2024-06-01T00:00:00Z","data":{}}',
      },
      { id: 'a-4', body: row('a', 4) },
    ].map((event) => ({ ...event, attributes: { dataset: 'orders' } }));
    await open({ maxInFlight: 1 }).publish(url!, EncodedEvents.of(events));
    const received = (await drainQueue(client, url!)).map((message) => {
      const value = (name: string) => message.MessageAttributes![name]?.StringValue;
      return [value('ce-id'), value('ce-subject'), value('ce-type'), value('ce-time')];
    });
    expect(received.sort()).toEqual(
      [
        ['a-1', 'a', 'OrderReceived', '2024-05-01T00:00:00Z'],
        ['a-2', 'a', 'OrderReceived', '2024-05-01T00:00:00Z'],
        ['b-1', 'b', 'OrderReceived', '2024-05-02T00:00:00Z'],
        ['a-3', 'a', 'OrderReceived', '2024-05-01T00:00:00Z'],
        ['summary', 'a', 'FileIngested', '2024-06-01T00:00:00Z'],
        ['a-4', 'a', 'OrderReceived', '2024-05-01T00:00:00Z'],
      ].sort(),
    );
  });

  it('sends bodies with newlines and escaped envelope strings intact, attributes unescaped', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const subject = 'vendors/"acme"\\orders.csv';
    const escaped = JSON.stringify({ specversion: '1.0', id: 'escaped', subject, data: {} });
    // Pretty-printed: its NDJSON lines are not its events, so each body is decoded on its own.
    const pretty = JSON.stringify({ specversion: '1.0', id: 'pretty', data: { a: 1 } }, null, 2);
    const events = [{ id: 'escaped', body: escaped }, { id: 'pretty', body: pretty }, testEvent('after')];
    expect(await open().publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    const byId = new Map((await drainQueue(client, url!)).map((message) => [idAndBody(message).id, message]));
    for (const event of events) expect(byId.get(event.id)!.Body).toBe(event.body);
    expect(byId.get('escaped')!.MessageAttributes!['ce-subject']?.StringValue).toBe(subject);
  });

  it('runs at most maxInFlight requests at once across concurrent publishes', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const sink = open({ maxInFlight: 2 });
    const batches = Array.from({ length: 3 }, (_, batch) =>
      Array.from({ length: 30 }, (_, index) => testEvent(`b${batch}-${index}`)),
    );
    await Promise.all(batches.map((batch) => sink.publish('orders', EncodedEvents.of(batch))));
    expect(requests).toHaveLength(9);
    expect(mostRunning).toBe(2);
    expect(await drainQueue(client, url!)).toHaveLength(90);
  });

  it('refuses a message too large for SQS for good, naming the limit, and sends the rest', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const sink = open();
    const events = [testEvent('before'), eventOfSize('huge', 2 << 20), testEvent('after')];
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      {
        index: 1,
        message: expect.stringContaining(`${SQS_MAX_REQUEST_BYTES} bytes a message`),
        retryable: false,
      },
    ]);
    expect((await drainQueue(client, url!)).map((message) => idAndBody(message).id).sort()).toEqual([
      'after',
      'before',
    ]);
  });

  it('maps the entries SQS fails to their events: a sender fault for good, any other retryable', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const events = Array.from({ length: 25 }, (_, index) => testEvent(`event-${index}`));
    // U+FFFF is not a character SQS takes in a body: fauxqs fails that entry as the sender's fault.
    events[13] = { id: 'bad', body: '{"id":"bad","data":"\uffff"}' };
    let request = 0;
    const throttled = watchedSqsClient(async (action, _input, send) => {
      const answer = await send();
      if (action !== 'SendMessageBatch' || ++request !== 3) return answer;
      // The third request's first entry comes back throttled, as SQS reports it in Failed[].
      const output = answer as { Successful: Array<{ Id?: string }>; Failed?: unknown[] };
      const [first] = output.Successful.splice(0, 1);
      output.Failed = [
        ...(output.Failed ?? []),
        { Id: first!.Id, SenderFault: false, Code: 'ThrottlingException', Message: 'Rate exceeded' },
      ];
      return output;
    });
    const sink = createSqsEventSink({ client: throttled, maxInFlight: 1 });
    sinks.push(sink);
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      { index: 13, message: expect.stringContaining('InvalidMessageContents'), retryable: false },
      { index: 20, message: expect.stringContaining('ThrottlingException'), retryable: true },
    ]);
    // The throttled one did reach the stand-in here; what matters is it was reported by its index.
    const received = (await drainQueue(client, url!)).map((message) => idAndBody(message).id);
    expect(received).not.toContain('bad');
    expect(received).toHaveLength(24);
  });

  it("sends its own SigV4-signed JSON-protocol request with the client's credentials and region", async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const seen: Array<{ action: string; headers: Record<string, string> }> = [];
    const watched = watchedSqsClient(async (action, _input, send, request) => {
      seen.push({ action, headers: request.headers });
      return send();
    });
    const sink = createSqsEventSink({ client: watched });
    sinks.push(sink);
    await sink.publish('orders', EncodedEvents.of([testEvent('signed')]));
    const batch = seen.find(({ action }) => action === 'SendMessageBatch')!;
    expect(batch.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AmazonSQS.SendMessageBatch',
      authorization: expect.stringMatching(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/\\d{8}/${TEST_REGION}/sqs/aws4_request, ` +
            'SignedHeaders=[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$',
        ),
      ),
      'x-amz-date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
    });
    expect((await drainQueue(client, url!)).map((message) => idAndBody(message).id)).toEqual(['signed']);
  });

  it('sends a request again after an outage or throttling answer, three attempts, then fails its events retryably', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const answers = [
      new MadeUpAnswer(503, { __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'try later' }),
      new MadeUpAnswer(400, { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Rate exceeded' }),
    ];
    let sent = 0;
    const flaky = watchedSqsClient(async (action, _input, send) => {
      if (action !== 'SendMessageBatch') return send();
      sent++;
      return answers.shift() ?? send();
    });
    const sink = createSqsEventSink({ client: flaky, retry: { attempts: 3, baseDelayMs: 1 } });
    sinks.push(sink);
    expect(await sink.publish('orders', EncodedEvents.of([testEvent('third-time')]))).toEqual({ failed: [] });
    expect(sent).toBe(3);
    expect((await drainQueue(client, url!)).map((message) => idAndBody(message).id)).toEqual(['third-time']);

    // Three outages in a row: its events fail, retryably, for the pipeline to send again later.
    answers.push(...Array.from({ length: 3 }, () => new MadeUpAnswer(500, { __type: 'InternalError' })));
    expect(await sink.publish('orders', EncodedEvents.of([testEvent('later')]))).toEqual({
      failed: [{ index: 0, message: expect.stringContaining('HTTP 500 InternalError'), retryable: true }],
    });
    // A refusal is not sent again.
    sent = 0;
    answers.push(new MadeUpAnswer(403, { __type: 'com.amazonaws.sqs#AccessDenied', message: 'no' }));
    await expect(sink.publish('orders', EncodedEvents.of([testEvent('denied')]))).rejects.toMatchObject({
      code: 'PUBLISH_REFUSED',
    });
    expect(sent).toBe(1);
  });

  it('fails an entry whose body SQS answers a different MD5 for, retryably', async () => {
    await createQueues(client, ['orders']);
    const garbled = watchedSqsClient(async (action, _input, send) => {
      const answer = (await send()) as { Successful?: Array<{ Id: string; MD5OfMessageBody: string }> };
      if (action === 'SendMessageBatch') answer.Successful![1]!.MD5OfMessageBody = '0'.repeat(32);
      return answer;
    });
    const sink = createSqsEventSink({ client: garbled });
    sinks.push(sink);
    const { failed } = await sink.publish(
      'orders',
      EncodedEvents.of([testEvent('a'), testEvent('b'), testEvent('c')]),
    );
    expect(failed).toEqual([
      { index: 1, message: expect.stringMatching(/MD5Mismatch.*MD5 0{32}/), retryable: true },
    ]);
  });

  it("sends to a queue URL's own host when no endpoint is configured, as the SDK does", async () => {
    const hosts: string[] = [];
    // Answered here: the host is AWS's, which these tests never reach.
    const watched = watchedSqsClient(async (_action, input, _send, request) => {
      hosts.push(`${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}`);
      const [entry] = (input as { Entries: Array<{ Id: string; MessageBody: string }> }).Entries;
      const md5 = createHash('md5').update(entry!.MessageBody).digest('hex');
      return new MadeUpAnswer(200, { Successful: [{ Id: entry!.Id, MD5OfMessageBody: md5 }] });
    });
    delete process.env.AWS_ENDPOINT_URL_SQS;
    try {
      const sink = createSqsEventSink({ client: watched });
      sinks.push(sink);
      const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders';
      expect(await sink.publish(url, EncodedEvents.of([testEvent('by-url')]))).toEqual({ failed: [] });
    } finally {
      useEndpoint(standIn);
    }
    expect(hosts).toEqual(['https://sqs.eu-west-1.amazonaws.com']);
  });

  it('rejects the whole publish when a queue does not exist, naming it', async () => {
    await expect(open().publish('no-such-queue', EncodedEvents.of([testEvent('a')]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('no-such-queue'),
    });
  });

  it('accepts a queue URL as the topic, and resolves a name once', async () => {
    const urls = await createQueues(client, ['orders']);
    const lookups: string[] = [];
    const counting = new SQSClient({ useQueueUrlAsEndpoint: false });
    counting.middlewareStack.add(
      (next, context) => async (args) => {
        lookups.push(context.commandName!);
        return next(args);
      },
      { step: 'initialize' },
    );
    const sink = createSqsEventSink({ client: counting });
    sinks.push(sink);
    await sink.publish(urls.get('orders')!, EncodedEvents.of([testEvent('by-url')]));
    await sink.publish('orders', EncodedEvents.of([testEvent('by-name-1')]));
    await sink.publish('orders', EncodedEvents.of([testEvent('by-name-2')]));
    expect(lookups.filter((name) => name === 'GetQueueUrlCommand')).toHaveLength(1);
    expect(
      (await drainQueue(client, urls.get('orders')!)).map((message) => idAndBody(message).id).sort(),
    ).toEqual(['by-name-1', 'by-name-2', 'by-url']);
  });

  it('sends to a FIFO queue with the event id as deduplication id, so a retry is dropped', async () => {
    const [url] = (await createQueues(client, ['orders.fifo'])).values();
    const sink = open({ fifoGroup: 'orders-group' });
    const events = Array.from({ length: 12 }, (_, index) => testEvent(`fifo-${index}`));
    await sink.publish('orders.fifo', EncodedEvents.of(events));
    // A retry of part of the batch, as after a partial failure: the queue keeps one of each.
    await sink.publish('orders.fifo', EncodedEvents.of(events.slice(3, 8)));
    const received = await drainQueue(client, url!);
    expect(received.map((message) => idAndBody(message).id)).toEqual(events.map((event) => event.id));
    for (const message of received) {
      expect(message.Attributes?.MessageGroupId).toBe('orders-group');
      expect(message.Attributes?.MessageDeduplicationId).toBe(idAndBody(message).id);
    }
  });

  it("groups an ingested file's FIFO messages by each row's partition key column", async () => {
    const urls = await createQueues(client, ['orders.fifo', 'orders-dead-letter', 'dropgate-files']);
    const store = createMemoryObjectStore({ bucket: 'incoming' });
    const key = 'vendors/acme/orders/2024-05-01/orders.csv';
    store.put(key, ordersFile(30).csv);
    const dataset = testDataset({
      topic: 'orders.fifo',
      deadLetterTopic: 'orders-dead-letter',
      partitionKey: { column: 'customer_id' },
    });
    const result = await ingestFile(
      {
        store,
        sink: open({ fifoGroup: 'not-used' }),
        ledger: createMemoryLedger(),
        controlTopic: 'dropgate-files',
        owner: 'test',
      },
      { dataset, key, mode: 'notification' },
    );
    expect(result.status).toBe('ingested');
    const received = await drainQueue(client, urls.get('orders.fifo')!);
    expect(received).toHaveLength(30);
    for (const message of received) {
      const event = JSON.parse(message.Body!) as { rownumber: number; partitionkey: string };
      expect(event.partitionkey).toBe(`CUST-${event.rownumber % 7}`);
      expect(message.Attributes?.MessageGroupId).toBe(event.partitionkey);
    }
  });

  it("keeps each partition key's order on a FIFO queue across concurrent publishes and a failed request's retry", async () => {
    const [url] = (await createQueues(client, ['keyed.fifo'])).values();
    const failing = new SQSClient({ useQueueUrlAsEndpoint: false });
    let batches = 0;
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand' && ++batches === 1) {
          throw Object.assign(new Error('connection reset'), { name: 'ECONNRESET' });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const sink = open({ client: failing });
    const keyed = (index: number) => ({
      ...testEvent(`keyed-${index}`, { index }),
      attributes: { dataset: 'orders', partitionkey: `key-${index % 3}` },
    });
    const first = Array.from({ length: 30 }, (_, index) => keyed(index));
    const second = Array.from({ length: 30 }, (_, index) => keyed(30 + index));
    const retry = { attempts: 8, baseDelayMs: 20 };
    const refused = await Promise.all(
      [first, second].map((events) =>
        publishWithRetries(sink, 'keyed.fifo', EncodedEvents.of(events), retry),
      ),
    );
    expect(refused).toEqual([[], []]);
    const byKey = new Map<string, number[]>();
    for (const message of await drainQueue(client, url!)) {
      const group = message.Attributes!.MessageGroupId!;
      const { index } = (JSON.parse(message.Body!) as { data: { index: number } }).data;
      byKey.set(group, [...(byKey.get(group) ?? []), index]);
    }
    for (const key of [0, 1, 2]) {
      const expected = Array.from({ length: 60 }, (_, index) => index).filter((index) => index % 3 === key);
      expect(byKey.get(`key-${key}`)).toEqual(expected);
    }
    failing.destroy();
  });

  it('groups FIFO messages by dataset by default, and hashes an id SQS would refuse as dedup id', async () => {
    const [url] = (await createQueues(client, ['events.fifo'])).values();
    const long = `x${'y'.repeat(200)}`;
    await open().publish(
      'events.fifo',
      EncodedEvents.of([testEvent('plain'), { ...testEvent(long), attributes: { dataset: 'invoices' } }]),
    );
    const received = await drainQueue(client, url!);
    expect(received.map((message) => message.Attributes?.MessageGroupId)).toEqual(['orders', 'invoices']);
    expect(received[1]!.Attributes?.MessageDeduplicationId).toBe(await deduplicationIdOf(long));
    expect(await deduplicationIdOf(long)).toBe(createHash('sha256').update(long).digest('hex'));
    expect(await deduplicationIdOf('a é')).toMatch(/^[0-9a-f]{64}$/);
    expect(await deduplicationIdOf('0123abcd-42-rejected')).toBe('0123abcd-42-rejected');
  });
});

eventSinkContract('sqs over HTTP (JSON protocol, signed fetch) on fauxqs', async () => {
  const standIn = await startFauxqs();
  useEndpoint(standIn);
  const client = new SQSClient({ useQueueUrlAsEndpoint: false });
  const urls = await createQueues(client, ['orders', 'orders.dead-letter', 'never-used']);
  const sink = createSqsHttpEventSink({
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    endpoint: standIn.endpoint,
  });
  return {
    sink,
    published: async (topic) => (await drainQueue(client, urls.get(topic)!)).map(idAndBody),
    async dispose() {
      client.destroy();
      await standIn.stop();
    },
  };
});

describe('SQS HTTP event sink', () => {
  let standIn: StandIn;
  let client: SQSClient;
  let sinks: EventSink[];
  /** Every request the sink sent: its headers and JSON body. */
  let seen: Array<{ headers: Headers; body: { Entries?: Array<Record<string, unknown>> } }>;

  beforeEach(async () => {
    standIn = await startFauxqs();
    useEndpoint(standIn);
    client = new SQSClient({ useQueueUrlAsEndpoint: false });
    sinks = [];
    seen = [];
  });
  afterEach(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    client.destroy();
    await standIn.stop();
  });

  /** A sink whose fetch notes each request, and answers request N (from 1) with `answer(N)` when it gives one. */
  function open(
    options: Partial<SqsHttpEventSinkOptions> = {},
    answer?: (request: number) => Response | undefined,
  ) {
    const watched: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      seen.push({ headers: request.headers, body: JSON.parse(await request.clone().text()) });
      return answer?.(seen.length) ?? fetch(request);
    };
    const sink = createSqsHttpEventSink({
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      endpoint: standIn.endpoint,
      fetch: watched,
      ...options,
    });
    sinks.push(sink);
    return sink;
  }

  it('sends SigV4-signed SendMessageBatch requests of the JSON protocol, 10 entries and 1 MiB at most', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const small = Array.from({ length: 23 }, (_, index) => testEvent(`small-${index}`, { index }));
    const large = Array.from({ length: 7 }, (_, index) => eventOfSize(`large-${index}`, 300_000));
    expect(await open().publish(url!, EncodedEvents.of([...large, ...small]))).toEqual({ failed: [] });
    // Requests run at once, and bodies are read (so noted) in any order.
    const sizes = seen.map(({ body }) => body.Entries!.length);
    expect(sizes.sort((left, right) => left - right)).toEqual([3, 3, 4, 10, 10]);
    for (const { headers } of seen) {
      expect(headers.get('x-amz-target')).toBe('AmazonSQS.SendMessageBatch');
      expect(headers.get('content-type')).toBe('application/x-amz-json-1.0');
      expect(headers.get('authorization')).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/\\d{8}/${TEST_REGION}/sqs/aws4_request, `,
        ),
      );
    }
    const received = (await drainQueue(client, url!)).map(idAndBody);
    expect(received.map(({ id }) => id).sort()).toEqual([...small, ...large].map(({ id }) => id).sort());
  });

  it('gives a message the same attributes as the SDK sink does', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const event = {
      ...testEvent('same-1'),
      attributes: { type: 'OrderReceived', dataset: 'orders', schemaversion: '2' },
    };
    await open().publish('orders', EncodedEvents.of([event]));
    const sdk = createSqsEventSink();
    sinks.push(sdk);
    await sdk.publish('orders', EncodedEvents.of([event]));
    const [first, second] = await drainQueue(client, url!);
    expect(first!.Body).toBe(event.body);
    expect(first!.MessageAttributes).toEqual(second!.MessageAttributes);
    expect(Object.keys(first!.MessageAttributes!)).toContain('ce-schemaversion');
  });

  it('maps a failed entry to its event, a sender fault for good, and sends again on a retryable status', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const events = Array.from({ length: 12 }, (_, index) => testEvent(`event-${index}`));
    events[4] = { id: 'bad', body: '{"id":"bad","data":"\uffff"}' };
    const sink = open({ maxInFlight: 1, retry: { attempts: 3, baseDelayMs: 1 } }, (request) =>
      request === 2
        ? new Response('{"__type":"com.amazonaws.sqs#ServiceUnavailable"}', { status: 503 })
        : undefined,
    );
    const { failed } = await sink.publish('orders', EncodedEvents.of(events));
    expect(failed).toEqual([
      { index: 4, message: expect.stringContaining('InvalidMessageContents'), retryable: false },
    ]);
    // GetQueueUrl, the first request, its 503, the first request again, the second request.
    expect(seen.map(({ headers }) => headers.get('x-amz-target'))).toEqual([
      'AmazonSQS.GetQueueUrl',
      'AmazonSQS.SendMessageBatch',
      'AmazonSQS.SendMessageBatch',
      'AmazonSQS.SendMessageBatch',
    ]);
    expect((await drainQueue(client, url!)).map((message) => idAndBody(message).id)).toHaveLength(11);
  });

  it('sends a request again on the answers the SDK sink sends again, throttling as 400 included', async () => {
    const [url] = (await createQueues(client, ['orders'])).values();
    const answer = (status: number, type: string) =>
      new Response(JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message: 'made up' }), { status });
    const answers = [answer(503, 'ServiceUnavailable'), answer(400, 'RequestThrottled')];
    const sink = open({ retry: { attempts: 3, baseDelayMs: 1 } }, () =>
      seen.at(-1)!.headers.get('x-amz-target') === 'AmazonSQS.SendMessageBatch' ? answers.shift() : undefined,
    );
    const batches = () =>
      seen.filter(({ headers }) => headers.get('x-amz-target') === 'AmazonSQS.SendMessageBatch').length;
    expect(await sink.publish(url!, EncodedEvents.of([testEvent('third-time')]))).toEqual({ failed: [] });
    expect(batches()).toBe(3);
    expect((await drainQueue(client, url!)).map((message) => idAndBody(message).id)).toEqual(['third-time']);

    // Three outages in a row: its events fail, retryably, for the pipeline to send again later.
    answers.push(answer(500, 'InternalError'), answer(500, 'InternalError'), answer(500, 'InternalError'));
    expect(await sink.publish(url!, EncodedEvents.of([testEvent('later')]))).toEqual({
      failed: [{ index: 0, message: expect.stringContaining('HTTP 500 InternalError'), retryable: true }],
    });
    expect(batches()).toBe(6);
    // A refusal is not sent again.
    answers.push(answer(403, 'AccessDenied'));
    await expect(sink.publish(url!, EncodedEvents.of([testEvent('denied')]))).rejects.toMatchObject({
      code: 'PUBLISH_REFUSED',
    });
    expect(batches()).toBe(7);
  });

  it('rejects the whole publish when a queue does not exist, naming it', async () => {
    await expect(open().publish('no-such-queue', EncodedEvents.of([testEvent('a')]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('SQS queue "no-such-queue" does not exist'),
    });
  });

  it('sends to a FIFO queue grouped by dataset, with the event id or its hash as deduplication id', async () => {
    const [url] = (await createQueues(client, ['events.fifo'])).values();
    const long = `x${'y'.repeat(200)}`;
    const events = [testEvent('plain'), { ...testEvent(long), attributes: { dataset: 'invoices' } }];
    await open().publish('events.fifo', EncodedEvents.of(events));
    // A retry is dropped by the queue.
    await open().publish('events.fifo', EncodedEvents.of(events));
    const received = await drainQueue(client, url!);
    expect(received.map((message) => message.Attributes?.MessageGroupId)).toEqual(['orders', 'invoices']);
    expect(received.map((message) => message.Attributes?.MessageDeduplicationId)).toEqual([
      'plain',
      createHash('sha256').update(long).digest('hex'),
    ]);
  });
});
