/**
 * One measurement in a process of its own, so peak RSS belongs to that mode alone:
 *   node dist/bench/measure.js raw-papaparse <file>     papaparse chunk mode over UTF-8 decoded text, rows as arrays
 *   node dist/bench/measure.js raw-papaparse-header <file>  the same with `header: true`, rows as objects
 *   node dist/bench/measure.js pipeline <file>          Dropgate's whole CSV path into the local NDJSON sink
 *   node dist/bench/measure.js parquet-bare <file>      hyparquet reading every row group as row objects
 *   node dist/bench/measure.js parquet-pipeline <file>  Dropgate's whole Parquet path into the local sink
 *   node dist/bench/measure.js flat-pipeline <file>     the same for the flat file (generate-flat-parquet.ts)
 *   node dist/bench/measure.js pubsub-pipeline <file>   Dropgate's whole CSV path into Pub/Sub (the emulator
 *                                                       at PUBSUB_EMULATOR_HOST, project BENCH_PUBSUB_PROJECT),
 *                                                       timed after an untimed warm-up on the file's head
 *   node dist/bench/measure.js pubsub-record <file>     the same, untimed, recording every Publish request it
 *                                                       makes to <file>.pubsub-requests (what pubsub-raw sends)
 *   node dist/bench/measure.js pubsub-raw <file>        the recorded requests sent again with the bare client,
 *                                                       BENCH_PUBSUB_IN_FLIGHT (default 8) at once, timed after
 *                                                       an untimed warm-up request: the emulator's own rate
 *   node dist/bench/measure.js pubsub-raw-own <file>    the same requests sent by the sink's own sender
 *   pubsub-pipeline-packed, pubsub-record-packed, pubsub-raw-packed, pubsub-raw-own-packed: the same with the orders topic's events
 *                                                       packed BENCH_PUBSUB_ROWS_PER_MESSAGE (default 100) a message
 *   node dist/bench/measure.js sqs-pipeline <file>      Dropgate's CSV path into the SQS sink (AWS_ENDPOINT_URL_SQS)
 *   node dist/bench/measure.js sqs-baseline <file>      the same file's row events, captured first, then timed
 *                                                       as bare SendMessageBatch requests (10 entries, 8 at once)
 *                                                       sent by the bare SDK client
 *   node dist/bench/measure.js sqs-baseline-own <file>  the same requests sent by the sink's own sender
 *   node dist/bench/measure.js sqs-packed-pipeline <file>  sqs-pipeline with the row queue packed,
 *   node dist/bench/measure.js sqs-packed-baseline <file>  sqs-baseline of those packed requests: both
 *                                                       BENCH_SQS_ROWS_PER_MESSAGE (default 100) rows a message
 *                                                       (and sqs-packed-baseline-own)
 * Prints one JSON line: { mode, rows, seconds, cpuSeconds, peakRssMb } (cpuSeconds: the process's CPU time,
 * every thread, over the timed part; standInCpuSeconds the stand-in's, BENCH_STAND_IN_PID, over the same
 * span); the pipeline modes into SQS add startSeconds, the time from the
 * timed part's start to the sink's first publish (after the warm-up: the file's first blocks). The
 * pipeline modes into Pub/Sub and SQS ingest the file's head first, untimed (threads started, code
 * compiled, the stand-in's connections open), as the baselines send only after a recording pass.
 */
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { deserialize, serialize } from 'node:v8';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Papa from 'papaparse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ordersParquetSchema } from './generate-orders-parquet.js';
import { flatParquetSchema } from './generate-flat-parquet.js';
import { readEveryRowGroup } from './hyparquet-rows.js';
import { processCpuSeconds, sendAll } from './bench-support.js';
// The cloud SDKs and OpenTelemetry's SDK are imported by the modes that use them: loaded, they would hold
// 40-85 MB of resident memory that the CSV and Parquet lines would count as Dropgate's.
import type { SQSClient, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { SqsBatchEntry } from '../adapters/event-sink/sqs/sqs-sink.js';
import { createLocalEventSink } from '../adapters/event-sink/local/local-event-sink.js';
import type { PublisherClientLike } from '../adapters/event-sink/pubsub/pubsub-event-sink.js';
import type { EventSink } from '../adapters/ports.js';
import { createLocalLedger } from '../adapters/ledger/local/local-ledger.js';
import { createLocalObjectStore } from '../adapters/object-store/local/local-object-store.js';
import { createAjvValidatorFactory } from '../schemas/row-validator.js';
import { defaultCsvOptions, type RowSchema } from '../schemas/dataset.js';
import { ingestFile } from '../workers/ingest-file.js';
import { fileObserver, withSpan } from '../app/ingest-tracing.js';
import { meteredSink } from '../app/metered-sink.js';
import { createPrometheusMetrics } from '../app/node/prometheus-metrics.js';
import { readFile } from 'node:fs/promises';
import { packageRoot } from '../app/node/load-config.js';
import { createCsvThreadPool, createParquetThreadPool } from '../app/node/ingest-threads.js';

let peakRss = 0;

interface Timed {
  rows: number;
  seconds: number;
  /** The process's CPU time (user and system, every thread) over the same span. */
  cpuSeconds: number;
  /** The stand-in's CPU time over the same span, when BENCH_STAND_IN_PID names its process. */
  standInCpuSeconds?: number;
}

const standInPid = process.env.BENCH_STAND_IN_PID ? Number(process.env.BENCH_STAND_IN_PID) : undefined;

/**
 * Times `work`, which resolves to the rows it handled: wall time and the process's CPU time, and the
 * stand-in's (BENCH_STAND_IN_PID) over the same span.
 */
async function timed(work: () => Promise<number>): Promise<Timed> {
  const standInBefore = standInPid === undefined ? 0 : processCpuSeconds(standInPid);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const rows = await work();
  const { user, system } = process.cpuUsage(cpu);
  return {
    rows,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (user + system) / 1e6,
    ...(standInPid === undefined ? {} : { standInCpuSeconds: processCpuSeconds(standInPid) - standInBefore }),
  };
}

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
/** Events of the orders topic a message in the packed modes. */
const rowsPerMessage = Number(process.env.BENCH_PUBSUB_ROWS_PER_MESSAGE ?? 100);
/** Where `pubsub-record` keeps the requests that `pubsub-raw` sends again. */
const recordingPath = (file: string, packed: boolean) => `${file}.pubsub-requests${packed ? '-packed' : ''}`;

type PublishRequest = Parameters<PublisherClientLike['publish']>[0];

interface Recording {
  /** The rows of the file the requests carry. */
  rows: number;
  requests: PublishRequest[];
}

const sqsRowsPerMessage = Number(process.env.BENCH_SQS_ROWS_PER_MESSAGE ?? 100);
/**
 * The SQS sink as the gateway makes it, the row queue and its dead-letter queue packed `rows` to a message
 * when above 1 (unpacked, the file's 4% of dead letters would be most of its requests).
 */
async function sqsSink(rows: number, client?: SQSClient): Promise<EventSink> {
  const { createSqsEventSink } = await import('../adapters/event-sink/sqs/sqs-event-sink.js');
  return createSqsEventSink({
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
}

/** Creates the queues named in the stand-in (untimed, as a deployment has them) and returns their URLs. */
async function sqsQueues(client: SQSClient, names: string[]): Promise<string[]> {
  const { CreateQueueCommand } = await import('@aws-sdk/client-sqs');
  return Promise.all(
    names.map(async (name) => (await client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!),
  );
}

/** When the timed part started, and the sink's first publish after that. */
let timedFrom: number | undefined;
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
 * rows to a message when above 1), then the same requests are sent again, 8 at once as the sink runs
 * them, and only that is timed: with `sender` `sdk` by a bare SDK client (`client.send`), with `dropgate`
 * by the sink's own sender (sqsApiOf: the same JSON-protocol calls, no pipeline). Returns the rows those
 * requests carry.
 */
async function sqsBaseline(file: string, rowsPerMessage: number, sender: 'sdk' | 'dropgate'): Promise<Timed> {
  const { PurgeQueueCommand, SendMessageBatchCommand, SQSClient } = await import('@aws-sdk/client-sqs');
  const { sqsApiOf } = await import('../adapters/event-sink/sqs/sqs-event-sink.js');
  const { watchedSqsClient } = await import('../test/support/aws-stand-ins.js');
  const recorded: SendMessageBatchRequestEntry[][] = [];
  const recorder = watchedSqsClient(async (action, input, send) => {
    const request = input as { Entries?: SendMessageBatchRequestEntry[]; QueueUrl?: string };
    if (action === 'SendMessageBatch' && request.QueueUrl?.endsWith('/orders'))
      recorded.push(request.Entries!);
    return send();
  });
  await pipeline(file, 'csv', undefined, { eventSink: await sqsSink(rowsPerMessage, recorder) });
  recorder.destroy();
  const client = new SQSClient({ useQueueUrlAsEndpoint: false });
  // The recording pass's messages are let go of first: the stand-in then holds no more than it does when
  // the pipeline is timed (fauxqs keeps messages in its heap).
  for (const recordedUrl of await sqsQueues(client, ['orders', 'orders-dead-letter', 'files']))
    await client.send(new PurgeQueueCommand({ QueueUrl: recordedUrl }));
  const [url] = await sqsQueues(client, ['orders-baseline']);
  const api = sqsApiOf({ client });
  const send = async (entries: SendMessageBatchRequestEntry[]) =>
    sender === 'sdk'
      ? ((await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))).Failed ?? [])
      : ((await api.sendMessageBatch({ QueueUrl: url!, Entries: entries as SqsBatchEntry[] })).Failed ?? []);
  const result = await timed(async () => {
    await sendAll(recorded, 8, async (entries) => {
      const failed = await send(entries);
      if (failed.length > 0)
        throw new Error(`the stand-in refused ${failed.length} messages: ${failed[0]!.Message}`);
    });
    return recorded.reduce((sum, entries) => sum + entries.length, 0);
  });
  client.destroy();
  // Rows, not messages: a packed message's body is the JSON array of its rows' events.
  const rowsOf = (entry: SendMessageBatchRequestEntry) =>
    rowsPerMessage > 1 ? (JSON.parse(entry.MessageBody!) as unknown[]).length : 1;
  return { ...result, rows: recorded.flat().reduce((sum, entry) => sum + rowsOf(entry), 0) };
}

async function pipeline(
  file: string,
  format: 'csv' | 'parquet',
  parquetSchema?: object,
  options: {
    sink?: 'local' | 'pubsub';
    eventSink?: EventSink;
    observed?: boolean;
    /** Ingests the file's head first, untimed: threads started, code compiled, connections open. */
    warmUp?: boolean;
    /** The Pub/Sub sink's client (default its own) and its orders events a message (default 1). */
    pubsub?: { client?: PublisherClientLike; rowsPerMessage?: number };
  } = {},
): Promise<Timed> {
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
        ? (await import('../adapters/event-sink/pubsub/pubsub-event-sink.js')).createPubSubEventSink({
            projectId: pubsubProject,
            mode: process.env.BENCH_PUBSUB_MODE === 'binary' ? 'binary' : 'structured',
            ...(options.pubsub?.client ? { client: options.pubsub.client } : {}),
            ...(options.pubsub?.rowsPerMessage
              ? { rowsPerMessage: new Map([['orders', options.pubsub.rowsPerMessage]]) }
              : {}),
          })
        : await createLocalEventSink({ directory: join(work, 'events') }));
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
      const { InMemorySpanExporter, BatchSpanProcessor, NodeTracerProvider } =
        await import('@opentelemetry/sdk-trace-node');
      const spans = new InMemorySpanExporter();
      new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] }).register();
    }
    const ingest = (key: string, observer?: Parameters<typeof fileObserver>[2]) =>
      observer
        ? withSpan('dropgate.ingest', {}, undefined, (span, context) =>
            run(key, fileObserver(span, context, observer)),
          )
        : run(key);
    const run = (key: string, observer?: ReturnType<typeof fileObserver>) =>
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
        { dataset, key, mode: 'notification', ...(observer ? { observer } : {}) },
      );
    if (options.warmUp) {
      const warmUp = await run(headOf(file));
      if (warmUp.status !== 'ingested') throw new Error(`bench warm-up ended ${warmUp.status}`);
    }
    timedFrom = performance.now();
    firstPublishAt = undefined;
    let result: Awaited<ReturnType<typeof run>> | undefined;
    const measured = await timed(async () => {
      result = await ingest(
        basename(file),
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
      return result.status === 'ingested' ? result.summary.rowsRead : 0;
    });
    if (result?.status !== 'ingested') throw new Error(`bench ingestion ended ${result?.status}`);
    if (format === 'parquet' && result.summary.rowsRejected > 0) {
      throw new Error(`bench rows were rejected: ${JSON.stringify(result.summary.firstErrors)}`);
    }
    return measured;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The file's first ~1.5 MiB of rows (past the 1 MiB from which CSV goes to the threads, so they start) as a file beside it, for the
 * untimed warm-up; returns its key.
 */
function headOf(file: string): string {
  const head = `${file}.head`;
  if (!existsSync(head)) {
    const bytes = readFileSync(file).subarray(0, 1536 << 10);
    writeFileSync(head, bytes.subarray(0, bytes.lastIndexOf(10) + 1));
  }
  return basename(head);
}

/** Pub/Sub's generated publisher client, with the options the sink gives its own. */
async function bareClient() {
  const [{ v1 }, { publisherClientOptions }] = await Promise.all([
    import('@google-cloud/pubsub'),
    import('../adapters/event-sink/pubsub/pubsub-event-sink.js'),
  ]);
  return new v1.PublisherClient(publisherClientOptions(pubsubProject));
}

/**
 * Runs the pipeline into Pub/Sub, untimed, with a client that keeps a copy of every Publish request the
 * sink makes (topic, messages, attributes) and sends it on; writes them to `recordingPath`.
 */
async function pubsubRecord(file: string, packed: boolean): Promise<Timed> {
  const requests: PublishRequest[] = [];
  const client = await bareClient();
  const recorder: PublisherClientLike = {
    publish(request, callOptions) {
      requests.push({
        topic: request.topic,
        messages: request.messages.map(({ data, attributes }) => ({
          data: data.slice(),
          attributes: { ...attributes },
        })),
      });
      return client.publish(request, callOptions);
    },
    close: () => client.close(),
  };
  const result = await pipeline(file, 'csv', undefined, {
    sink: 'pubsub',
    pubsub: { client: recorder, ...(packed ? { rowsPerMessage } : {}) },
  });
  writeFileSync(recordingPath(file, packed), serialize({ rows: result.rows, requests } satisfies Recording));
  return result;
}

/**
 * The requests `pubsub-record` kept, sent again in their order, BENCH_PUBSUB_IN_FLIGHT (default 8, the
 * sink's own limit) at once, after one untimed request that opens the connection: with `sender`
 * `library` by the library's bare client (its `publish`, its serializer), with `dropgate` by the sink's
 * own sender (createPubSubPublisher: the request encoded by the sink, sent on the library's stub; no
 * pipeline). Counts the rows the requests carry, as the pipeline counts the file's.
 */
async function pubsubRaw(file: string, packed: boolean, sender: 'library' | 'dropgate'): Promise<Timed> {
  const { rows, requests } = deserialize(readFileSync(recordingPath(file, packed))) as Recording;
  let publish: (request: PublishRequest) => Promise<unknown>;
  let close: () => Promise<void>;
  if (sender === 'library') {
    const client = await bareClient();
    const callOptions = { timeout: 60_000, retry: null, isBundling: false } as const;
    publish = (request) => client.publish(request, callOptions);
    close = () => client.close();
  } else {
    const { createPubSubPublisher } = await import('../adapters/event-sink/pubsub/pubsub-event-sink.js');
    const publisher = createPubSubPublisher(pubsubProject, 60_000);
    // The sink hands its sender one attributes object for a block's messages that share them, and the
    // sender encodes each object once; the recording copied them apart, so equal ones are made one again.
    const shared = new Map<string, Record<string, string>>();
    for (const request of requests) {
      for (const message of request.messages) {
        const key = JSON.stringify(message.attributes);
        const first = shared.get(key);
        if (first) message.attributes = first;
        else shared.set(key, message.attributes);
      }
    }
    publish = (request) => publisher.publish(request.topic, request.messages);
    close = () => publisher.close();
  }
  const inFlight = Number(process.env.BENCH_PUBSUB_IN_FLIGHT ?? 8);
  await publish(requests[0]!);
  const result = await timed(async () => {
    await sendAll(requests, inFlight, publish);
    return rows;
  });
  await close();
  return result;
}

const modes: Record<string, (file: string) => Promise<Timed>> = {
  'raw-papaparse': (file) => timed(() => rawPapaparse(file, false)),
  'raw-papaparse-header': (file) => timed(() => rawPapaparse(file, true)),
  pipeline: (file) => pipeline(file, 'csv'),
  'observed-pipeline': (file) => pipeline(file, 'csv', undefined, { observed: true }),
  'parquet-bare': (file) => timed(() => parquetBare(file)),
  'parquet-pipeline': (file) => pipeline(file, 'parquet'),
  'flat-pipeline': (file) => pipeline(file, 'parquet', flatParquetSchema),
  'pubsub-pipeline': (file) => pipeline(file, 'csv', undefined, { sink: 'pubsub', warmUp: true }),
  'pubsub-pipeline-packed': (file) =>
    pipeline(file, 'csv', undefined, { sink: 'pubsub', warmUp: true, pubsub: { rowsPerMessage } }),
  // The pipeline's ceiling on this machine: the same ingestion, warmed up, into a sink that takes every
  // batch and does nothing with it (what no real sink can beat, whatever it sends).
  'dropping-pipeline': (file) =>
    pipeline(file, 'csv', undefined, {
      warmUp: true,
      eventSink: {
        capabilities: { ordered: false, maxMessageBytes: 10 << 20 },
        publish: async () => ({ failed: [] }),
        close: async () => {},
      },
    }),
  'pubsub-record': (file) => pubsubRecord(file, false),
  'pubsub-record-packed': (file) => pubsubRecord(file, true),
  'pubsub-raw': (file) => pubsubRaw(file, false, 'library'),
  'pubsub-raw-packed': (file) => pubsubRaw(file, true, 'library'),
  'pubsub-raw-own': (file) => pubsubRaw(file, false, 'dropgate'),
  'pubsub-raw-own-packed': (file) => pubsubRaw(file, true, 'dropgate'),
  'sqs-pipeline': async (file) =>
    pipeline(file, 'csv', undefined, { warmUp: true, eventSink: timingFirstPublish(await sqsSink(1)) }),
  'sqs-packed-pipeline': async (file) =>
    pipeline(file, 'csv', undefined, {
      warmUp: true,
      eventSink: timingFirstPublish(await sqsSink(sqsRowsPerMessage)),
    }),
  'sqs-baseline': (file) => sqsBaseline(file, 1, 'sdk'),
  'sqs-packed-baseline': (file) => sqsBaseline(file, sqsRowsPerMessage, 'sdk'),
  'sqs-baseline-own': (file) => sqsBaseline(file, 1, 'dropgate'),
  'sqs-packed-baseline-own': (file) => sqsBaseline(file, sqsRowsPerMessage, 'dropgate'),
};

const [mode, file] = process.argv.slice(2);
const measureMode = mode === undefined ? undefined : modes[mode];
if (!file || !measureMode) {
  console.error(`usage: measure.js ${Object.keys(modes).join('|')} <file>`);
  process.exit(64);
}
await stat(file);
if (mode!.startsWith('sqs-')) {
  // The queues exist before anything is timed, on both sides.
  const { SQSClient } = await import('@aws-sdk/client-sqs');
  const admin = new SQSClient({ useQueueUrlAsEndpoint: false });
  await sqsQueues(admin, ['orders', 'orders-dead-letter', 'files']);
  admin.destroy();
}
const started = performance.now();
const { rows, seconds, cpuSeconds, standInCpuSeconds } = await measureMode(file);
const startSeconds =
  firstPublishAt === undefined ? undefined : (firstPublishAt - (timedFrom ?? started)) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
const largestRowGroupMb = mode === 'parquet-bare' ? await largestRowGroupDecodedMb(file) : undefined;
console.log(
  JSON.stringify({
    mode,
    rows,
    seconds,
    cpuSeconds,
    peakRssMb: peakRss / 2 ** 20,
    largestRowGroupMb,
    startSeconds,
    standInCpuSeconds,
  }),
);
