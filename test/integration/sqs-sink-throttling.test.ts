/**
 * The `sqs` sink while SQS throttles part-way through a file: a proxy in front of fauxqs (which never
 * throttles) answers some SendMessageBatch requests with SQS's `RequestThrottled`, AWS's
 * `ThrottlingException`, an HTTP 429 `TooManyRequestsException` or a 503, and
 * loses the answer of a few it passed on. The sink reaches it through AWS_ENDPOINT_URL_SQS, as an operator
 * points it anywhere, with the client it builds itself (adaptive retries). The file ends `ingested`, every
 * event is on its queue, and the only events there twice are those whose answer was lost, with the same id
 * and body both times.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsEventSink } from '../../adapters/event-sink/sqs/sqs-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { startFauxqs, useTestCredentials, type StandIn } from '../support/aws-stand-ins.js';
import type { CloudEvent, DeadLetterData, FileSummaryData } from '../support/cloud-events.js';
import { testDataset } from '../support/datasets.js';
import { startFaultingProxy, type FaultingProxy, type ProxyAnswer } from '../support/faulting-proxy.js';
import { ordersFile } from './support/orders-csv.js';

const QUEUES = { topic: 'orders', deadLetterTopic: 'orders-dead-letter', controlTopic: 'dropgate-files' };
const ROWS = 500;
const BAD_EVERY = 50;
/** Rows whose request is throttled as often as the SDK tries by itself (3 times): the pipeline sends them again. */
const STUBBORN = { 151: 'RequestThrottled', 301: 'TooManyRequestsException' } as const;
const STUBBORN_THROTTLES = 3;

const json = (status: number, type: string, message: string): ProxyAnswer => ({
  status,
  headers: {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-query-error': `${type.split('#').at(-1)};Sender`,
  },
  body: JSON.stringify({ __type: type, message }),
});
const ANSWERS = {
  RequestThrottled: json(400, 'com.amazonaws.sqs#RequestThrottled', 'Request is throttled.'),
  ThrottlingException: json(400, 'com.amazon.coral.availability#ThrottlingException', 'Rate exceeded'),
  TooManyRequestsException: json(
    429,
    'com.amazon.coral.availability#TooManyRequestsException',
    'Too many requests',
  ),
  503: { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' },
} satisfies Record<string, ProxyAnswer>;
type Kind = keyof typeof ANSWERS;

let fauxqs: StandIn;
let proxy: FaultingProxy;
let sqs: SQSClient;
const queueUrls = new Map<string, string>();
const saved = process.env.AWS_ENDPOINT_URL_SQS;

/** What the proxy did to the orders queue's SendMessageBatch requests. */
const faults = {
  requests: 0,
  answered: { RequestThrottled: 0, ThrottlingException: 0, TooManyRequestsException: 0, 503: 0 } as Record<
    Kind,
    number
  >,
  /** Times each stubborn row's entry was sent. */
  stubbornSends: new Map<number, number>(),
  lostRequests: 0,
  /** Ids of the entries whose requests reached fauxqs but whose answers were lost. */
  lostIds: new Set<string>(),
};

interface BatchRequest {
  QueueUrl: string;
  Entries: Array<{ MessageAttributes?: Record<string, { StringValue?: string }> }>;
}

/** One of each kind, mid-file, in this order. */
const SPRINKLED: Kind[] = ['ThrottlingException', 503, 'TooManyRequestsException', 'RequestThrottled'];
const sprinkled = [...SPRINKLED];

const rowOf = (id: string) => Number(/-(\d+)$/.exec(id)?.[1]);

function decide(request: { headers: Record<string, unknown>; body: Buffer }) {
  if (request.headers['x-amz-target'] !== 'AmazonSQS.SendMessageBatch') return undefined;
  const batch = JSON.parse(request.body.toString('utf8')) as BatchRequest;
  if (!batch.QueueUrl.endsWith(`/${QUEUES.topic}`)) return undefined;
  const number = ++faults.requests;
  const ids = batch.Entries.map((entry) => entry.MessageAttributes?.['ce-id']?.StringValue ?? '');
  const throttle = (kind: Kind) => {
    faults.answered[kind]++;
    return { answer: ANSWERS[kind] };
  };
  for (const [row, kind] of Object.entries(STUBBORN)) {
    if (!ids.some((id) => rowOf(id) === Number(row))) continue;
    const sends = (faults.stubbornSends.get(Number(row)) ?? 0) + 1;
    faults.stubbornSends.set(Number(row), sends);
    if (sends <= STUBBORN_THROTTLES) return throttle(kind);
  }
  // Mid-file, one of each kind. Few: after a throttle the SDK's adaptive mode holds its client to a few
  // requests a second (about 6 here, from about 30) for the rest of the file.
  // The first request from the 20th, 23rd, 26th and 29th on that is not a stubborn row's: requests run
  // several at once, so a given number may be one of those.
  const next = SPRINKLED.length - sprinkled.length;
  if (sprinkled.length > 0 && number >= 20 + 3 * next) return throttle(sprinkled.shift()!);
  // Two answers lost, each of a request sent for the first time: its events go out twice, not thrice.
  if ((number >= 32 && faults.lostRequests === 0) || (number >= 40 && faults.lostRequests === 1)) {
    if (ids.some((id) => faults.lostIds.has(id))) return undefined;
    faults.lostRequests++;
    for (const id of ids) faults.lostIds.add(id);
    return { loseAnswer: ANSWERS[503] };
  }
  return undefined;
}

beforeAll(async () => {
  useTestCredentials();
  fauxqs = await startFauxqs();
  proxy = await startFaultingProxy(fauxqs.endpoint, decide);
  sqs = new SQSClient({ endpoint: fauxqs.endpoint, useQueueUrlAsEndpoint: false });
  for (const name of Object.values(QUEUES)) {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    queueUrls.set(name, QueueUrl!);
  }
  // The sink's own client finds SQS where an operator would point it: at the proxy.
  process.env.AWS_ENDPOINT_URL_SQS = proxy.endpoint;
});

afterAll(async () => {
  if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SQS;
  else process.env.AWS_ENDPOINT_URL_SQS = saved;
  sqs?.destroy();
  await Promise.all([proxy?.stop(), fauxqs?.stop()]);
});

/** Every message on the queue, each received once (hidden for the rest of the test), by several receivers. */
async function drain(queue: string): Promise<Message[]> {
  const messages: Message[] = [];
  const receive = async () => {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrls.get(queue)!,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 600,
          MessageAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) return;
      messages.push(...Messages);
    }
  };
  await Promise.all(Array.from({ length: 4 }, receive));
  return messages;
}

describe('the sqs sink throttled mid-file', () => {
  it('backs off and sends again until every event is on its queue, none twice but those whose answer was lost', async () => {
    const { csv, goodRows, badRows } = ordersFile(ROWS, BAD_EVERY);
    const store = createMemoryObjectStore({ bucket: 'uploads' });
    const object = store.put('vendors/acme/orders/2024-05-01/throttled.csv', csv);
    const ledger = createMemoryLedger();
    const sink = createSqsEventSink();
    const gateway = createGateway({
      store,
      sink,
      ledger,
      datasets: [
        testDataset({
          name: 'orders',
          topic: QUEUES.topic,
          deadLetterTopic: QUEUES.deadLetterTopic,
        }),
      ],
      controlTopic: QUEUES.controlTopic,
      owner: 'throttling-test',
      uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
      logger: silentLogger,
      ingest: { retry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 500 } },
    });
    const ref = { bucket: object.bucket, key: object.key, version: object.version };
    try {
      const [outcome] = await gateway.accept(
        { landings: [{ ...ref, kind: 'finalized', via: 'throttling-test' }] },
        'inline',
      );
      expect(outcome?.status, JSON.stringify(outcome)).toBe('ingested');
    } finally {
      gateway.stop();
      await sink.close();
    }

    expect(await ledger.get(ref)).toMatchObject({
      state: 'ingested',
      outcome: { rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
    // Every kind of refusal came, mid-file, and the stubborn rows outlasted the SDK's own three attempts.
    for (const kind of Object.keys(ANSWERS) as Kind[])
      expect(faults.answered[kind], String(kind)).toBeGreaterThan(0);
    for (const row of Object.keys(STUBBORN)) {
      expect(faults.stubbornSends.get(Number(row))).toBe(STUBBORN_THROTTLES + 1);
    }
    expect(faults.lostIds.size).toBe(20);

    const events = (await drain(QUEUES.topic)).map((message) => ({
      id: message.MessageAttributes!['ce-id']!.StringValue!,
      body: message.Body!,
    }));
    const byId = new Map<string, string[]>();
    for (const event of events) byId.set(event.id, [...(byId.get(event.id) ?? []), event.body]);
    expect([...byId.keys()].map(rowOf).sort((left, right) => left - right)).toEqual(goodRows);
    for (const [id, bodies] of byId) {
      expect(bodies.length, id).toBe(faults.lostIds.has(id) ? 2 : 1);
      expect(new Set(bodies).size, id).toBe(1);
      const event = JSON.parse(bodies[0]!) as CloudEvent;
      expect(event.id).toBe(id);
      expect(event.data.order_id).toBe(`ORD-${rowOf(id)}`);
    }

    const dead = (await drain(QUEUES.deadLetterTopic)).map(
      (message) => (JSON.parse(message.Body!) as CloudEvent<DeadLetterData>).data.row,
    );
    expect(dead.sort((left, right) => left - right)).toEqual(badRows);
    const summaries = (await drain(QUEUES.controlTopic)).map(
      (message) => JSON.parse(message.Body!) as CloudEvent<FileSummaryData>,
    );
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      type: 'FileIngested',
      data: { rowsRead: ROWS, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
  });
});
