/**
 * The Workers line (BENCH_FILES=workers): CPU per 10,000 rows and peak heap of queue-pipeline.ts on a CSV
 * and a Parquet file of BENCH_WORKERS_ROWS rows (default 100,000), inside workerd (Miniflare) into real
 * Queue producers, inside workerd into dropping bindings, and on Node (this process) into dropping
 * bindings: the Node line is the baseline, the same code on the same machine in the same run.
 *   CPU:  workerd's process CPU (/proc, user + system, 10 ms ticks) across the request, every thread;
 *         Node's process.cpuUsage() across the run. Both include their runtime's garbage collection.
 *   Heap: workerd's isolate heap (V8 `usedSize` over the inspector, sampled every 20 ms); Node's
 *         heapUsed, sampled as often, less what it held before the run (after a GC). workerd answers the
 *         inspector only between tasks, so its samples miss peaks inside long synchronous stretches: a
 *         lower bound. Hence also
 *   RSS:  the process's peak resident set (the kernel's VmHWM) less its resident set before the run.
 * A CSV of BENCH_WORKERS_LARGE_MB (default 300) is then read from Miniflare's R2 inside workerd
 * (measureWorkerdStored): the peak memory of a file far larger than an isolate's 128 MB.
 * Each measurement runs cold in a fresh process: a new Miniflare (whose queues keep what they are sent),
 * or `node workers-bench.js <csv|parquet> <file> <rows a message>`, which prints the measurement as JSON.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { packageRoot } from '../app/node/load-config.js';
import type { RowSchema } from '../schemas/dataset.js';
import { createAjvValidatorFactory } from '../schemas/row-validator.js';
import { standaloneValidatorModule } from '../schemas/standalone-validator.js';
import { ordersParquetSchema } from './generate-orders-parquet.js';
import { droppingQueues, runQueuePipeline } from './queue-pipeline.js';

export interface WorkersMeasurement {
  rows: number;
  cpuMs: number;
  peakHeapMb: number;
  rssGrowthMb: number;
}

const outdir = join(packageRoot, '.wrangler/bench');

async function schemas(): Promise<Record<'csv' | 'parquet', RowSchema>> {
  const orders = JSON.parse(await readFile(join(packageRoot, 'schemas/orders/v1.json'), 'utf8')) as RowSchema;
  return { csv: orders, parquet: ordersParquetSchema as RowSchema };
}

/** Bundles the bench's Worker with its datasets' precompiled validators; returns the script's path. */
export async function bundleBenchWorker(): Promise<string> {
  await mkdir(outdir, { recursive: true });
  const bySchema = await schemas();
  const formats = join(packageRoot, 'schemas/rfc3339-formats.ts');
  for (const format of ['csv', 'parquet'] as const) {
    await writeFile(
      join(outdir, `${format}-validator.js`),
      standaloneValidatorModule(bySchema[format], formats),
    );
  }
  await writeFile(
    join(outdir, 'datasets.js'),
    [
      "import csv from './csv-validator.js';",
      "import parquet from './parquet-validator.js';",
      `export default { csv: { schema: ${JSON.stringify(bySchema.csv)}, validate: csv }, ` +
        `parquet: { schema: ${JSON.stringify(bySchema.parquet)}, validate: parquet } };`,
      '',
    ].join('\n'),
  );
  const script = join(outdir, 'workers-bench-worker.js');
  await build({
    entryPoints: [join(packageRoot, 'bench/workers-bench-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    alias: { 'dropgate-bench-datasets': join(outdir, 'datasets.js') },
    outfile: script,
    logLevel: 'warning',
  });
  return script;
}

/** The workerd process Miniflare started for this process (the one child named workerd). */
function workerdPid(): string {
  const pids = readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      return stat.includes('(workerd)') && stat.split(') ')[1]!.split(' ')[1] === String(process.pid);
    } catch {
      return false;
    }
  });
  if (pids.length !== 1) throw new Error(`expected one workerd child process, found ${pids.length}`);
  return pids[0]!;
}

/** User + system CPU of process `pid` so far, in ms (from clock ticks of 10 ms). */
function processCpuMs(pid: string): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A field of /proc/<pid>/status (VmRSS, VmHWM), in MB. */
function statusMb(pid: string, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) / 1024;
}

/** A session on the Worker's inspector, answering V8's heap usage. */
async function heapProbe(miniflare: Miniflare) {
  const base = (await miniflare.getInspectorURL()).href.replace(/^ws:/, 'http:');
  const targets = (await (await fetch(new URL('/json', base))).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const target = targets.find((entry) => entry.webSocketDebuggerUrl.endsWith('/core:user:bench'));
  if (!target) throw new Error('no inspector target for the bench Worker');
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let id = 0;
  const pending = new Map<number, (usedSize: number) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id: number; result: { usedSize: number } };
    pending.get(message.id)?.(message.result.usedSize);
    pending.delete(message.id);
  });
  return {
    usedSize: () =>
      new Promise<number>((resolve) => {
        pending.set(++id, resolve);
        socket.send(JSON.stringify({ id, method: 'Runtime.getHeapUsage' }));
      }),
    close: () => socket.close(),
  };
}

/** Samples `read` every 20 ms while `work` runs; answers the work's result and the largest sample. */
async function sampling<T>(read: () => Promise<number> | number, work: () => Promise<T>) {
  let peak = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      peak = Math.max(peak, await read());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    return { result: await work(), peak: Math.max(peak, await read()) };
  } finally {
    stopped = true;
    await loop;
  }
}

/**
 * Measures one ingestion request to the bench Worker: workerd's CPU across it, the isolate's sampled peak
 * heap, and the process's peak resident set above what it held before (the peak reset first when
 * `resetPeak`, so what came before, such as a large put, does not count).
 */
async function measureIngestion(
  miniflare: Miniflare,
  resetPeak: boolean,
  ingest: () => Promise<{ ok: boolean; status: number; text(): Promise<string>; json(): Promise<unknown> }>,
): Promise<WorkersMeasurement> {
  const probe = await heapProbe(miniflare);
  const pid = workerdPid();
  if (resetPeak) writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const before = processCpuMs(pid);
  const resident = statusMb(pid, 'VmRSS');
  const { result, peak } = await sampling(probe.usedSize, async () => {
    const response = await ingest();
    if (!response.ok) throw new Error(`bench Worker answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as { rows: number };
  });
  const cpuMs = processCpuMs(pid) - before;
  probe.close();
  return {
    rows: result.rows,
    cpuMs,
    peakHeapMb: peak / 2 ** 20,
    rssGrowthMb: statusMb(pid, 'VmHWM') - resident,
  };
}

export async function measureWorkerd(
  script: string,
  format: 'csv' | 'parquet',
  bytes: Uint8Array,
  queues: 'real' | 'drop',
  rowsPerMessage: number,
): Promise<WorkersMeasurement> {
  const miniflare = new Miniflare({
    name: 'bench',
    modules: true,
    scriptPath: script,
    compatibilityDate: '2026-04-01',
    inspectorPort: 0,
    queueProducers: {
      ORDERS: { queueName: 'orders' },
      ORDERS_DEAD_LETTER: { queueName: 'orders-dead-letter' },
      FILES: { queueName: 'files' },
    },
  });
  try {
    await miniflare.ready;
    return await measureIngestion(miniflare, false, () =>
      miniflare.dispatchFetch(
        `http://bench/ingest?format=${format}&queues=${queues}&rowsPerMessage=${rowsPerMessage}`,
        { method: 'POST', body: bytes },
      ),
    );
  } finally {
    await miniflare.dispose();
  }
}

/**
 * The large-file line: a CSV far larger than an isolate's 128 MB, put in Miniflare's R2 (on disk) and
 * ingested inside workerd through the r2 store into dropping bindings, as a deployment streams it from R2.
 * The put itself passes through workerd's memory, so the process's peak resident set is reset (Linux's
 * clear_refs) after it: the RSS figure is the ingestion's alone.
 */
export async function measureWorkerdStored(script: string, file: string): Promise<WorkersMeasurement> {
  const persist = await mkdtemp(join(tmpdir(), 'dropgate-bench-r2-'));
  const miniflare = new Miniflare({
    name: 'bench',
    modules: true,
    scriptPath: script,
    compatibilityDate: '2026-04-01',
    inspectorPort: 0,
    r2Buckets: ['BUCKET'],
    r2Persist: persist,
  });
  try {
    await miniflare.ready;
    const key = 'vendors/bench/orders/large.csv';
    // Through the Worker, streamed: Miniflare's binding proxy cannot carry a body this large in one message.
    const body = await readFile(file);
    const put = await miniflare.dispatchFetch(
      `http://bench/put?key=${encodeURIComponent(key)}&length=${body.byteLength}`,
      { method: 'PUT', body },
    );
    if (!put.ok) throw new Error(`bench Worker answered ${put.status} to the put: ${await put.text()}`);
    return await measureIngestion(miniflare, true, () =>
      miniflare.dispatchFetch(`http://bench/ingest?format=csv&queues=drop&r2=${encodeURIComponent(key)}`, {
        method: 'POST',
      }),
    );
  } finally {
    await miniflare.dispose();
    await rm(persist, { recursive: true, force: true });
  }
}

/** The Node line, measured cold in a process of its own (this module run as a script). */
export async function measureNode(
  format: 'csv' | 'parquet',
  file: string,
  rowsPerMessage: number,
): Promise<WorkersMeasurement> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--expose-gc',
    fileURLToPath(import.meta.url),
    format,
    file,
    String(rowsPerMessage),
  ]);
  return JSON.parse(stdout) as WorkersMeasurement;
}

async function measureHere(
  format: 'csv' | 'parquet',
  bytes: Uint8Array,
  rowsPerMessage: number,
): Promise<WorkersMeasurement> {
  const schema = (await schemas())[format];
  const validate = createAjvValidatorFactory()(schema, `bench/${format}`);
  (globalThis as { gc?: () => void }).gc?.();
  const held = process.memoryUsage().heapUsed;
  const resident = statusMb('self', 'VmRSS');
  const before = process.cpuUsage();
  const { result, peak } = await sampling(
    () => process.memoryUsage().heapUsed,
    () => runQueuePipeline({ format, bytes, schema, validate, queues: droppingQueues(), rowsPerMessage }),
  );
  const cpu = process.cpuUsage(before);
  return {
    rows: result.rows,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakHeapMb: (peak - held) / 2 ** 20,
    rssGrowthMb: statusMb('self', 'VmHWM') - resident,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [format, file, rowsPerMessage] = process.argv.slice(2);
  const measurement = await measureHere(
    format === 'parquet' ? 'parquet' : 'csv',
    new Uint8Array(await readFile(file!)),
    Number(rowsPerMessage),
  );
  process.stdout.write(JSON.stringify(measurement));
}
