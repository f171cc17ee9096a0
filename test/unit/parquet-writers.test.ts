/**
 * Parquet files shaped as writers other than DuckDB write them, each ingested end to end on the calling
 * thread and with worker threads: repeated fields without a LIST annotation (parquetjs-lite), INT96
 * timestamps (Spark), years past 9999, corrupt pages in the middle of a row group, and values longer
 * than JavaScript's longest string.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { parquetMetadata } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import parquet from 'parquetjs-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createParquetThreadPool } from '../../app/node/ingest-threads.js';
import { crc32 } from '../../workers/parquet/crc32.js';
import { LONGEST_STRING, unreadableError } from '../../workers/parquet/parquet-row-source.js';
import { ParquetColumnError } from '../../workers/parquet/row-group-slices.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import { openTabular, writeParquet } from '../support/parquet-fixtures.js';
import { expectIngested, expectRejected, ingestBothWays } from '../support/parquet-ingest.js';
import { withPageChecksums } from '../support/parquetjs-lite-checksums.js';

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

/** The file offsets [start, end) of each page of a column chunk, its header included, in order. */
function pagesOf(bytes: Uint8Array, chunk: { data_page_offset: bigint; total_compressed_size: bigint }) {
  const reader = {
    view: new DataView(bytes.buffer, bytes.byteOffset),
    offset: Number(chunk.data_page_offset),
  };
  const end = reader.offset + Number(chunk.total_compressed_size);
  const pages = [];
  while (reader.offset < end) {
    const start = reader.offset;
    const header = parquetHeader(reader);
    reader.offset += header.compressed_page_size;
    pages.push({ start, end: reader.offset, crc: header.crc });
  }
  return pages;
}

describe('a corrupt page in the middle of a row group', () => {
  const rows = Array.from({ length: 2_500 }, (_, index) => ({
    id: index + 1,
    amount: (index + 1) * 1_000_003,
    name: `name-${index + 1}`,
  }));

  it('is refused by its checksum before any of its rows is published, naming the column and row group', async () => {
    const written = await withPageChecksums(() =>
      writeWithParquetjs(
        'checksums',
        {
          id: { type: 'INT32' },
          amount: { type: 'INT64', compression: 'UNCOMPRESSED' },
          name: { type: 'UTF8' },
        },
        rows,
        { rowGroupSize: 1_000, pageSize: 97, useDataPageV2: false },
      ),
    );
    const metadata = parquetMetadata(written.buffer.slice(0) as ArrayBuffer);
    const amount = metadata.row_groups[1]!.columns[1]!.meta_data!;
    expect(amount.path_in_schema).toEqual(['amount']);
    const pages = pagesOf(written, amount);
    expect(pages.every((page) => page.crc !== undefined)).toBe(true);

    // Intact, every row arrives.
    expectIngested(await ingestBothWays(threads, written, ANY_ROW), rows.length, 0);

    // One value of the second row group's 7th page of amounts (rows 1583-1679) altered.
    const bytes = new Uint8Array(written);
    bytes[pages[6]!.end - 3]! ^= 0x40;
    const run = await ingestBothWays(threads, bytes, ANY_ROW);
    expectRejected(run, ['row group 2 of 3, column amount, page 7', 'checksum']);
    // The row group's first 512 rows were made from its first 6 pages, and nothing else.
    expect(run.events.map((event) => event.data)).toEqual(rows.slice(0, 1_512));
    expect(run.summaries[0]!.data.rowsPublished).toBe(1_512);
  });
});

describe('a value longer than the longest JavaScript string', () => {
  // V8 refuses such a string before making it, so the real error is cheap to get.
  const tooLong = (): RangeError => {
    try {
      'x'.repeat(LONGEST_STRING + 1);
    } catch (error) {
      return error as RangeError;
    }
    throw new Error(`V8 made a string of ${LONGEST_STRING + 1} characters`);
  };

  it('rejects the file saying what the limit is, not that the file is unreadable', () => {
    const where = 'row group 2 of 3';
    for (const cause of [
      tooLong(),
      // What Node's TextDecoder throws for bytes that would decode past the limit.
      Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), {
        code: 'ERR_STRING_TOO_LONG',
      }),
    ]) {
      const error = unreadableError(where, new ParquetColumnError('payload', 'row 1234', cause));
      expect(error.code).toBe('FILE_UNREADABLE');
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(
        'a value of the Parquet file (row group 2 of 3, column payload, row 1234) is longer than the longest ' +
          'string JavaScript holds (536,870,888 characters; binary values count 4 base64 characters for ' +
          'every 3 bytes), so it cannot be carried in an event',
      );
    }
    expect(
      unreadableError(where, new RangeError('Offset is outside the bounds of the DataView')).message,
    ).toBe('not a readable Parquet file (row group 2 of 3): it is corrupt');
  });
});

describe('page checksums', () => {
  it('are the CRC-32 zlib computes, as a signed 32-bit integer', () => {
    const bytes = new Uint8Array(100_000).map((_, index) => (index * 7919) % 251);
    for (const length of [0, 1, 3, 1000, bytes.length]) {
      expect(crc32(bytes.subarray(0, length))).toBe(zlibCrc32(bytes.subarray(0, length)) | 0);
    }
  });
});

describe('dates and timestamps outside years 0000-9999', () => {
  it('are extended-year RFC 3339 strings with their seconds, at every unit that reaches them', async () => {
    const { connection, close } = await openTabular();
    let bytes: Uint8Array;
    try {
      const path = await writeParquet(
        connection,
        directory.path,
        'extended-years',
        `SELECT TIMESTAMP '52951-07-27 10:00:00' AS at_us, TIMESTAMP_MS '52951-07-27 10:00:00.5' AS at_ms,
           DATE '52951-07-27' AS day, TIMESTAMP_NS '2262-04-11 00:00:00.000000001' AS at_ns,
           TIMESTAMP_NS '1677-09-22 00:00:00' AS early_ns`,
      );
      bytes = new Uint8Array(await readFile(path));
    } finally {
      close();
    }
    const run = await ingestBothWays(threads, bytes, ANY_ROW);
    expectIngested(run, 1, 0);
    // Nanoseconds in an INT64 reach years 1677 to 2262 only.
    expect(run.events[0]!.data).toEqual({
      at_us: '+052951-07-27T10:00:00.000000Z',
      at_ms: '+052951-07-27T10:00:00.500Z',
      day: '+052951-07-27',
      at_ns: '2262-04-11T00:00:00.000000001Z',
      early_ns: '1677-09-22T00:00:00.000000000Z',
    });
  });
});
