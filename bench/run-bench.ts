/**
 * `npm run bench`: end-to-end CSV throughput and peak RSS against raw papaparse on the same file, in the
 * same run. Each measurement runs in a fresh process (so peak RSS is its own), modes alternate, and the
 * medians of BENCH_RUNS runs (default 3) are reported. BENCH_MB sets the file size (default 1000 MB).
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../app/node/load-config.js';
import { generateOrdersCsv } from './generate-orders-csv.js';

const run = promisify(execFile);
const megabytes = Number(process.env.BENCH_MB ?? 1000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const dataDir = join(packageRoot, 'bench', '.data');
const file = join(dataDir, `orders-${megabytes}mb.csv`);
const measure = fileURLToPath(new URL('./measure.js', import.meta.url));

interface Measurement {
  mode: string;
  rows: number;
  seconds: number;
  peakRssMb: number;
}

await mkdir(dataDir, { recursive: true });
if (!existsSync(file)) {
  process.stderr.write(`generating ${file} ...\n`);
  await generateOrdersCsv(file, megabytes * 1e6);
}
const bytes = statSync(file).size;
const results: Record<string, Measurement[]> = { 'raw-papaparse': [], pipeline: [] };
for (let index = 0; index < runs; index++) {
  for (const mode of Object.keys(results)) {
    const { stdout } = await run(process.execPath, [measure, mode, file], { maxBuffer: 1 << 20 });
    const measurement = JSON.parse(stdout.trim().split('\n').pop()!) as Measurement;
    results[mode]!.push(measurement);
    process.stderr.write(
      `  run ${index + 1} ${mode}: ${measurement.seconds.toFixed(2)} s, peak RSS ${measurement.peakRssMb.toFixed(0)} MB\n`,
    );
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const summary = (mode: string) => {
  const list = results[mode]!;
  const seconds = median(list.map((m) => m.seconds));
  return {
    rows: list[0]!.rows,
    seconds,
    rowsPerSecond: list[0]!.rows / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    peakRssMb: Math.max(...list.map((m) => m.peakRssMb)),
  };
};
const raw = summary('raw-papaparse');
const pipeline = summary('pipeline');
const line = (name: string, s: ReturnType<typeof summary>) =>
  `${name.padEnd(28)} ${Math.round(s.rowsPerSecond).toLocaleString('en').padStart(11)} rows/s ${s.mbPerSecond.toFixed(1).padStart(7)} MB/s   peak RSS ${s.peakRssMb.toFixed(0).padStart(4)} MB`;
console.log(
  `CSV bench: ${(bytes / 1e6).toFixed(0)} MB, ${raw.rows.toLocaleString('en')} rows, median of ${runs} runs`,
);
console.log(line('raw papaparse (baseline)', raw));
console.log(line('dropgate -> local sink', pipeline));
console.log(
  `throughput ratio pipeline / raw papaparse: ${(pipeline.rowsPerSecond / raw.rowsPerSecond).toFixed(2)} (target >= 0.50)`,
);
console.log(`peak RSS of the pipeline: ${pipeline.peakRssMb.toFixed(0)} MB (target < 256 MB)`);
