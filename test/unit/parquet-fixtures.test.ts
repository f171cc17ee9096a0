/**
 * Parquet files written by DuckDB (see test/support/parquet-fixtures.ts), each ingested end to end from
 * a memory store and compared with rows written out by hand: every codec, V1 and V2 pages, dictionary
 * and plain encodings, several row groups, nulls, nested types, exact decimals and INT64, timestamps at
 * three units. Then the dead letters of a stricter schema, DECIMAL as number, an empty table, NaN, the
 * integer widths, and the files rejected as a whole.
 */
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowSchema } from '../../schemas/dataset.js';
import { createParquetThreadPool } from '../../app/node/ingest-threads.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import {
  PARQUET_VARIANTS,
  TABULAR_FAILING_REJECTIONS,
  TABULAR_FAILING_SCHEMA,
  TABULAR_ROWS,
  TABULAR_SCHEMA,
  expectedRows,
  openTabular,
  relabelCodec,
  writeParquet,
  writeParquetVariants,
  type ParquetVariant,
} from '../support/parquet-fixtures.js';
import {
  expectIngested,
  expectRejected,
  ingestBothWays,
  ingestParquet,
  numbered,
  type IngestOptions,
  type Run,
} from '../support/parquet-ingest.js';

const COLUMNS = Object.keys(TABULAR_ROWS[0]!);

const threads = createParquetThreadPool(2);
afterAll(() => threads.close());

/** Ingests on the calling thread and with worker threads (both must agree), by TABULAR_SCHEMA unless given. */
const ingest = (bytes: Uint8Array, options: Partial<IngestOptions> = {}): Promise<Run> =>
  ingestBothWays(threads, bytes, { schema: TABULAR_SCHEMA, ...options });

function footerOf(bytes: Uint8Array): { start: number; length: number } {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  return { start: bytes.length - 8 - length, length };
}

const metadataOf = (bytes: Uint8Array): FileMetaData =>
  parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);

let directory: TemporaryDirectory;
const files = new Map<string, Uint8Array>();

beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-fixtures');
  for (const { variant, bytes } of await writeParquetVariants(directory.path)) files.set(variant.name, bytes);
});

afterAll(() => directory?.remove());

/** A file of its own from `query` over the table (`tabular`), written with `options`. */
async function writeQuery(name: string, query: string, options = ''): Promise<Uint8Array> {
  const { connection, close } = await openTabular();
  try {
    return new Uint8Array(
      await readFile(await writeParquet(connection, directory.path, name, query, options)),
    );
  } finally {
    close();
  }
}

describe('DuckDB-written variants of one table', () => {
  it('the expected rows name every column in every row', () => {
    for (const row of TABULAR_ROWS) expect(Object.keys(row)).toEqual(COLUMNS);
  });

  describe.each(PARQUET_VARIANTS.map((variant) => [variant.name, variant] as const))(
    '%s',
    (_name, variant: ParquetVariant) => {
      it('is written as the variant says: codec, encodings, row groups, physical types', () => {
        const metadata = metadataOf(files.get(variant.name)!);
        const chunks = metadata.row_groups.flatMap((group) =>
          group.columns.map((column) => column.meta_data!),
        );
        expect(metadata.row_groups.length).toBe(variant.expect.rowGroups);
        expect(metadata.row_groups.reduce((sum, group) => sum + Number(group.num_rows), 0)).toBe(
          TABULAR_ROWS.length * variant.copies,
        );
        expect(new Set(chunks.map((chunk) => chunk.codec))).toEqual(new Set([variant.expect.codec]));
        const isDictionary = (encoding: string) =>
          encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY';
        const plainChunks = chunks
          .filter(
            (chunk) => !chunk.encodings.some(isDictionary) && chunk.dictionary_page_offset === undefined,
          )
          .map((chunk) => `${chunk.path_in_schema.join('.')}:${chunk.type}`);
        if (variant.expect.dictionary === 'all') {
          expect(new Set(plainChunks)).toEqual(new Set(['flag:BOOLEAN', 'precise:FIXED_LEN_BYTE_ARRAY']));
        }
        if (variant.expect.dictionary === 'none') expect(plainChunks).toHaveLength(chunks.length);
        if (variant.expect.pageEncoding) {
          const big = chunks.filter((chunk) => chunk.path_in_schema.join('.') === 'big');
          for (const chunk of big) expect(chunk.encodings).toContain(variant.expect.pageEncoding);
        }
        const types = Object.fromEntries(
          metadata.schema.filter((element) => element.type).map((element) => [element.name, element.type]),
        );
        expect(types).toMatchObject({
          id: 'INT32',
          big: 'INT64',
          price: 'INT64',
          precise: 'FIXED_LEN_BYTE_ARRAY',
          whole: 'INT32',
          payload: 'BYTE_ARRAY',
        });
      });

      it('ingests every row, exactly as written, numbered across row groups', async () => {
        const run = await ingest(files.get(variant.name)!);
        const rows = expectedRows(variant);

        expect(run.events.map((event) => ({ row: event.rownumber, data: event.data }))).toStrictEqual(
          numbered(rows),
        );
        expect(new Set(run.events.map((event) => event.id)).size).toBe(rows.length);
        expect(run.deadLetters).toEqual([]);
        expectIngested(run, rows.length, 0);
      });
    },
  );

  it('the dictionary variants carry both dictionary kinds, and the plain ones none', () => {
    const encodings = (name: string) =>
      new Set(
        metadataOf(files.get(name)!).row_groups.flatMap((group) =>
          group.columns.flatMap((c) => c.meta_data!.encodings),
        ),
      );
    expect(encodings('v1-dictionary')).toContain('PLAIN_DICTIONARY');
    expect(encodings('v2-dictionary')).toContain('RLE_DICTIONARY');
    expect(encodings('v1-plain')).not.toContain('PLAIN_DICTIONARY');
    expect(encodings('v2-plain')).not.toContain('RLE_DICTIONARY');
  });
});

describe('rows a stricter schema rejects', () => {
  it('become dead letters with their row number, across row groups, naming each failing field', async () => {
    const run = await ingest(files.get('row-groups-of-3')!, { schema: TABULAR_FAILING_SCHEMA });
    const rejectedRows = new Set(TABULAR_FAILING_REJECTIONS.map((rejection) => rejection.row));
    const accepted = TABULAR_ROWS.map((row, index) => ({ row: index + 1, data: row })).filter(
      ({ row }) => !rejectedRows.has(row),
    );

    expect(run.events.map((event) => ({ row: event.rownumber, data: event.data }))).toStrictEqual(accepted);
    expect(
      run.deadLetters.map(({ row, line, errors }) => ({
        row,
        line,
        fields: errors.map((issue) => issue.field).sort(),
      })),
    ).toEqual(TABULAR_FAILING_REJECTIONS.map(({ row, fields }) => ({ row, line: row, fields })));
    for (const deadLetter of run.deadLetters) {
      expect(deadLetter.raw).toStrictEqual(TABULAR_ROWS[deadLetter.row - 1]);
      for (const issue of deadLetter.errors.filter((error) => error.field === 'big')) {
        expect(issue.reason).toContain('outside the exact range');
        expect(issue.reason).toContain(String(TABULAR_ROWS[deadLetter.row - 1]!.big));
      }
    }
    const summary = expectIngested(run, accepted.length, TABULAR_FAILING_REJECTIONS.length);
    expect(summary.firstErrors).toEqual(
      run.deadLetters
        .flatMap(({ row, line, errors }) => errors.map(({ field, reason }) => ({ row, line, field, reason })))
        .slice(0, 10),
    );
  });
});

describe('DECIMAL typed as number by the schema', () => {
  it('is the number of its exact text', async () => {
    const schema: RowSchema = {
      ...TABULAR_SCHEMA,
      properties: {
        ...TABULAR_SCHEMA.properties,
        price: { type: ['number', 'null'] },
        precise: { type: ['number', 'null'] },
        whole: { type: ['number', 'null'] },
      },
    };
    const run = await ingest(files.get('snappy')!, { schema });
    const asNumber = (value: unknown) => (value === null ? null : Number(value as string));
    const rows = TABULAR_ROWS.map((row) => ({
      ...row,
      price: asNumber(row.price),
      precise: asNumber(row.precise),
      whole: asNumber(row.whole),
    }));

    expect(rows[0]).toMatchObject({ price: 19898.51, whole: 123 });
    expect(rows[1]).toMatchObject({ price: 5, precise: -0.000001, whole: -9999 });
    expect(run.events.map((event) => ({ row: event.rownumber, data: event.data }))).toStrictEqual(
      numbered(rows),
    );
    expectIngested(run, rows.length, 0);
  });

  it('stays an exact string when the schema allows both', async () => {
    const schema: RowSchema = {
      ...TABULAR_SCHEMA,
      properties: { ...TABULAR_SCHEMA.properties, price: { type: ['number', 'string', 'null'] } },
    };
    const run = await ingest(files.get('snappy')!, { schema });
    expect(run.events.map((event) => event.data.price)).toEqual(TABULAR_ROWS.map((row) => row.price));
  });
});

describe('other Parquet files', () => {
  it('a `.parquet` key of an `auto` dataset is read as Parquet', async () => {
    const run = await ingest(files.get('zstd')!, { format: 'auto', key: 'vendors/acme/orders/auto.parquet' });
    expect(run.events.map((event) => event.data)).toStrictEqual([...TABULAR_ROWS]);
    expectIngested(run, TABULAR_ROWS.length, 0);
  });

  it('an empty table ingests with no events', async () => {
    const bytes = await writeQuery('empty', 'SELECT * FROM tabular WHERE false');
    expect(metadataOf(bytes).num_rows).toBe(0n);
    const run = await ingest(bytes);
    expect(run.events).toEqual([]);
    expect(run.deadLetters).toEqual([]);
    expectIngested(run, 0, 0);
  });

  it('NaN and infinities, which JSON cannot carry, reject the row naming the field', async () => {
    const bytes = await writeQuery(
      'not-finite',
      String.raw`SELECT * FROM (VALUES
        (1, 'NaN'::DOUBLE, 1.5::REAL, [1.0]),
        (2, 'Infinity'::DOUBLE, 2.5::REAL, [1.0]),
        (3, 0.5, '-Infinity'::REAL, [1.0]),
        (4, 0.25, 0.5::REAL, [2.0, 'NaN'::DOUBLE]),
        (5, -0.5, NULL, [])
      ) AS t(id, ratio, single, series)`,
    );
    const schema: RowSchema = {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        ratio: { type: 'number' },
        single: { type: ['number', 'null'] },
        series: { type: 'array', items: { type: 'number' } },
      },
    };
    const run = await ingest(bytes, { schema });

    expect(run.events.map((event) => ({ row: event.rownumber, data: event.data }))).toStrictEqual([
      { row: 5, data: { id: 5, ratio: -0.5, single: null, series: [] } },
    ]);
    expect(
      run.deadLetters.map(({ row, line, errors }) => ({ row, line, fields: errors.map((e) => e.field) })),
    ).toEqual([
      { row: 1, line: 1, fields: ['ratio'] },
      { row: 2, line: 2, fields: ['ratio'] },
      { row: 3, line: 3, fields: ['single'] },
      { row: 4, line: 4, fields: [expect.stringMatching(/^series/)] },
    ]);
    expectIngested(run, 1, 4);
  });

  it('every integer width is a JSON number, and 64-bit ones beyond 2^53 - 1 exact strings', async () => {
    const bytes = await writeQuery(
      'integers',
      `SELECT * FROM (VALUES
        ((-128)::TINYINT, (-32768)::SMALLINT, (-2147483648)::INTEGER, 255::UTINYINT, 65535::USMALLINT,
         4294967295::UINTEGER, 9007199254740991::UBIGINT, (-9007199254740991)::BIGINT),
        (127::TINYINT, 32767::SMALLINT, 2147483647::INTEGER, 0::UTINYINT, 0::USMALLINT,
         0::UINTEGER, 18446744073709551615::UBIGINT, 9223372036854775807::BIGINT)
      ) AS t(i8, i16, i32, u8, u16, u32, u64, i64)`,
    );
    const run = await ingest(bytes, { schema: { type: 'object' } });

    expect(run.events.map((event) => event.data)).toStrictEqual([
      {
        i8: -128,
        i16: -32768,
        i32: -2147483648,
        u8: 255,
        u16: 65535,
        u32: 4294967295,
        u64: 9007199254740991,
        i64: -9007199254740991,
      },
      {
        i8: 127,
        i16: 32767,
        i32: 2147483647,
        u8: 0,
        u16: 0,
        u32: 0,
        u64: '18446744073709551615',
        i64: '9223372036854775807',
      },
    ]);
  });
});

describe('files rejected as a whole', () => {
  const snappy = () => files.get('snappy')!;

  it('a file that is not Parquet', async () => {
    const run = await ingest(new TextEncoder().encode('id,big\n1,2\n'));
    expectRejected(run, ['Parquet']);
    expect(run.events).toEqual([]);
  });

  it('an empty object', async () => {
    const run = await ingest(new Uint8Array(0));
    expectRejected(run, ['Parquet']);
  });

  it.each([
    ['its first half', (bytes: Uint8Array) => bytes.slice(0, bytes.length >> 1)],
    ['all but its last byte', (bytes: Uint8Array) => bytes.slice(0, bytes.length - 1)],
    ['the first 4 bytes (the magic) only', (bytes: Uint8Array) => bytes.slice(0, 4)],
    [
      'its footer cut in the middle, the length and magic kept',
      (bytes: Uint8Array) => {
        const footer = footerOf(bytes);
        const cut = footer.start + (footer.length >> 1);
        return new Uint8Array([...bytes.slice(0, cut), ...bytes.slice(bytes.length - 8)]);
      },
    ],
  ])('a truncated file: %s', async (_label, truncate) => {
    const run = await ingest(truncate(snappy()));
    expectRejected(run, ['Parquet']);
    expect(run.events).toEqual([]);
  });

  it.each([
    ['zeroed', 0x00],
    ['overwritten with 0xFF', 0xff],
    ['overwritten with 0x15', 0x15],
  ])('a corrupt footer: its metadata %s', async (_label, fill) => {
    const bytes = new Uint8Array(snappy());
    const footer = footerOf(bytes);
    bytes.fill(fill, footer.start, footer.start + footer.length);
    const run = await ingest(bytes);
    expectRejected(run, ['Parquet']);
    expect(run.events).toEqual([]);
  });

  it('a corrupt page header is said to be corrupt, not what hyparquet read as undefined', async () => {
    const bytes = new Uint8Array(snappy());
    // Two zero bytes (STOP fields) five bytes into the first page header: its data_page_header is gone.
    const page = Number(metadataOf(bytes).row_groups[0]!.columns[0]!.meta_data!.data_page_offset);
    bytes.set([0, 0], page + 5);
    const run = await ingest(bytes);
    expectRejected(run, ['not a readable Parquet file (row group 1 of 1, column id, page 1): it is corrupt']);
    expect(run.summaries[0]!.data.error?.message).not.toMatch(/undefined|NaN/);
  });

  it('a footer whose schema no longer holds together (any of its first 600 bytes zeroed) is unreadable', async () => {
    const bytes = snappy();
    const footer = footerOf(bytes);
    const outcomes = new Set<string>();
    for (let at = footer.start; at < Math.min(footer.start + 600, footer.start + footer.length); at++) {
      const damaged = new Uint8Array(bytes);
      damaged[at] = 0;
      const run = await ingestParquet(damaged, { schema: { type: 'object' } });
      const { status } = run.result;
      outcomes.add(
        status === 'rejected'
          ? `rejected ${run.summaries[0]!.data.error?.code}`
          : status === 'failed'
            ? `failed ${run.result.error.code} ${run.result.error.message} at ${at - footer.start}`
            : status,
      );
    }
    expect([...outcomes].sort()).toEqual(['ingested', 'rejected FILE_UNREADABLE']);
  });

  it('a footer length pointing before the start of the file', async () => {
    const bytes = new Uint8Array(snappy());
    new DataView(bytes.buffer).setUint32(bytes.length - 8, bytes.length + 100, true);
    const run = await ingest(bytes);
    expectRejected(run, ['Parquet']);
  });

  it('a column the dataset requires is missing from the file, by name', async () => {
    const schema: RowSchema = {
      ...TABULAR_SCHEMA,
      required: [...TABULAR_SCHEMA.required!, 'customer_id'],
      properties: { ...TABULAR_SCHEMA.properties, customer_id: { type: 'string' } },
    };
    const run = await ingest(snappy(), { schema });
    expectRejected(run, ['customer_id']);
    expect(run.events).toEqual([]);
  });

  it('a column the schema forbids (additionalProperties false), by name', async () => {
    const { attrs: _attrs, ...properties } = TABULAR_SCHEMA.properties!;
    const run = await ingest(snappy(), { schema: { ...TABULAR_SCHEMA, properties } });
    expectRejected(run, ['attrs']);
    expect(run.events).toEqual([]);
  });

  it('a column compressed with LZO, which no reader here decodes', async () => {
    const written = await writeQuery('to-lzo', 'SELECT id FROM tabular', 'COMPRESSION snappy');
    const { bytes, patched } = relabelCodec(written, 'id', 'SNAPPY', 'LZO');
    expect(patched).toBe(1);
    expect(metadataOf(bytes).row_groups[0]!.columns[0]!.meta_data!.codec).toBe('LZO');
    const run = await ingest(bytes, { schema: { type: 'object', properties: { id: { type: 'integer' } } } });
    expectRejected(run, ['LZO']);
    expect(run.events).toEqual([]);
  });

  it('a corrupt row group stops the file there; the rows before it stay published', async () => {
    const bytes = new Uint8Array(files.get('row-groups-of-3')!);
    const second = metadataOf(bytes).row_groups[1]!;
    for (const { meta_data: chunk } of second.columns) {
      const start = Number(chunk!.dictionary_page_offset ?? chunk!.data_page_offset);
      bytes.fill(0xff, start, start + Number(chunk!.total_compressed_size));
    }
    const run = await ingest(bytes);
    const firstGroup = Number(metadataOf(bytes).row_groups[0]!.num_rows);

    expectRejected(run, ['row group 2']);
    expect(run.events.map((event) => ({ row: event.rownumber, data: event.data }))).toStrictEqual(
      numbered(TABULAR_ROWS.slice(0, firstGroup)),
    );
    expect(run.summaries[0]!.data.rowsPublished).toBe(firstGroup);
  });
});

describe('dates and timestamps past the years JavaScript dates reach', () => {
  it('are ingested as expanded-year strings, not failed as an internal error', async () => {
    const bytes = await writeQuery(
      'far',
      `SELECT DATE '5881580-07-10' AS day, TIMESTAMP '294247-01-10 04:00:54.775806' AS at, DATE '-4713-11-24' AS early`,
    );
    const run = await ingest(bytes, { schema: { type: 'object' } });
    expect(run.result.status).toBe('ingested');
    expect(run.events.map((event) => event.data)).toEqual([
      { day: '+5881580-07-10', at: '+294247-01-10T04:00:54.775806Z', early: '-004713-11-24' },
    ]);
  });
});

describe('column names', () => {
  it('a column named __proto__ reaches the event like any other, not the row object prototype', async () => {
    const bytes = await writeQuery(
      'proto',
      `SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, "__proto__")`,
    );
    const run = await ingest(bytes, {
      schema: { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } },
    });
    expect(run.events.map((event) => JSON.stringify(event.data))).toEqual([
      '{"id":1,"__proto__":"a"}',
      '{"id":2,"__proto__":"b"}',
    ]);
  });
});
