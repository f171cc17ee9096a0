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
 *            BENCH_PUBSUB_MODE=binary), one event a message and packed (BENCH_PUBSUB_ROWS_PER_MESSAGE,
 *            default 100, a message); baseline the same Publish requests, recorded from the sink, sent
 *            again with the library's bare client and with the sink's own sender, the faster counting.
 *            Both sides are timed warm (see measure.ts), with their CPU time and the emulator's. Beside
 *            them the pipeline's ceiling: the same file into a sink that drops every batch (the stand-in
 *            idle), which no sink can beat; the SQS lines print it too.
 *   SQS:     a generated ~BENCH_SQS_MB MB (default 10) orders file into the SQS sink on fauxqs (the stand-in,
 *            in a process of its own, fresh for each measurement); baseline the stand-in's own
 *            SendMessageBatch rate for the same requests, recorded from the sink, in the same run, sent by a
 *            bare SDK client and by the sink's own sender, the faster counting. Then
 *            a ~BENCH_SQS_PACKED_MB MB (default 50) file the same way, the row and dead-letter queues packed
 *            BENCH_SQS_ROWS_PER_MESSAGE (default 100) rows a message. Both sides timed warm: the
 *            baseline after its recording pass, the pipeline after ingesting the file's head (threads
 *            started, code compiled, connections open), as on Pub/Sub.
 *   Observability: a generated ~BENCH_OBSERVED_MB MB (default 100) orders CSV through the pipeline with the
 *            gateway's metrics (prom-client) and tracing (the OpenTelemetry SDK, spans kept in memory) on;
 *            baseline the same pipeline with both off. Only when BENCH_FILES names `observability`.
 *   Workers: a CSV of ~BENCH_WORKERS_MB MB (default 10, ~95k rows) and a nested Parquet file of
 *            BENCH_WORKERS_PARQUET_ROWS rows (default 100,000) through the same pipeline into the Cloudflare
 *            Queues sink, inside workerd and on Node: CPU ms per 10,000 rows and peak heap
 *            (workers-bench.ts). BENCH_WORKERS_ROWS_PER_MESSAGE packs the row events. Only when
 *            BENCH_FILES names `workers`.
 * BENCH_FILES (default csv,parquet,flat,pubsub,sqs) picks which of them are measured.
 * BENCH_NODE_FLAGS adds Node flags to every measuring process (`--cpu-prof --cpu-prof-dir=DIR` to profile).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../app/node/load-config.js';
import { generateOrdersCsv } from './generate-orders-csv.js';
import { generateOrdersParquet } from './generate-orders-parquet.js';
import { generateFlatParquet } from './generate-flat-parquet.js';
import { processCpuSeconds } from './bench-support.js';
import { v1 } from '@google-cloud/pubsub';
import { publisherClientOptions } from '../adapters/event-sink/pubsub/pubsub-event-sink.js';
import { startGoogleEmulators } from '../test/support/google-emulators.js';
import {
  bundleBenchWorker,
  measureNode,
  measureWorkerd,
  measureWorkerdStored,
  type WorkersMeasurement,
} from './workers-bench.js';

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
  /** The measuring process's CPU time over the timed part. */
  cpuSeconds: number;
  /** The CPU time of the process `measureModes` was asked to watch (an emulator) over the whole run. */
  watchedCpuSeconds?: number;
  /** The stand-in's CPU time over the timed part (fauxqs). */
  standInCpuSeconds?: number;
  peakRssMb: number;
  largestRowGroupMb?: number;
  startSeconds?: number;
}

/** The process listening as the Pub/Sub emulator at `host` (its JVM), if /proc shows it. */
function emulatorPid(host: string): number | undefined {
  const port = `--port=${host.split(':').pop()}`;
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('java') && args.includes(port) && args.some((arg) => arg.includes('pubsub'))) {
        return Number(entry);
      }
    } catch {
      // Gone since listed.
    }
  }
  return undefined;
}

/** Starts fauxqs in a process of its own; resolves to its endpoint and a way to stop it. */
async function startFauxqsProcess(): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(here, 'fauxqs-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`fauxqs exited with ${code}`)));
  });
  return {
    endpoint,
    pid: child.pid!,
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
  watchPid?: number,
): Promise<Record<string, Measurement[]>> {
  const results: Record<string, Measurement[]> = Object.fromEntries(modes.map((mode) => [mode, []]));
  for (let index = 0; index < runs; index++) {
    for (const mode of modes) {
      // Dropgate runs as `npm start` and bin/dropgate.js run it; the baselines with Node's defaults.
      const flags = mode.includes('pipeline') ? ['--single-threaded-gc', '--max-semi-space-size=4'] : [];
      // BENCH_NODE_FLAGS adds flags to every measuring process: `--cpu-prof --cpu-prof-dir=...` profiles it.
      if (process.env.BENCH_NODE_FLAGS) flags.push(...process.env.BENCH_NODE_FLAGS.trim().split(/\s+/));
      const fauxqs = withFauxqs ? await startFauxqsProcess() : undefined;
      const watchedBefore = watchPid === undefined ? 0 : processCpuSeconds(watchPid);
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
                BENCH_STAND_IN_PID: String(fauxqs.pid),
              }
            : process.env,
        },
      ).finally(() => fauxqs?.stop());
      const measurement = JSON.parse(stdout.trim().split('\n').pop()!) as Measurement;
      if (watchPid !== undefined) measurement.watchedCpuSeconds = processCpuSeconds(watchPid) - watchedBefore;
      results[mode]!.push(measurement);
      const watched =
        measurement.watchedCpuSeconds === undefined
          ? ''
          : `, watched process ${measurement.watchedCpuSeconds.toFixed(2)} CPU-s`;
      process.stderr.write(
        `  run ${index + 1} ${mode}: ${measurement.seconds.toFixed(2)} s, ${measurement.cpuSeconds.toFixed(2)} CPU-s` +
          `${watched}, peak RSS ${measurement.peakRssMb.toFixed(0)} MB, load ${loadAverage()}\n`,
      );
    }
  }
  return results;
}

const loadAverage = () =>
  existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ')[0] : '?';

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
    /** Median CPU milliseconds per 1,000 rows: the measuring process's, and the watched process's. */
    cpuMsPerThousand: (median(list.map((m) => m.cpuSeconds)) * 1e6) / list[0]!.rows,
    watchedCpuMsPerThousand:
      (median(list.map((m) => m.watchedCpuSeconds ?? Number.NaN)) * 1e6) / list[0]!.rows,
    /** The stand-in's median CPU milliseconds per 1,000 rows over the timed part (fauxqs). */
    standInCpuMsPerThousand:
      (median(list.map((m) => m.standInCpuSeconds ?? Number.NaN)) * 1e6) / list[0]!.rows,
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

/**
 * The pipeline's ceiling against a stand-in's rate: the same file into a sink that drops every batch, with
 * both cores to itself (the stand-in idle). Below 0.90, no sink can meet the target on this machine.
 */
const ceiling = (dropping: number, fastest: number) =>
  `  the pipeline's ceiling (into a sink that drops, the stand-in idle): ${(dropping / fastest).toFixed(2)} ` +
  'of the same raw rate';

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
    const emulator = emulatorPid(process.env.PUBSUB_EMULATOR_HOST!);
    const mode = process.env.BENCH_PUBSUB_MODE === 'binary' ? 'binary' : 'structured';
    const csvBytes = statSync(csvFile).size;
    const rowsPerMessage = Number(process.env.BENCH_PUBSUB_ROWS_PER_MESSAGE ?? 100);
    const cpu = (name: string, s: ReturnType<typeof summary>) =>
      `  ${name}: ${s.cpuMsPerThousand.toFixed(0)} CPU-ms per 1,000 rows` +
      (emulator === undefined ? '' : `, the emulator ${s.watchedCpuMsPerThousand.toFixed(0)}`);
    // Binary mode cannot pack: only its one-event-a-message line.
    for (const packed of mode === 'binary' ? [false] : [false, true]) {
      const suffix = packed ? '-packed' : '';
      // The baseline's requests: those the sink makes for the file, recorded in a run of their own.
      await run(process.execPath, [join(here, 'measure.js'), `pubsub-record${suffix}`, csvFile], {
        maxBuffer: 1 << 20,
      });
      const results = await measureModes(
        csvFile,
        [`pubsub-raw${suffix}`, `pubsub-raw-own${suffix}`, `pubsub-pipeline${suffix}`, 'dropping-pipeline'],
        false,
        emulator,
      );
      const dropping = summary(results['dropping-pipeline']!, csvBytes);
      const raw = summary(results[`pubsub-raw${suffix}`]!, csvBytes);
      const own = summary(results[`pubsub-raw-own${suffix}`]!, csvBytes);
      const pipeline = summary(results[`pubsub-pipeline${suffix}`]!, csvBytes);
      console.log(
        `Pub/Sub emulator, ${mode} mode, ${packed ? `packed ${rowsPerMessage} rows a message` : 'one row a message'}: ` +
          `${(csvBytes / 1e6).toFixed(0)} MB CSV, ${pipeline.rows.toLocaleString('en')} rows, median of ${runs} runs`,
      );
      console.log(line('bare client, same requests', raw));
      console.log(line("the sink's sender, same", own));
      console.log(line('dropgate -> pubsub sink', pipeline));
      console.log(line('dropgate -> a sink that drops', dropping));
      // The emulator's own rate is at least what the faster sender got out of it.
      const fastest = Math.max(raw.rowsPerSecond, own.rowsPerSecond);
      console.log(
        `  throughput ratio: ${(pipeline.rowsPerSecond / fastest).toFixed(2)} of the emulator's raw publish ` +
          `rate, the faster sender's (target >= 0.90); ${(pipeline.rowsPerSecond / raw.rowsPerSecond).toFixed(2)} ` +
          "of the library's bare client's",
      );
      console.log(ceiling(dropping.rowsPerSecond, fastest));
      console.log(cpu('bare client', raw));
      console.log(cpu("the sink's sender", own));
      console.log(cpu('dropgate', pipeline));
      console.log(cpu('dropgate into a sink that drops', dropping));
      console.log(
        `  peak RSS: ${pipeline.peakRssMb.toFixed(0)} MB (the bare client, holding every request: ${raw.peakRssMb.toFixed(0)} MB)`,
      );
    }
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
    const [baselineMode, ownMode, pipelineMode] = packed
      ? ['sqs-packed-baseline', 'sqs-packed-baseline-own', 'sqs-packed-pipeline']
      : ['sqs-baseline', 'sqs-baseline-own', 'sqs-pipeline'];
    process.stderr.write(packed ? `SQS, packed ${rowsPerMessage} rows a message\n` : 'SQS\n');
    const results = await measureModes(
      sqsFile,
      [baselineMode, ownMode, pipelineMode, 'dropping-pipeline'],
      true,
    );
    const dropping = summary(results['dropping-pipeline']!, bytes);
    const baseline = summary(results[baselineMode]!, bytes);
    const own = summary(results[ownMode]!, bytes);
    const pipeline = summary(results[pipelineMode]!, bytes);
    console.log(
      `SQS: ${(bytes / 1e6).toFixed(0)} MB CSV, ${pipeline.rows.toLocaleString('en')} rows into fauxqs, ` +
        `${packed ? `packed up to ${rowsPerMessage} rows a message` : 'one message a row'}, median of ${runs} runs`,
    );
    const rate = (label: string, measured: typeof baseline) =>
      `${label.padEnd(30)} ${Math.round(measured.rowsPerSecond)
        .toLocaleString('en')
        .padStart(11)} rows/s (the ${measured.rows.toLocaleString('en')} rows of the row queue's requests)`;
    console.log(rate('fauxqs, same requests, SDK', baseline));
    console.log(rate("fauxqs, same, sink's sender", own));
    console.log(line(`dropgate -> sqs sink${packed ? ', packed' : ''}`, pipeline));
    console.log(line('dropgate -> a sink that drops', dropping));
    // The stand-in's own rate is at least what the faster sender got out of it.
    const fastest = Math.max(baseline.rowsPerSecond, own.rowsPerSecond);
    console.log(
      `  throughput ratio: ${(pipeline.rowsPerSecond / fastest).toFixed(2)} of the stand-in's own rate, the ` +
        `faster sender's (target >= 0.90); ${(pipeline.rowsPerSecond / baseline.rowsPerSecond).toFixed(2)} of ` +
        `the bare SDK client's`,
    );
    console.log(ceiling(dropping.rowsPerSecond, fastest));
    const cpu = (measured: typeof baseline) =>
      `${measured.cpuMsPerThousand.toFixed(0)} (fauxqs ${measured.standInCpuMsPerThousand.toFixed(0)})`;
    console.log(
      `  CPU-ms per 1,000 rows: SDK client ${cpu(baseline)}, the sink's sender ${cpu(own)}, ` +
        `dropgate ${cpu(pipeline)}, into a sink that drops ${dropping.cpuMsPerThousand.toFixed(0)}`,
    );
    const start = median(results[pipelineMode]!.map((m) => m.startSeconds ?? Number.NaN));
    console.log(
      `  peak RSS: ${pipeline.peakRssMb.toFixed(0)} MB; warmed up, its first publish came after ` +
        `${start.toFixed(2)} s of its ${(pipeline.rows / pipeline.rowsPerSecond).toFixed(2)} s`,
    );
  }
}

if (files.has('workers')) {
  const csvFile = join(dataDir, `orders-${Number(process.env.BENCH_WORKERS_MB ?? 10)}mb.csv`);
  if (!existsSync(csvFile))
    await generateOrdersCsv(csvFile, Number(process.env.BENCH_WORKERS_MB ?? 10) * 1e6);
  const parquetRowCount = Number(process.env.BENCH_WORKERS_PARQUET_ROWS ?? 100_000);
  const parquetFile = join(dataDir, `orders-${parquetRowCount}-rows.parquet`);
  if (!existsSync(parquetFile)) {
    await generateOrdersParquet(parquetFile, parquetRowCount, Math.ceil(parquetRowCount / 10));
  }
  const rowsPerMessage = Number(process.env.BENCH_WORKERS_ROWS_PER_MESSAGE ?? 1);
  const script = await bundleBenchWorker();
  process.stderr.write('Workers\n');
  for (const [format, file] of [
    ['csv', csvFile],
    ['parquet', parquetFile],
  ] as const) {
    const bytes = new Uint8Array(await readFile(file));
    const modes = {
      'node, dropping bindings': () => measureNode(format, file, rowsPerMessage),
      'workerd, dropping bindings': () => measureWorkerd(script, format, bytes, 'drop', rowsPerMessage),
      'workerd, Queues (Miniflare)': () => measureWorkerd(script, format, bytes, 'real', rowsPerMessage),
    };
    const results: Record<string, WorkersMeasurement[]> = {};
    for (let index = 0; index < runs; index++) {
      for (const [mode, measure] of Object.entries(modes)) {
        const measurement = await measure();
        (results[mode] ??= []).push(measurement);
        process.stderr.write(
          `  run ${index + 1} ${format} ${mode}: ${measurement.cpuMs.toFixed(0)} ms CPU, ` +
            `peak heap ${measurement.peakHeapMb.toFixed(1)} MB, RSS growth ${measurement.rssGrowthMb.toFixed(1)} MB\n`,
        );
      }
    }
    const rows = results['node, dropping bindings']![0]!.rows;
    const perTenThousand = (mode: string) => median(results[mode]!.map((m) => m.cpuMs)) / (rows / 10_000);
    console.log(
      `Workers, ${format}: ${(bytes.byteLength / 1e6).toFixed(1)} MB, ${rows.toLocaleString('en')} rows, ` +
        `${rowsPerMessage} row(s) a message, median of ${runs} runs`,
    );
    for (const mode of Object.keys(modes)) {
      const range = (values: number[]) =>
        `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)} MB`;
      console.log(
        `${mode.padEnd(30)} ${perTenThousand(mode).toFixed(1).padStart(7)} ms CPU / 10k rows   peak heap ` +
          `${range(results[mode]!.map((m) => m.peakHeapMb))}   RSS growth ${range(results[mode]!.map((m) => m.rssGrowthMb))}`,
      );
    }
    const node = perTenThousand('node, dropping bindings');
    console.log(
      `  CPU ratio to Node: workerd dropping ${(perTenThousand('workerd, dropping bindings') / node).toFixed(2)}, ` +
        `workerd into Queues ${(perTenThousand('workerd, Queues (Miniflare)') / node).toFixed(2)}`,
    );
  }
  const largeMegabytes = Number(process.env.BENCH_WORKERS_LARGE_MB ?? 300);
  const largeFile = join(dataDir, `orders-${largeMegabytes}mb.csv`);
  if (!existsSync(largeFile)) await generateOrdersCsv(largeFile, largeMegabytes * 1e6);
  const large: WorkersMeasurement[] = [];
  for (let index = 0; index < runs; index++) {
    const measurement = await measureWorkerdStored(script, largeFile);
    large.push(measurement);
    process.stderr.write(
      `  run ${index + 1} large CSV from R2: ${measurement.cpuMs.toFixed(0)} ms CPU, peak heap ` +
        `${measurement.peakHeapMb.toFixed(1)} MB, RSS growth ${measurement.rssGrowthMb.toFixed(1)} MB\n`,
    );
  }
  const largeRange = (values: number[]) =>
    `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)} MB`;
  console.log(
    `Workers, CSV from R2: ${(statSync(largeFile).size / 1e6).toFixed(0)} MB, ${large[0]!.rows.toLocaleString('en')} rows, ` +
      `inside workerd into dropping bindings, ${runs} runs: ` +
      `${(median(large.map((m) => m.cpuMs)) / (large[0]!.rows / 10_000)).toFixed(1)} ms CPU / 10k rows, ` +
      `peak heap ${largeRange(large.map((m) => m.peakHeapMb))}, RSS growth ${largeRange(large.map((m) => m.rssGrowthMb))} ` +
      '(isolate limit 128 MB)',
  );
}
