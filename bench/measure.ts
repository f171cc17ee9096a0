/**
 * One measurement in a process of its own, so peak RSS belongs to that mode alone:
 *   node dist/bench/measure.js raw-papaparse <file>     papaparse chunk mode over UTF-8 decoded text, rows as arrays
 *   node dist/bench/measure.js raw-papaparse-header <file>  the same with `header: true`, rows as objects
 *   node dist/bench/measure.js pipeline <file>          Dropgate's whole CSV path into the local NDJSON sink
 *   node dist/bench/measure.js parquet-bare <file>      hyparquet reading every row group as row objects
 *   node dist/bench/measure.js parquet-pipeline <file>  Dropgate's whole Parquet path into the local sink
 *   node dist/bench/measure.js flat-pipeline <file>     the same for the flat file (generate-flat-parquet.ts)
 *   node dist/bench/measure.js pubsub-pipeline <file>   Dropgate's whole CSV path into Pub/Sub (the emulator
 *                                                       at PUBSUB_EMULATOR_HOST, project BENCH_PUBSUB_PROJECT)
 *   node dist/bench/measure.js local-events <file>      the CSV path into the local sink, its NDJSON kept in
 *                                                       <file>.events/ (what pubsub-raw publishes; not timed)
 *   node dist/bench/measure.js pubsub-raw <file>        <file>.events/ published to Pub/Sub with the bare
 *                                                       client, 1,000 messages a request: the emulator's own rate
 *   node dist/bench/measure.js sqs-pipeline <file>      Dropgate's CSV path into the SQS sink (AWS_ENDPOINT_URL_SQS)
 *   node dist/bench/measure.js sqs-baseline <file>      the same file's row events, captured first, then timed
 *                                                       as bare SendMessageBatch requests (10 entries, 8 at once)
 *   node dist/bench/measure.js sqs-packed-pipeline <file>  sqs-pipeline with the row queue packed,
 *   node dist/bench/measure.js sqs-packed-baseline <file>  sqs-baseline of those packed requests: both
 *                                                       BENCH_SQS_ROWS_PER_MESSAGE (default 100) rows a message
 * Prints one JSON line: { mode, rows, seconds, peakRssMb }; the pipeline modes into SQS add startSeconds,
 * the time to the sink's first publish (the pipeline's fixed start: threads, schema, ledger).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Papa from 'papaparse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ordersParquetSchema } from './generate-orders-parquet.js';
import { flatParquetSchema } from './generate-flat-parquet.js';
import { readEveryRowGroup } from './hyparquet-rows.js';
import {
  CreateQueueCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { createLocalEventSink } from '../adapters/event-sink/local/local-event-sink.js';
import {
  createPubSubEventSink,
  publisherClientOptions,
} from '../adapters/event-sink/pubsub/pubsub-event-sink.js';
import { v1 } from '@google-cloud/pubsub';
import { createSqsEventSink } from '../adapters/event-sink/sqs/sqs-event-sink.js';
import type { EventSink } from '../adapters/ports.js';
import { createLocalLedger } from '../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../adapters/object-store/local/local-object-store.js';
import { createAjvValidatorFactory } from '../schemas/row-validator.js';
import { defaultCsvOptions, type RowSchema } from '../schemas/dataset.js';
import { ingestFile } from '../workers/ingest-file.js';
import { InMemorySpanExporter, BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { fileObserver, withSpan } from '../app/ingest-tracing.js';
import { meteredSink } from '../app/metered-sink.js';
import { createPrometheusMetrics } from '../app/node/prometheus-metrics.js';
import { readFile } from 'node:fs/promises';
import { packageRoot } from '../app/node/load-config.js';
import { createCsvThreadPool, createParquetThreadPool } from '../app/node/ingest-threads.js';

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);

async function rawPapaparse(file: string, header: boolean): Promise<number> {
  let rows = 0;
  await new Promise<void>((resolve, reject) => {
    Papa.parse(createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 }) as unknown as File, {
      header,
      chunk: (results: Papa.ParseResult<unknown>) => {
        rows += results.data.length;
      },
      complete: () => resolve(),
      error: reject,
    });
  });
  return header ? rows : rows - 1;
}

async function parquetBare(file: string): Promise<number> {
  return readEveryRowGroup(await asyncBufferFromFile(file));
}

/** The retained size (heap and buffers, after GC) of the largest row group decoded as row objects. */
async function largestRowGroupDecodedMb(file: string): Promise<number | undefined> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) return undefined;
  const buffer = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buffer);
  const groups = metadata.row_groups.map((group) => Number(group.num_rows));
  const largest = groups.indexOf(Math.max(...groups));
  const rowStart = groups.slice(0, largest).reduce((sum, count) => sum + count, 0);
  const usage = () => {
    collect();
    const { heapUsed, external } = process.memoryUsage();
    return heapUsed + external;
  };
  const before = usage();
  const held = await parquetReadObjects({
    file: buffer,
    metadata,
    rowStart,
    rowEnd: rowStart + groups[largest]!,
    compressors,
  });
  const size = usage() - before;
  return held.length >= 0 ? size / 2 ** 20 : undefined;
}

const pubsubProject = process.env.BENCH_PUBSUB_PROJECT ?? 'dropgate-bench';
/** Where `local-events` keeps the NDJSON that `pubsub-raw` publishes. */
const eventsDirectory = (file: string) => `${file}.events`;

const sqsRowsPerMessage = Number(process.env.BENCH_SQS_ROWS_PER_MESSAGE ?? 100);
/**
 * The SQS sink as the gateway makes it, the row queue and its dead-letter queue packed `rows` to a message
 * when above 1 (unpacked, the file's 4% of dead letters would be most of its requests).
 */
const sqsSink = (rows: number, client?: SQSClient) =>
  createSqsEventSink({
    ...(rows > 1
      ? {
          rowsPerMessage: new Map([
            ['orders', rows],
            ['orders-dead-letter', rows],
          ]),
        }
      : {}),
    ...(client ? { client } : {}),
  });

/** Creates the queues named in the stand-in (untimed, as a deployment has them) and returns their URLs. */
async function sqsQueues(client: SQSClient, names: string[]): Promise<string[]> {
  return Promise.all(
    names.map(async (name) => (await client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!),
  );
}

/** The time from `started` to the sink's first publish, once it has published. */
let firstPublishAt: number | undefined;
function timingFirstPublish(sink: EventSink): EventSink {
  return {
    capabilities: sink.capabilities,
    publish(topic, events) {
      firstPublishAt ??= performance.now();
      return sink.publish(topic, events);
    },
    close: () => sink.close(),
  };
}

/**
 * The stand-in's own rate for the pipeline's row messages: an untimed pass records every SendMessageBatch
 * request the SQS sink makes for the file's row queue (entries, bodies, attributes; packed `rowsPerMessage`
 * rows to a message when above 1), then the same requests are sent again with a bare client, 8 at once as
 * the sink runs them, and only that is timed. Returns the rows those requests carry.
 */
async function sqsBaseline(file: string, rowsPerMessage: number): Promise<{ rows: number; seconds: number }> {
  const recorded: SendMessageBatchRequestEntry[][] = [];
  const recorder = new SQSClient({ useQueueUrlAsEndpoint: false });
  recorder.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Entries?: SendMessageBatchRequestEntry[]; QueueUrl?: string };
      if (context.commandName === 'SendMessageBatchCommand' && input.QueueUrl?.endsWith('/orders')) {
        recorded.push(input.Entries!);
      }
      return next(args);
    },
    { step: 'initialize' },
  );
  await pipeline(file, 'csv', undefined, { eventSink: sqsSink(rowsPerMessage, recorder) });
  recorder.destroy();
  const client = new SQSClient({ useQueueUrlAsEndpoint: false });
  const [url] = await sqsQueues(client, ['orders-baseline']);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < recorded.length) {
        const entries = recorded[next++]!;
        const { Failed = [] } = await client.send(
          new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }),
        );
        if (Failed.length > 0)
          throw new Error(`the stand-in refused ${Failed.length} messages: ${Failed[0]!.Message}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  // Rows, not messages: a packed message's body is the JSON array of its rows' events.
  const rowsOf = (entry: SendMessageBatchRequestEntry) =>
    rowsPerMessage > 1 ? (JSON.parse(entry.MessageBody!) as unknown[]).length : 1;
  return { rows: recorded.flat().reduce((sum, entry) => sum + rowsOf(entry), 0), seconds };
}

async function pipeline(
  file: string,
  format: 'csv' | 'parquet',
  parquetSchema?: object,
  options: {
    sink?: 'local' | 'pubsub';
    keepEventsIn?: string;
    eventSink?: EventSink;
    observed?: boolean;
  } = {},
): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'dropgate-bench-'));
  try {
    const store = await createLocalObjectStore({
      directory: dirname(file),
      temporaryDirectory: join(work, 'tmp'),
      bucket: 'bench',
      baseUrl: 'http://localhost',
      signingSecret: 'bench-secret-bench-secret-bench-secret',
    });
    const sink: EventSink =
      options.eventSink ??
      (options.sink === 'pubsub'
        ? createPubSubEventSink({
            projectId: pubsubProject,
            mode: process.env.BENCH_PUBSUB_MODE === 'binary' ? 'binary' : 'structured',
          })
        : await createLocalEventSink({ directory: options.keepEventsIn ?? join(work, 'events') }));
    const ledger = await createLocalLedger({ directory: join(work, 'ledger') });
    const schema = (
      format === 'csv'
        ? JSON.parse(await readFile(join(packageRoot, 'schemas/orders/v1.json'), 'utf8'))
        : (parquetSchema ?? ordersParquetSchema)
    ) as RowSchema;
    const dataset = {
      name: 'orders',
      match: '**',
      format,
      schema,
      schemaVersion: 1,
      eventType: 'OrderReceived',
      topic: 'orders',
      deadLetterTopic: options.eventSink ? 'orders-dead-letter' : 'orders.dead-letter',
      csv: defaultCsvOptions,
      validate: createAjvValidatorFactory()(schema, 'orders/v1'),
    };
    // The pools' own thread counts unless BENCH_THREADS says; 0 measures the single-threaded path (what
    // Workers run).
    const threads = process.env.BENCH_THREADS === undefined ? undefined : Number(process.env.BENCH_THREADS);
    const pooled = threads !== 0;
    const segmentPool = pooled && format === 'csv' ? createCsvThreadPool(threads) : undefined;
    const rowGroupPool = pooled && format === 'parquet' ? createParquetThreadPool(threads) : undefined;
    const segmentBytes = process.env.BENCH_SEGMENT_KB
      ? Number(process.env.BENCH_SEGMENT_KB) << 10
      : undefined;
    // Metrics and tracing as the gateway has them on: prom-client, and the real SDK into memory.
    const metrics = options.observed ? createPrometheusMetrics() : undefined;
    if (options.observed) {
      const spans = new InMemorySpanExporter();
      new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] }).register();
    }
    const ingest = (observer?: Parameters<typeof fileObserver>[2]) =>
      observer
        ? withSpan('dropgate.ingest', {}, undefined, (span, context) =>
            run(fileObserver(span, context, observer)),
          )
        : run();
    const run = (observer?: ReturnType<typeof fileObserver>) =>
      ingestFile(
        {
          store,
          sink: metrics ? meteredSink(sink, metrics) : sink,
          ledger,
          controlTopic: 'files',
          owner: 'bench',
          ...(segmentPool ? { segmentPool } : {}),
          ...(rowGroupPool ? { rowGroupPool } : {}),
          ...(segmentBytes ? { segmentBytes } : {}),
        },
        { dataset, key: basename(file), mode: 'notification', ...(observer ? { observer } : {}) },
      );
    const result = await ingest(
      metrics
        ? {
            claimed: (object) =>
              metrics.ingestLag('orders', (Date.now() - Date.parse(object.updated)) / 1000),
            retried: (topic) => metrics.publishRetried(topic),
          }
        : undefined,
    );
    await Promise.all([segmentPool?.close(), rowGroupPool?.close()]);
    await sink.close();
    if (result.status !== 'ingested') throw new Error(`bench ingestion ended ${result.status}`);
    if (format === 'parquet' && result.summary.rowsRejected > 0) {
      throw new Error(`bench rows were rejected: ${JSON.stringify(result.summary.firstErrors)}`);
    }
    return result.summary.rowsRead;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The events `local-events` kept, published as the sink would send them in structured mode (the same
 * bytes and attributes) with the bare client: requests of 1,000 messages, BENCH_PUBSUB_IN_FLIGHT (default
 * 4) at once. Returns the messages published.
 */
async function pubsubRaw(file: string): Promise<number> {
  const client = new v1.PublisherClient(publisherClientOptions(pubsubProject));
  const inFlight = Number(process.env.BENCH_PUBSUB_IN_FLIGHT ?? 4);
  const attributes = (type: string) => ({
    type,
    dataset: 'orders',
    schemaversion: '1',
    'content-type': 'application/cloudevents+json',
  });
  let published = 0;
  for (const [topic, type] of [
    ['orders', 'OrderReceived'],
    ['orders.dead-letter', 'RowRejected'],
  ] as const) {
    const requests = ndjsonRequests(join(eventsDirectory(file), `${topic}.ndjson`), attributes(type));
    const path = `projects/${pubsubProject}/topics/${topic}`;
    const run = async () => {
      for (;;) {
        const next = await requests.next();
        if (next.done) return;
        await client.publish(
          { topic: path, messages: next.value },
          { timeout: 60_000, retry: null, isBundling: false },
        );
        published += next.value.length;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, run));
  }
  await client.close();
  return published;
}

/** An NDJSON file's lines as messages of 1,000 a request, read a chunk at a time (views, no copies). */
async function* ndjsonRequests(
  path: string,
  attributes: Record<string, string>,
): AsyncGenerator<Array<{ data: Uint8Array; attributes: Record<string, string> }>> {
  let messages: Array<{ data: Uint8Array; attributes: Record<string, string> }> = [];
  let rest: Uint8Array = new Uint8Array(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const bytes = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let newline = bytes.indexOf(10); newline !== -1; newline = bytes.indexOf(10, start)) {
      messages.push({ data: bytes.subarray(start, newline), attributes });
      start = newline + 1;
      if (messages.length === 1000) {
        yield messages;
        messages = [];
      }
    }
    rest = bytes.subarray(start);
  }
  if (messages.length > 0) yield messages;
}

const modes: Record<string, (file: string) => Promise<number>> = {
  'raw-papaparse': (file) => rawPapaparse(file, false),
  'raw-papaparse-header': (file) => rawPapaparse(file, true),
  pipeline: (file) => pipeline(file, 'csv'),
  'observed-pipeline': (file) => pipeline(file, 'csv', undefined, { observed: true }),
  'parquet-bare': parquetBare,
  'parquet-pipeline': (file) => pipeline(file, 'parquet'),
  'flat-pipeline': (file) => pipeline(file, 'parquet', flatParquetSchema),
  'pubsub-pipeline': (file) => pipeline(file, 'csv', undefined, { sink: 'pubsub' }),
  'local-events': (file) => pipeline(file, 'csv', undefined, { keepEventsIn: eventsDirectory(file) }),
  'pubsub-raw': pubsubRaw,
  'sqs-pipeline': (file) => pipeline(file, 'csv', undefined, { eventSink: timingFirstPublish(sqsSink(1)) }),
  'sqs-packed-pipeline': (file) =>
    pipeline(file, 'csv', undefined, { eventSink: timingFirstPublish(sqsSink(sqsRowsPerMessage)) }),
};
/** Modes that time only part of their work themselves. */
const selfTimed: Record<string, (file: string) => Promise<{ rows: number; seconds: number }>> = {
  'sqs-baseline': (file) => sqsBaseline(file, 1),
  'sqs-packed-baseline': (file) => sqsBaseline(file, sqsRowsPerMessage),
};

const [mode, file] = process.argv.slice(2);
if (!file || mode === undefined || !(modes[mode] ?? selfTimed[mode])) {
  console.error(`usage: measure.js ${[...Object.keys(modes), ...Object.keys(selfTimed)].join('|')} <file>`);
  process.exit(64);
}
await stat(file);
if (mode.startsWith('sqs-')) {
  const admin = new SQSClient({ useQueueUrlAsEndpoint: false });
  await sqsQueues(admin, ['orders', 'orders-dead-letter', 'files']);
  admin.destroy();
}
const started = performance.now();
let rows: number;
let seconds: number;
if (selfTimed[mode]) {
  ({ rows, seconds } = await selfTimed[mode](file));
} else {
  rows = await modes[mode]!(file);
  seconds = (performance.now() - started) / 1000;
}
const startSeconds = firstPublishAt === undefined ? undefined : (firstPublishAt - started) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
const largestRowGroupMb = mode === 'parquet-bare' ? await largestRowGroupDecodedMb(file) : undefined;
console.log(
  JSON.stringify({ mode, rows, seconds, peakRssMb: peakRss / 2 ** 20, largestRowGroupMb, startSeconds }),
);
