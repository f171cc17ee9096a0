/**
 * Parquet files shaped as writers other than DuckDB write them, each ingested end to end on the calling
 * thread and with worker threads: repeated fields without a LIST annotation (parquetjs-lite), INT96
 * timestamps (Spark), years past 9999, corrupt pages in the middle of a row group, and values longer
 * than JavaScript's longest string.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import parquet from 'parquetjs-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createParquetThreadPool } from '../../app/node/ingest-threads.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import { expectIngested, ingestBothWays } from '../support/parquet-ingest.js';

const threads = createParquetThreadPool(2);
afterAll(() => threads.close());

let directory: TemporaryDirectory;
beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-writers');
});
afterAll(() => directory?.remove());

/** A file parquetjs-lite writes from `rows` with `fields` (its schema), options as its writer takes them. */
async function writeWithParquetjs(
  name: string,
  fields: ConstructorParameters<typeof parquet.ParquetSchema>[0],
  rows: Array<Record<string, unknown>>,
  options: { rowGroupSize?: number; pageSize?: number; useDataPageV2?: boolean } = {},
): Promise<Uint8Array> {
  const path = join(directory.path, `${name}.parquet`);
  const writer = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema(fields), path, options);
  for (const row of rows) await writer.appendRow(row);
  await writer.close();
  return new Uint8Array(await readFile(path));
}

const ANY_ROW = { schema: { type: 'object' as const } };

describe('repeated fields without a LIST annotation (two-level lists)', () => {
  const fields = {
    id: { type: 'INT32' },
    numbers: { type: 'INT64', repeated: true },
    blobs: { type: 'BYTE_ARRAY', repeated: true },
    lines: {
      repeated: true,
      fields: { sku: { type: 'UTF8' }, qty: { type: 'INT64' }, raw: { type: 'BYTE_ARRAY', optional: true } },
    },
    wrap: { optional: true, fields: { inner: { type: 'INT64', repeated: true } } },
  };
  const rows = [
    {
      id: 1,
      numbers: [1, 2 ** 53, -(2 ** 62)],
      blobs: [Buffer.from('7'), Buffer.from([0, 255])],
      lines: [
        { sku: 'a', qty: 2 ** 60, raw: Buffer.from('x') },
        { sku: 'b', qty: -3 },
      ],
      wrap: { inner: [5, 2 ** 53] },
    },
    { id: 2, numbers: [], blobs: [], lines: [], wrap: { inner: [] } },
    { id: 3 },
  ];

  it.each([
    ['V1', false],
    ['V2', true],
  ])(
    'are arrays (INT64 as numbers or exact strings, binary as base64), empty ones [], %s pages',
    async (_version, useDataPageV2) => {
      const bytes = await writeWithParquetjs(`legacy-lists-${_version}`, fields, rows, { useDataPageV2 });
      const run = await ingestBothWays(threads, bytes, ANY_ROW);
      expectIngested(run, 3, 0);
      expect(run.events.map((event) => event.data)).toEqual([
        {
          id: 1,
          numbers: [1, '9007199254740992', '-4611686018427387904'],
          blobs: ['Nw==', 'AP8='],
          lines: [
            { sku: 'a', qty: '1152921504606846976', raw: 'eA==' },
            { sku: 'b', qty: -3, raw: null },
          ],
          wrap: { inner: [5, '9007199254740992'] },
        },
        { id: 2, numbers: [], blobs: [], lines: [], wrap: { inner: [] } },
        { id: 3, numbers: [], blobs: [], lines: [], wrap: null },
      ]);
    },
  );
});

/**
 * A file of one required INT96 column holding `values` (Julian day and signed nanoseconds of the day, as
 * Spark writes them). parquetjs-lite writes INT96 from a 64-bit integer only, so it writes placeholders
 * in one uncompressed V1 page, whose 12-byte values are then overwritten in place.
 */
async function writeInt96(name: string, values: Array<{ julianDay: number; nanoseconds: bigint }>) {
  const bytes = await writeWithParquetjs(
    name,
    { at: { type: 'INT96', compression: 'UNCOMPRESSED' } },
    values.map((_, index) => ({ at: index })),
    { useDataPageV2: false },
  );
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteLength) as ArrayBuffer);
  const chunk = metadata.row_groups[0]!.columns[0]!.meta_data!;
  expect(chunk.type).toBe('INT96');
  const reader = {
    view: new DataView(bytes.buffer, bytes.byteOffset),
    offset: Number(chunk.data_page_offset),
  };
  const header = parquetHeader(reader);
  expect(header.data_page_header?.num_values).toBe(values.length);
  for (const [index, { julianDay, nanoseconds }] of values.entries()) {
    const at = reader.offset + index * 12;
    expect(reader.view.getBigInt64(at, true)).toBe(BigInt(index));
    reader.view.setBigInt64(at, nanoseconds, true);
    reader.view.setUint32(at + 8, julianDay, true);
  }
  return bytes;
}

describe('INT96 timestamps', () => {
  it('decode to their instant, with negative nanoseconds of the day (Spark) and before 1970', async () => {
    const HOUR = 3_600_000_000_000n;
    const bytes = await writeInt96('int96', [
      { julianDay: 2_440_588, nanoseconds: 0n },
      { julianDay: 2_451_545, nanoseconds: 13n * HOUR + 123_456_789n },
      { julianDay: 2_451_545, nanoseconds: -HOUR },
      { julianDay: 2_440_589, nanoseconds: -1n },
      { julianDay: 2_415_021, nanoseconds: 12n * HOUR + 123n },
      { julianDay: 2_440_587, nanoseconds: -1n },
      { julianDay: 2_299_161, nanoseconds: -24n * HOUR },
    ]);
    const run = await ingestBothWays(threads, bytes, ANY_ROW);
    expectIngested(run, 7, 0);
    expect(run.events.map((event) => event.data.at)).toEqual([
      '1970-01-01T00:00:00.000000000Z',
      '2000-01-01T13:00:00.123456789Z',
      '1999-12-31T23:00:00.000000000Z',
      '1970-01-01T23:59:59.999999999Z',
      '1900-01-01T12:00:00.000000123Z',
      '1969-12-30T23:59:59.999999999Z',
      '1582-10-14T00:00:00.000000000Z',
    ]);
  });
});
