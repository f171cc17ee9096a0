/**
 * Parquet bytes fuzzed through the pipeline entry (`ingestFile`): valid files written by DuckDB (every
 * codec, V1 and V2 pages, dictionaries, several row groups) and parquetjs-lite (nested, repeated and
 * optional fields, small pages), damaged by bit flips, byte overwrites, truncations and splices of their
 * footers and page headers. Every case must be ingested or rejected as unreadable within a watchdog's
 * time, never fail as a fault, account for every row, and, when a damage confined to the data pages
 * gets the file rejected, have published only rows that equal the undamaged file's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import parquet from 'parquetjs-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createParquetThreadPool } from '../../app/node/ingest-threads.js';
import type { RowSchema } from '../../schemas/dataset.js';
import type { CompiledDataset } from '../../workers/ingest-file.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import { testDataset } from '../support/datasets.js';
import { TABULAR_SCHEMA, writeParquetVariants } from '../support/parquet-fixtures.js';
import { mutate, mutationArbitrary, type Mutation } from './support/csv-arbitraries.js';
import { expectAccounted, ingestBytes } from './support/ingest-outcome.js';
import { runFuzz, withinTime } from './support/run-fuzz.js';

const KEY = 'vendors/acme/orders/x.parquet';
/** Generous: a damaged file of a few KB ingests in milliseconds; the bounded decoders keep it so. */
const WATCHDOG_MS = 10_000;
const TIMEOUT_MS = 240_000;

interface ValidFile {
  name: string;
  bytes: Uint8Array;
  dataset: CompiledDataset;
  /** Each row's event `data`, by row number, as the undamaged file publishes it. */
  rows: Map<number, unknown>;
  /** Where the footer (and its length and magic number) starts. */
  footerStart: number;
}

const threads = createParquetThreadPool(1);
let directory: TemporaryDirectory;
const files: ValidFile[] = [];

beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-fuzz');
  const tabular = testDataset({ name: 'tabular', format: 'parquet', schema: TABULAR_SCHEMA });
  const written = await writeParquetVariants(directory.path);
  const chosen = [
    'snappy',
    'gzip',
    'zstd',
    'uncompressed',
    'v1-dictionary',
    'v2-plain',
    'v2-row-groups-of-2',
  ];
  for (const { variant, bytes } of written.filter(({ variant }) => chosen.includes(variant.name))) {
    files.push(await validFile(`duckdb ${variant.name}`, bytes, tabular));
  }
  const open = testDataset({ name: 'nested', format: 'parquet', schema: { type: 'object' } as RowSchema });
  for (const useDataPageV2 of [false, true]) {
    const bytes = await parquetjsFile(useDataPageV2);
    files.push(await validFile(`parquetjs-lite ${useDataPageV2 ? 'V2' : 'V1'}`, bytes, open));
  }
}, 120_000);

afterAll(async () => {
  await threads.close();
  await directory.remove();
});

/** The file as its undamaged self ingests: it must, completely, or the fuzzer would damage a broken file. */
async function validFile(name: string, bytes: Uint8Array, dataset: CompiledDataset): Promise<ValidFile> {
  const outcome = await ingestBytes(bytes, { dataset, key: KEY });
  expect(outcome.result.status, name).toBe('ingested');
  expect(outcome.deadLetters, name).toEqual([]);
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  return {
    name,
    bytes,
    dataset,
    rows: new Map(outcome.events.map((event) => [event.rownumber!, event.data])),
    footerStart: bytes.length - 8 - footerLength,
  };
}

/** parquetjs-lite's own shapes: optional, repeated and nested fields, a page every few rows. */
async function parquetjsFile(useDataPageV2: boolean): Promise<Uint8Array> {
  const schema = new parquet.ParquetSchema({
    id: { type: 'INT64' },
    name: { type: 'UTF8', optional: true, compression: 'GZIP' },
    flag: { type: 'BOOLEAN' },
    qty: { type: 'INT32', optional: true },
    tags: { type: 'UTF8', repeated: true },
    address: { optional: true, fields: { street: { type: 'UTF8' }, zip: { type: 'INT32', optional: true } } },
  });
  const path = join(directory.path, `parquetjs-${useDataPageV2 ? 'v2' : 'v1'}.parquet`);
  const writer = await parquet.ParquetWriter.openFile(schema, path, {
    rowGroupSize: 20,
    pageSize: 7,
    useDataPageV2,
  });
  for (let i = 0; i < 45; i++) {
    await writer.appendRow({
      id: i,
      ...(i % 7 === 0 ? {} : { name: `name-${i}` }),
      flag: i % 3 === 0,
      ...(i % 4 === 0 ? {} : { qty: i * 3 }),
      tags: Array.from({ length: i % 4 }, (_, k) => `t${i}-${k}`),
      ...(i % 5 === 0 ? {} : { address: { street: `${i} Main St`, ...(i % 2 ? { zip: i } : {}) } }),
    });
  }
  await writer.close();
  return new Uint8Array(await readFile(path));
}

/** Damage aimed where Parquet readers are fragile: the footer, the page headers, the file's end. */
function aimed(file: ValidFile): fc.Arbitrary<Mutation[]> {
  const scale = (offset: number) => Math.floor((offset / (file.bytes.length + 1)) * 1_000_001) + 1;
  const inFooter = fc
    .integer({ min: file.footerStart, max: file.bytes.length - 1 })
    .map((offset) => scale(offset));
  // Page headers follow the 4-byte magic number and each other; the first is at a known place.
  const nearPageHeader = fc.integer({ min: 4, max: Math.min(file.footerStart - 1, 64) }).map(scale);
  const at = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), inFooter, nearPageHeader);
  const single = fc.oneof(
    at.chain((position) => mutationArbitrary.map((mutation) => ({ ...mutation, at: position }))),
    mutationArbitrary,
  );
  // One byte of a page changed: the damage whose rows must never be published before a rejection.
  const inPages = fc.integer({ min: 4, max: file.footerStart - 9 }).map(scale);
  const pageByte = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: inPages, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      kind: fc.constant('overwrite' as const),
      at: inPages,
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 2 }),
    }),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.array(single, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: pageByte.map((mutation) => [mutation]) },
  );
}

/** Whether `mutations` are one change of a byte or two, all before the footer (inside the pages). */
function confinedToPages(file: ValidFile, mutations: Mutation[]): boolean {
  if (mutations.length !== 1) return false;
  const [mutation] = mutations as [Mutation];
  const position = Math.floor((mutation.at / 1_000_001) * (file.bytes.length + 1));
  if (position < 4 || position >= file.footerStart - 8) return false;
  return mutation.kind === 'flip' || (mutation.kind === 'overwrite' && mutation.bytes.length <= 2);
}

describe('Parquet fuzzing', () => {
  it(
    'ingests or rejects damaged files as unreadable, in bounded time, never publishing garbage before a rejection',
    async () => {
      const tally = { ingested: 0, rejected: 0, checked: 0 };
      const cases = fc
        .integer({ min: 0, max: files.length - 1 })
        .chain((index) => fc.tuple(fc.constant(files[index]!), aimed(files[index]!), fc.boolean()));
      await runFuzz(
        'parquet-mutated',
        fc.asyncProperty(cases, async ([file, mutations, pooled]) => {
          const bytes = mutations.reduce(mutate, file.bytes);
          const outcome = await withinTime(
            WATCHDOG_MS,
            `${file.name} damaged by ${JSON.stringify(mutations)}`,
            () =>
              ingestBytes(bytes, {
                dataset: file.dataset,
                key: KEY,
                ...(pooled ? { rowGroupPool: threads } : {}),
              }),
          );
          expectAccounted(outcome);
          const { result } = outcome;
          tally[result.status as 'ingested' | 'rejected']++;
          if (result.status === 'rejected') {
            expect(result.summary.error!.code).toBe('FILE_UNREADABLE');
            if (confinedToPages(file, mutations) && outcome.events.length > 0) {
              tally.checked++;
              for (const event of outcome.events) expect(event.data).toEqual(file.rows.get(event.rownumber!));
            }
          }
        }),
        {
          cases: 400,
          seed: 1212,
          outcomes: () =>
            `${tally.ingested} ingested, ${tally.rejected} rejected, ${tally.checked} with rows out before a rejection checked`,
        },
      );
    },
    TIMEOUT_MS,
  );
});
