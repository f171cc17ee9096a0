/**
 * `npm run bench`: end-to-end throughput and peak RSS of Dropgate against a bare parser of the same file,
 * measured in the same run. Each measurement runs in a fresh process (so peak RSS is its own), modes
 * alternate, and medians of BENCH_RUNS runs (default 3) are reported.
 *   CSV:     a generated ~BENCH_MB MB (default 1000) orders file; baselines raw papaparse with
 *            `header: true` (records as objects, the 80-100 MB/s the issue measured) and with rows as
 *            arrays (papaparse's fastest output).
 *   Parquet: a DuckDB-written file of BENCH_PARQUET_ROWS rows (default 2M) in 20 row groups with nested
 *            columns; baseline hyparquet reading every row group.
 *   Flat:    a DuckDB-written file of BENCH_FLAT_ROWS rows (default 1M) of six scalar columns, zstd, in
 *            DuckDB's default row groups, as warehouses unload tables; the same baseline.
 *   Pub/Sub: a generated ~BENCH_PUBSUB_MB MB (default 50) orders CSV through Dropgate into the Pub/Sub
 *            emulator (started here unless PUBSUB_EMULATOR_HOST names one), structured mode (binary with
 *            BENCH_PUBSUB_MODE=binary); baseline the same messages published with the bare client.
 *   SQS:     a generated ~BENCH_SQS_MB MB (default 10) orders file into the SQS sink on fauxqs (the stand-in,
 *            in a process of its own, fresh for each measurement); baseline the stand-in's own
 *            SendMessageBatch rate for the same requests, recorded from the sink, in the same run. Then
 *            a ~BENCH_SQS_PACKED_MB MB (default 50) file the same way, the row and dead-letter queues packed
 *            BENCH_SQS_ROWS_PER_MESSAGE (default 100) rows a message. Files large enough that the pipeline's fixed start (threads,
 *            schema, the first blocks), which the baseline does not have, is a few percent of its time.
 *   Observability: a generated ~BENCH_OBSERVED_MB MB (default 100) orders CSV through the pipeline with the
 *            gateway's metrics (prom-client) and tracing (the OpenTelemetry SDK, spans kept in memory) on;
 *            baseline the same pipeline with both off. Only when BENCH_FILES names `observability`.
 * BENCH_FILES (default csv,parquet,flat,pubsub,sqs) picks which of them are measured.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../app/node/load-config.js';
import { generateOrdersCsv } from './generate-orders-csv.js';
import { generateOrdersParquet } from './generate-orders-parquet.js';
import { generateFlatParquet } from './generate-flat-parquet.js';
import { v1 } from '@google-cloud/pubsub';
import { publisherClientOptions } from '../adapters/event-sink/pubsub/pubsub-event-sink.js';
import { startGoogleEmulators } from '../test/support/google-emulators.js';

const run = promisify(execFile);
const megabytes = Number(process.env.BENCH_MB ?? 1000);
const parquetRows = Number(process.env.BENCH_PARQUET_ROWS ?? 2_000_000);
const flatRows = Number(process.env.BENCH_FLAT_ROWS ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const pubsubMegabytes = Number(process.env.BENCH_PUBSUB_MB ?? 50);
const sqsMegabytes = Number(process.env.BENCH_SQS_MB ?? 10);
const sqsPackedMegabytes = Number(process.env.BENCH_SQS_PACKED_MB ?? 50);
const files = new Set(
  (process.env.BENCH_FILES ?? 'csv,parquet,flat,pubsub,sqs').split(',').map((name) => name.trim()),
);
const dataDir = join(packageRoot, 'bench', '.data');
const here = fileURLToPath(new URL('.', import.meta.url));

interface Measurement {
  mode: string;
  rows: number;
  seconds: number;
  peakRssMb: number;
  largestRowGroupMb?: number;
  startSeconds?: number;
}

/** Starts fauxqs in a process of its own; resolves to its endpoint and a way to stop it. */
async function startFauxqsProcess(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(here, 'fauxqs-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`fauxqs exited with ${code}`)));
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

async function measureModes(
  file: string,
  modes: string[],
  withFauxqs = false,
): Promise<Record<string, Measurement[]>> {
  const results: Record<string, Measurement[]> = Object.fromEntries(modes.map((mode) => [mode, []]));
  for (let index = 0; index < runs; index++) {
    for (const mode of modes) {
      // Dropgate runs as `npm start` and bin/dropgate.js run it; the baselines with Node's defaults.
      const flags = mode.includes('pipeline') ? ['--single-threaded-gc', '--max-semi-space-size=4'] : [];
      const fauxqs = withFauxqs ? await startFauxqsProcess() : undefined;
      const { stdout } = await run(
        process.execPath,
        [...flags, '--expose-gc', join(here, 'measure.js'), mode, file],
        {
          maxBuffer: 1 << 20,
          env: fauxqs
            ? {
                ...process.env,
                AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
                AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'bench',
                AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'bench',
                AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
              }
            : process.env,
        },
      ).finally(() => fauxqs?.stop());
      const measurement = JSON.parse(stdout.trim().split('\n').pop()!) as Measurement;
      results[mode]!.push(measurement);
      process.stderr.write(
        `  run ${index + 1} ${mode}: ${measurement.seconds.toFixed(2)} s, peak RSS ${measurement.peakRssMb.toFixed(0)} MB\n`,
      );
    }
  }
  return results;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function summary(list: Measurement[], bytes: number) {
  const seconds = median(list.map((m) => m.seconds));
  return {
    rows: list[0]!.rows,
    rowsPerSecond: list[0]!.rows / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    peakRssMb: Math.max(...list.map((m) => m.peakRssMb)),
    largestRowGroupMb: list[0]!.largestRowGroupMb,
  };
}

const line = (name: string, s: ReturnType<typeof summary>) =>
  `${name.padEnd(30)} ${Math.round(s.rowsPerSecond).toLocaleString('en').padStart(11)} rows/s ${s.mbPerSecond
    .toFixed(1)
    .padStart(7)} MB/s   peak RSS ${s.peakRssMb.toFixed(0).padStart(4)} MB`;

await mkdir(dataDir, { recursive: true });

if (files.has('csv')) {
  const csvFile = join(dataDir, `orders-${megabytes}mb.csv`);
  if (!existsSync(csvFile)) {
    process.stderr.write(`generating ${csvFile} ...\n`);
    await generateOrdersCsv(csvFile, megabytes * 1e6);
  }
  process.stderr.write('CSV\n');
  const csvBytes = statSync(csvFile).size;
  const csv = await measureModes(csvFile, ['raw-papaparse', 'raw-papaparse-header', 'pipeline']);
  const raw = summary(csv['raw-papaparse']!, csvBytes);
  const rawHeader = summary(csv['raw-papaparse-header']!, csvBytes);
  const csvPipeline = summary(csv.pipeline!, csvBytes);
  console.log(
    `CSV: ${(csvBytes / 1e6).toFixed(0)} MB, ${raw.rows.toLocaleString('en')} rows, median of ${runs} runs`,
  );
  console.log(line('raw papaparse, header: true', rawHeader));
  console.log(line('raw papaparse, rows as arrays', raw));
  console.log(line('dropgate -> local sink', csvPipeline));
  console.log(
    `  throughput ratio: ${(csvPipeline.rowsPerSecond / rawHeader.rowsPerSecond).toFixed(2)} of papaparse with ` +
      `header: true, ${(csvPipeline.rowsPerSecond / raw.rowsPerSecond).toFixed(2)} of papaparse with arrays ` +
      '(target >= 0.50)',
  );
  console.log(`  peak RSS: ${csvPipeline.peakRssMb.toFixed(0)} MB (target < 256 MB)`);
}

if (files.has('observability')) {
  const observedMegabytes = Number(process.env.BENCH_OBSERVED_MB ?? 100);
  const csvFile = join(dataDir, `orders-${observedMegabytes}mb.csv`);
  if (!existsSync(csvFile)) {
    process.stderr.write(`generating ${csvFile} ...\n`);
    await generateOrdersCsv(csvFile, observedMegabytes * 1e6);
  }
  process.stderr.write('Observability overhead\n');
  const csvBytes = statSync(csvFile).size;
  const results = await measureModes(csvFile, ['pipeline', 'observed-pipeline']);
  const off = summary(results.pipeline!, csvBytes);
  const on = summary(results['observed-pipeline']!, csvBytes);
  console.log(`Metrics and tracing: ${(csvBytes / 1e6).toFixed(0)} MB CSV, median of ${runs} runs`);
  console.log(line('dropgate, metrics + tracing off', off));
  console.log(line('dropgate, metrics + tracing on', on));
  console.log(
    `  throughput ratio on/off: ${(on.rowsPerSecond / off.rowsPerSecond).toFixed(3)} (target >= 0.95)`,
  );
}

/** Measures a Parquet file against bare hyparquet and prints its lines, headed by `title`. */
async function measureParquet(title: string, file: string, pipelineMode: string): Promise<void> {
  const bytes = statSync(file).size;
  const results = await measureModes(file, ['parquet-bare', pipelineMode]);
  const bare = summary(results['parquet-bare']!, bytes);
  const pipeline = summary(results[pipelineMode]!, bytes);
  const decoded = bare.largestRowGroupMb ?? Number.NaN;
  const rowGroups = (await parquetMetadataAsync(await asyncBufferFromFile(file))).row_groups.length;
  console.log(
    `${title}: ${(bytes / 1e6).toFixed(0)} MB, ${bare.rows.toLocaleString('en')} rows in ${rowGroups} row groups, ` +
      `median of ${runs} runs`,
  );
  console.log(line('hyparquet bare reader (baseline)', bare));
  console.log(line('dropgate -> local sink', pipeline));
  console.log(
    `  throughput ratio: ${(pipeline.rowsPerSecond / bare.rowsPerSecond).toFixed(2)} (target >= 0.50)`,
  );
  console.log(
    `  peak RSS: ${pipeline.peakRssMb.toFixed(0)} MB; largest row group decoded ${decoded.toFixed(0)} MB, ` +
      `so target <= ${(decoded + 150).toFixed(0)} MB; the bare reader alone peaks at ${bare.peakRssMb.toFixed(0)} MB`,
  );
}

if (files.has('parquet')) {
  const parquetFile = join(dataDir, `orders-${parquetRows}-rows.parquet`);
  if (!existsSync(parquetFile)) {
    process.stderr.write(`generating ${parquetFile} with DuckDB ...\n`);
    await generateOrdersParquet(parquetFile, parquetRows, Math.ceil(parquetRows / 20));
  }
  process.stderr.write('Parquet\n');
  await measureParquet(
    'Parquet, nested (orders with a list and a struct, zstd)',
    parquetFile,
    'parquet-pipeline',
  );
}

if (files.has('flat')) {
  const flatFile = join(dataDir, `flat-${flatRows}-rows.parquet`);
  if (!existsSync(flatFile)) {
    process.stderr.write(`generating ${flatFile} with DuckDB ...\n`);
    await generateFlatParquet(flatFile, flatRows);
  }
  process.stderr.write('Flat Parquet\n');
  await measureParquet(
    'Parquet, flat (six scalar columns, zstd, as warehouses unload)',
    flatFile,
    'flat-pipeline',
  );
}

if (files.has('pubsub')) {
  const csvFile = join(dataDir, `orders-${pubsubMegabytes}mb.csv`);
  if (!existsSync(csvFile)) {
    process.stderr.write(`generating ${csvFile} ...\n`);
    await generateOrdersCsv(csvFile, pubsubMegabytes * 1e6);
  }
  process.stderr.write('Pub/Sub (emulator)\n');
  const stopEmulator = await startGoogleEmulators(['PUBSUB_EMULATOR_HOST']);
  try {
    // Topics without subscriptions: the emulator takes each message and keeps none, so its memory stays flat.
    const project = (process.env.BENCH_PUBSUB_PROJECT ??= 'dropgate-bench');
    const admin = new v1.PublisherClient(publisherClientOptions(project));
    for (const topic of ['orders', 'orders.dead-letter', 'files']) {
      await admin
        .createTopic({ name: `projects/${project}/topics/${topic}` })
        .catch((error: { code?: number }) => {
          if (error.code !== 6 /* ALREADY_EXISTS */) throw error;
        });
    }
    await admin.close();
    // The messages the raw baseline publishes: the pipeline's own events, as the local sink writes them.
    await rm(`${csvFile}.events`, { recursive: true, force: true });
    await run(process.execPath, [join(here, 'measure.js'), 'local-events', csvFile], { maxBuffer: 1 << 20 });
    const csvBytes = statSync(csvFile).size;
    const results = await measureModes(csvFile, ['pubsub-raw', 'pubsub-pipeline']);
    const raw = summary(results['pubsub-raw']!, csvBytes);
    const pipeline = summary(results['pubsub-pipeline']!, csvBytes);
    const mode = process.env.BENCH_PUBSUB_MODE === 'binary' ? 'binary' : 'structured';
    console.log(
      `Pub/Sub emulator, ${mode} mode: ${(csvBytes / 1e6).toFixed(0)} MB CSV, ${pipeline.rows.toLocaleString('en')} rows, ` +
        `median of ${runs} runs`,
    );
    console.log(line('bare client, same messages', raw).replace(' rows/s', ' msg/s '));
    console.log(line('dropgate -> pubsub sink', pipeline));
    console.log(
      `  throughput ratio: ${(pipeline.rowsPerSecond / raw.rowsPerSecond).toFixed(2)} of the emulator's raw ` +
        'publish rate (target >= 0.90)',
    );
    console.log(
      `  peak RSS: ${pipeline.peakRssMb.toFixed(0)} MB (the bare client alone: ${raw.peakRssMb.toFixed(0)} MB)`,
    );
  } finally {
    await stopEmulator();
  }
}

if (files.has('sqs')) {
  const rowsPerMessage = Number(process.env.BENCH_SQS_ROWS_PER_MESSAGE ?? 100);
  for (const packed of [false, true]) {
    const megabytes = packed ? sqsPackedMegabytes : sqsMegabytes;
    const sqsFile = join(dataDir, `orders-${megabytes}mb.csv`);
    if (!existsSync(sqsFile)) await generateOrdersCsv(sqsFile, megabytes * 1e6);
    const bytes = statSync(sqsFile).size;
    const [baselineMode, pipelineMode] = packed
      ? ['sqs-packed-baseline', 'sqs-packed-pipeline']
      : ['sqs-baseline', 'sqs-pipeline'];
    process.stderr.write(packed ? `SQS, packed ${rowsPerMessage} rows a message\n` : 'SQS\n');
    const results = await measureModes(sqsFile, [baselineMode, pipelineMode], true);
    const baseline = summary(results[baselineMode]!, bytes);
    const pipeline = summary(results[pipelineMode]!, bytes);
    console.log(
      `SQS: ${(bytes / 1e6).toFixed(0)} MB CSV, ${pipeline.rows.toLocaleString('en')} rows into fauxqs, ` +
        `${packed ? `packed up to ${rowsPerMessage} rows a message` : 'one message a row'}, median of ${runs} runs`,
    );
    console.log(
      `${'fauxqs SendMessageBatch, same'.padEnd(30)} ${Math.round(baseline.rowsPerSecond)
        .toLocaleString('en')
        .padStart(11)} rows/s (the ${baseline.rows.toLocaleString('en')} rows of the row queue's requests)`,
    );
    console.log(line(`dropgate -> sqs sink${packed ? ', packed' : ''}`, pipeline));
    console.log(
      `  throughput ratio: ${(pipeline.rowsPerSecond / baseline.rowsPerSecond).toFixed(2)} of the stand-in's own ` +
        'rate (target >= 0.90)',
    );
    const start = median(results[pipelineMode]!.map((m) => m.startSeconds ?? Number.NaN));
    console.log(
      `  peak RSS: ${pipeline.peakRssMb.toFixed(0)} MB; the pipeline's fixed start (to its first publish): ` +
        `${start.toFixed(2)} s of its ${(pipeline.rows / pipeline.rowsPerSecond).toFixed(2)} s`,
    );
  }
}
