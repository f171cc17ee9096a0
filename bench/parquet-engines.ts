/**
 * Which Parquet engine can Dropgate stand on? Reads DuckDB-written files (2M rows, 20 row groups, a
 * DECIMAL column, dictionary-encoded VARCHAR and INT32 columns) with parquetjs-lite 0.8.7 (the design's
 * choice: ParquetReader.openFile and a cursor) and with hyparquet + hyparquet-compressors (parquetRead
 * one row group at a time), and prints for each: whether it opens the file, rows/s (median of
 * BENCH_ENGINE_RUNS runs, default 3), bytes it fetched, peak RSS, and the JS types of INT32 and DECIMAL
 * values. Every measurement runs in a process of its own, so peak RSS is that engine's alone.
 *   npm run build && node dist/bench/parquet-engines.js
 *   node dist/bench/parquet-engines.js measure <engine> <file>   (one measurement, one JSON line)
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { asyncBufferFromFile, type AsyncBuffer } from 'hyparquet';
import { packageRoot } from '../app/node/load-config.js';
import { readEveryRowGroup } from './hyparquet-rows.js';

const ROWS = Number(process.env.BENCH_ENGINE_ROWS ?? 2_000_000);
const ROW_GROUPS = 20;
const RUNS = Number(process.env.BENCH_ENGINE_RUNS ?? 3);
/** A run slower than this is not repeated (parquetjs-lite takes over a minute a file), to keep the bench short. */
const SLOW_SECONDS = Number(process.env.BENCH_ENGINE_SLOW_SECONDS ?? 20);
const dataDir = join(packageRoot, 'bench', '.data', 'engines');

interface FileVariant {
  name: string;
  decimal: boolean;
  options: string;
}

const variants: FileVariant[] = [
  { name: 'snappy', decimal: true, options: 'COMPRESSION snappy' },
  { name: 'zstd', decimal: true, options: 'COMPRESSION zstd' },
  { name: 'v2-snappy', decimal: true, options: 'COMPRESSION snappy, PARQUET_VERSION V2' },
  // Without the DECIMAL column, so each of parquetjs-lite's other failures shows on its own.
  { name: 'snappy-no-decimal', decimal: false, options: 'COMPRESSION snappy' },
  { name: 'zstd-no-decimal', decimal: false, options: 'COMPRESSION zstd' },
  { name: 'v2-no-decimal', decimal: false, options: 'COMPRESSION snappy, PARQUET_VERSION V2' },
];

/**
 * `unit_price` is `cents / 100` exactly, with `cents` a function of `id`, so a reader's value can be
 * checked against the exact decimal. `sku` and `currency` are dictionary-encoded VARCHAR; `quantity`
 * is a dictionary-encoded INT32, `id` a plain one.
 */
async function writeVariant(variant: FileVariant, path: string): Promise<void> {
  // Loaded here, not at the top: the measuring processes must not carry DuckDB in their RSS.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET threads = 1`);
    await connection.run(`
      COPY (
        SELECT
          i::INTEGER AS id,
          'ORD-' || i AS order_id,
          'SKU-' || (i % 5000) AS sku,
          CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'EUR' END AS currency,
          (i % 20 + 1)::INTEGER AS quantity,
          ${variant.decimal ? `(((i * 37) % 10000000)::BIGINT / 100)::DECIMAL(12, 2) AS unit_price,` : ''}
          TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i) SECOND AS ordered_at,
          CASE WHEN i % 3 = 0 THEN NULL ELSE 'leave at door' END AS note
        FROM range(${ROWS}) AS t(i)
      ) TO '${path}.tmp' (FORMAT parquet, ${variant.options}, ROW_GROUP_SIZE ${Math.ceil(ROWS / ROW_GROUPS)})`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  await rename(`${path}.tmp`, path);
}

const exactCents = (id: number) => (id * 37) % 10_000_000;

// --- one measurement, in a child process ---

interface TypeReport {
  /** JS types seen for plain INT32 (`id`), dictionary INT32 (`quantity`) and DECIMAL (`unit_price`). */
  plainInt32: string[];
  dictionaryInt32: string[];
  decimal: string[];
  /** DECIMAL values not equal to the exact decimal's nearest double (of `checked`), and one of them. */
  inexactDecimals: number;
  checked: number;
  inexactExample?: string;
}

interface Measurement {
  engine: string;
  opened: boolean;
  error?: string;
  rows: number;
  seconds: number;
  bytesFetched: number;
  peakRssMb: number;
  types?: TypeReport;
}

function typeChecker() {
  const plain = new Set<string>();
  const dictionary = new Set<string>();
  const decimal = new Set<string>();
  let inexact = 0;
  let checked = 0;
  let example: string | undefined;
  return {
    check(row: Record<string, unknown>) {
      plain.add(typeof row.id);
      dictionary.add(typeof row.quantity);
      if (!('unit_price' in row)) return;
      const value = row.unit_price;
      decimal.add(typeof value);
      checked++;
      if (Number(value) !== exactCents(Number(row.id)) / 100) {
        inexact++;
        example ??= `${String(value)} for ${(exactCents(Number(row.id)) / 100).toFixed(2)}`;
      }
    },
    report(): TypeReport {
      return {
        plainInt32: [...plain],
        dictionaryInt32: [...dictionary],
        decimal: [...decimal],
        inexactDecimals: inexact,
        checked,
        ...(example ? { inexactExample: example } : {}),
      };
    },
  };
}

interface ParquetjsLite {
  ParquetReader: {
    openFile(path: string): Promise<{
      getCursor(): { next(): Promise<Record<string, unknown> | null> };
      close(): Promise<void>;
    }>;
  };
  ParquetEnvelopeReader: {
    prototype: { read(offset: number, length: number, file?: string): Promise<Buffer> };
  };
}

async function readWithParquetjsLite(
  file: string,
  counter: { bytes: number },
  types: ReturnType<typeof typeChecker>,
) {
  const parquet = createRequire(import.meta.url)('parquetjs-lite') as ParquetjsLite;
  // Every read of the reader (header, footer, dictionaries, pages) goes through this method.
  const prototype = parquet.ParquetEnvelopeReader.prototype;
  const read = prototype.read;
  prototype.read = async function (offset, length, path) {
    const bytes = await read.call(this, offset, length, path);
    counter.bytes += bytes.length;
    return bytes;
  };
  const reader = await parquet.ParquetReader.openFile(file);
  let rows = 0;
  try {
    const cursor = reader.getCursor();
    for (let row = await cursor.next(); row; row = await cursor.next()) {
      types.check(row);
      rows++;
    }
  } finally {
    await reader.close();
  }
  return rows;
}

async function readWithHyparquet(
  file: string,
  counter: { bytes: number },
  types: ReturnType<typeof typeChecker>,
) {
  const inner = await asyncBufferFromFile(file);
  const buffer: AsyncBuffer = {
    byteLength: inner.byteLength,
    async slice(start, end) {
      const bytes = await inner.slice(start, end);
      counter.bytes += bytes.byteLength;
      return bytes;
    },
  };
  return readEveryRowGroup(buffer, (rows) => {
    for (const row of rows) types.check(row);
  });
}

const engines: Record<string, typeof readWithHyparquet> = {
  'parquetjs-lite 0.8.7': readWithParquetjsLite,
  'hyparquet + compressors': readWithHyparquet,
};

async function measure(engine: string, file: string): Promise<Measurement> {
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 20);
  const counter = { bytes: 0 };
  const types = typeChecker();
  const started = performance.now();
  let rows = 0;
  let error: string | undefined;
  try {
    rows = await engines[engine]!(file, counter, types);
  } catch (caught) {
    // parquetjs-lite throws bare strings.
    error = caught instanceof Error ? caught.message : String(caught);
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  return {
    engine,
    opened: error === undefined,
    ...(error === undefined ? { types: types.report() } : { error }),
    rows,
    seconds,
    bytesFetched: counter.bytes,
    peakRssMb: peakRss / 2 ** 20,
  };
}

// --- the comparison ---

const median = (values: number[]) => {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function describeTypes(types: TypeReport | undefined): { int32: string; decimal: string } {
  if (!types) return { int32: '-', decimal: '-' };
  const int32 = `plain ${types.plainInt32.join('|')}, dict ${types.dictionaryInt32.join('|')}`;
  if (types.decimal.length === 0) return { int32, decimal: 'no column' };
  const inexact =
    types.inexactDecimals === 0
      ? 'all exact'
      : `${types.inexactDecimals.toLocaleString('en')} of ${types.checked.toLocaleString('en')} inexact, e.g. ${types.inexactExample}`;
  return { int32, decimal: `${types.decimal.join('|')}, ${inexact}` };
}

async function compare(): Promise<void> {
  const run = promisify(execFile);
  const self = fileURLToPath(import.meta.url);
  await mkdir(dataDir, { recursive: true });
  const lines: string[][] = [];
  for (const variant of variants) {
    const file = join(dataDir, `engines-${ROWS}-${variant.name}.parquet`);
    if (!existsSync(file)) {
      process.stderr.write(`generating ${file} with DuckDB ...\n`);
      await writeVariant(variant, file);
    }
    const size = statSync(file).size;
    for (const engine of Object.keys(engines)) {
      const results: Measurement[] = [];
      for (let index = 0; index < RUNS; index++) {
        const { stdout } = await run(process.execPath, [self, 'measure', engine, file], {
          maxBuffer: 1 << 20,
        });
        const result = JSON.parse(stdout.trim().split('\n').pop()!) as Measurement;
        results.push(result);
        process.stderr.write(
          `  ${variant.name} / ${engine} run ${index + 1}: ${result.opened ? `${result.seconds.toFixed(2)} s` : result.error}\n`,
        );
        // A file an engine cannot open fails the same way every time.
        if (!result.opened || result.seconds > SLOW_SECONDS) break;
      }
      const first = results[0]!;
      const types = describeTypes(first.types);
      lines.push([
        variant.name,
        `${(size / 1e6).toFixed(1)} MB`,
        engine,
        first.opened ? 'yes' : `no: ${first.error}`,
        first.opened
          ? Math.round(first.rows / median(results.map((r) => r.seconds))).toLocaleString('en')
          : '-',
        String(results.length),
        first.opened
          ? `${(first.bytesFetched / 1e6).toFixed(1)} MB (${(first.bytesFetched / size).toFixed(2)}x)`
          : '-',
        `${Math.max(...results.map((r) => r.peakRssMb)).toFixed(0)} MB`,
        types.int32,
        types.decimal,
      ]);
    }
  }
  const header = [
    'file',
    'size',
    'engine',
    'opens',
    'rows/s',
    'runs',
    'bytes fetched',
    'peak RSS',
    'INT32 as',
    'DECIMAL as',
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  const format = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  console.log(
    `${ROWS.toLocaleString('en')} rows in ${ROW_GROUPS} row groups per file, written by DuckDB; ` +
      `rows/s is the median of ${RUNS} runs (one when a run takes over ${SLOW_SECONDS} s), each in its own process`,
  );
  console.log(format(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
  console.log(
    'bytes fetched: every byte the engine read. hyparquet first reads the last 512 KiB (its default footer ' +
      'fetch); parquetjs-lite reads min(10 MB, rest of file) for every dictionary page.',
  );
}

const [command, engine, file] = process.argv.slice(2);
if (command === 'measure') {
  if (!engine || !engines[engine] || !file) {
    console.error(`usage: parquet-engines.js measure <${Object.keys(engines).join('|')}> <file>`);
    process.exit(64);
  }
  console.log(JSON.stringify(await measure(engine, file)));
} else {
  await compare();
}
