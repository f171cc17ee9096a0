/**
 * Parquet fixtures written by an independent writer (DuckDB, in memory) from one small SQL table, in
 * every codec, both page versions, dictionary and plain encodings and several row groups, with the rows
 * each must ingest as, written out by hand from the SQL literals below (never read back by hyparquet).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RowSchema } from '../../schemas/dataset.js';

/** The table every variant is written from: each column a Parquet type, every nullable column null somewhere. */
export const TABULAR_SQL = String.raw`
  CREATE TABLE tabular (
    id INTEGER NOT NULL,
    big BIGINT,
    price DECIMAL(12, 2),
    precise DECIMAL(38, 6),
    whole DECIMAL(4, 0),
    ratio DOUBLE,
    flag BOOLEAN,
    day DATE,
    at_us TIMESTAMP,
    at_ms TIMESTAMP_MS,
    at_ns TIMESTAMP_NS,
    at_tz TIMESTAMPTZ,
    name VARCHAR,
    payload BLOB,
    tags INTEGER[],
    point STRUCT(a INTEGER, b VARCHAR),
    attrs MAP(VARCHAR, INTEGER)
  );
  INSERT INTO tabular VALUES
    (1, 9007199254740993, 19898.51, 123456789012345678.123456, 123, 0.1, true, DATE '2024-02-29',
     TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMP_MS '2024-01-02 03:04:05.123',
     TIMESTAMP_NS '2024-01-02 03:04:05.123456789', TIMESTAMPTZ '2024-01-02 03:04:05.123456+02:00',
     'Zoë — 東京 🚀', '\x00\xFF\x10abc'::BLOB, [1, 2, 3], {'a': 1, 'b': 'x'}, MAP {'k': 1, 'j': 2}),
    (2, -9223372036854775808, 5, -0.000001, -9999, -1.5e300, false, DATE '1969-12-31',
     TIMESTAMP '1969-12-31 23:59:59.999999', TIMESTAMP_MS '1970-01-01 00:00:00',
     TIMESTAMP_NS '1900-01-01 00:00:00.000000001', TIMESTAMPTZ '2024-06-30 23:30:00+00:00',
     '', ''::BLOB, [], {'a': NULL, 'b': 'y'}, MAP {}),
    (3, 9223372036854775807, -0.05, 0, 0, 0, NULL, DATE '0001-01-01',
     TIMESTAMP '2000-02-29 12:00:00', NULL, NULL, NULL,
     'plain ascii', 'Dropgate'::BLOB, NULL, NULL, NULL),
    (4, 42, 9999999999.99, -99999999999999999999999999999999.999999, 9999, 3.141592653589793, true,
     DATE '2000-01-01', NULL, TIMESTAMP_MS '2038-01-19 03:14:07.999', TIMESTAMP_NS '2024-01-02 03:04:05',
     TIMESTAMPTZ '1999-12-31 19:00:00.5-05:00', 'naïve "quotes", commas', NULL, [NULL, 4],
     {'a': -2147483648, 'b': NULL}, MAP {'only': NULL}),
    (5, -7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (6, 9007199254740991, 0.1, 1, -1, 1e-300, false, DATE '2100-12-31',
     TIMESTAMP '2024-01-02 03:04:05', TIMESTAMP_MS '2024-01-02 03:04:05.007',
     TIMESTAMP_NS '2024-01-02 03:04:05.000000007', TIMESTAMPTZ '2024-01-02 03:04:05+00:00',
     'line
break', '\x0A'::BLOB, [2147483647], {'a': 2147483647, 'b': ''}, MAP {'a': -1}),
    (7, -9007199254740992, -19898.51, 0.5, 1, -0.25, true, DATE '1970-01-01',
     TIMESTAMP '1970-01-01 00:00:00.000001', TIMESTAMP_MS '1969-12-31 23:59:59.999',
     TIMESTAMP_NS '1970-01-01 00:00:00.000000001', TIMESTAMPTZ '1970-01-01 00:00:00+00:00',
     'Ελληνικά', '\xFB\xFF'::BLOB, [0, -1], {'a': 0, 'b': 'z'}, MAP {'x': 0, 'y': NULL}),
    (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
`;

/**
 * The events' `data` for the table's rows, in order, by the type mapping of issue 3: exact decimal
 * strings with the scale's digits, INT64 beyond 2^53 - 1 as strings, RFC 3339 UTC timestamps with the
 * unit's digits, base64 binary, and every null column present as null.
 */
export const TABULAR_ROWS: ReadonlyArray<Readonly<Record<string, unknown>>> = [
  {
    id: 1,
    big: '9007199254740993',
    price: '19898.51',
    precise: '123456789012345678.123456',
    whole: '123',
    ratio: 0.1,
    flag: true,
    day: '2024-02-29',
    at_us: '2024-01-02T03:04:05.123456Z',
    at_ms: '2024-01-02T03:04:05.123Z',
    at_ns: '2024-01-02T03:04:05.123456789Z',
    at_tz: '2024-01-02T01:04:05.123456Z',
    name: 'Zoë — 東京 🚀',
    payload: 'AP8QYWJj',
    tags: [1, 2, 3],
    point: { a: 1, b: 'x' },
    attrs: { k: 1, j: 2 },
  },
  {
    id: 2,
    big: '-9223372036854775808',
    price: '5.00',
    precise: '-0.000001',
    whole: '-9999',
    ratio: -1.5e300,
    flag: false,
    day: '1969-12-31',
    at_us: '1969-12-31T23:59:59.999999Z',
    at_ms: '1970-01-01T00:00:00.000Z',
    at_ns: '1900-01-01T00:00:00.000000001Z',
    at_tz: '2024-06-30T23:30:00.000000Z',
    name: '',
    payload: '',
    tags: [],
    point: { a: null, b: 'y' },
    attrs: {},
  },
  {
    id: 3,
    big: '9223372036854775807',
    price: '-0.05',
    precise: '0.000000',
    whole: '0',
    ratio: 0,
    flag: null,
    day: '0001-01-01',
    at_us: '2000-02-29T12:00:00.000000Z',
    at_ms: null,
    at_ns: null,
    at_tz: null,
    name: 'plain ascii',
    payload: 'RHJvcGdhdGU=',
    tags: null,
    point: null,
    attrs: null,
  },
  {
    id: 4,
    big: 42,
    price: '9999999999.99',
    precise: '-99999999999999999999999999999999.999999',
    whole: '9999',
    ratio: 3.141592653589793,
    flag: true,
    day: '2000-01-01',
    at_us: null,
    at_ms: '2038-01-19T03:14:07.999Z',
    at_ns: '2024-01-02T03:04:05.000000000Z',
    at_tz: '2000-01-01T00:00:00.500000Z',
    name: 'naïve "quotes", commas',
    payload: null,
    tags: [null, 4],
    point: { a: -2147483648, b: null },
    attrs: { only: null },
  },
  {
    id: 5,
    big: -7,
    price: null,
    precise: null,
    whole: null,
    ratio: null,
    flag: null,
    day: null,
    at_us: null,
    at_ms: null,
    at_ns: null,
    at_tz: null,
    name: null,
    payload: null,
    tags: null,
    point: null,
    attrs: null,
  },
  {
    id: 6,
    big: 9007199254740991,
    price: '0.10',
    precise: '1.000000',
    whole: '-1',
    ratio: 1e-300,
    flag: false,
    day: '2100-12-31',
    at_us: '2024-01-02T03:04:05.000000Z',
    at_ms: '2024-01-02T03:04:05.007Z',
    at_ns: '2024-01-02T03:04:05.000000007Z',
    at_tz: '2024-01-02T03:04:05.000000Z',
    name: 'line\nbreak',
    payload: 'Cg==',
    tags: [2147483647],
    point: { a: 2147483647, b: '' },
    attrs: { a: -1 },
  },
  {
    id: 7,
    big: '-9007199254740992',
    price: '-19898.51',
    precise: '0.500000',
    whole: '1',
    ratio: -0.25,
    flag: true,
    day: '1970-01-01',
    at_us: '1970-01-01T00:00:00.000001Z',
    at_ms: '1969-12-31T23:59:59.999Z',
    at_ns: '1970-01-01T00:00:00.000000001Z',
    at_tz: '1970-01-01T00:00:00.000000Z',
    name: 'Ελληνικά',
    payload: '+/8=',
    tags: [0, -1],
    point: { a: 0, b: 'z' },
    attrs: { x: 0, y: null },
  },
  {
    id: 8,
    big: null,
    price: null,
    precise: null,
    whole: null,
    ratio: null,
    flag: null,
    day: null,
    at_us: null,
    at_ms: null,
    at_ns: null,
    at_tz: null,
    name: null,
    payload: null,
    tags: null,
    point: null,
    attrs: null,
  },
];

const nullable = (type: string | string[]) => ({ type: [...(Array.isArray(type) ? type : [type]), 'null'] });
const decimal = (scale: number) => ({
  type: ['string', 'null'],
  pattern: scale === 0 ? '^-?[0-9]+$' : `^-?[0-9]+\\.[0-9]{${scale}}$`,
});
const timestamp = { type: ['string', 'null'], format: 'date-time' };

/** A dataset schema (JSON Schema 2020-12) that every row of the table meets. */
export const TABULAR_SCHEMA: RowSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['id', 'big', 'price', 'precise', 'whole', 'ratio', 'flag', 'day', 'name', 'tags', 'point'],
  properties: {
    id: { type: 'integer', minimum: 1 },
    big: nullable(['integer', 'string']),
    price: decimal(2),
    precise: decimal(6),
    whole: decimal(0),
    ratio: nullable('number'),
    flag: nullable('boolean'),
    day: { type: ['string', 'null'], format: 'date' },
    at_us: timestamp,
    at_ms: timestamp,
    at_ns: timestamp,
    at_tz: timestamp,
    name: nullable('string'),
    payload: { type: ['string', 'null'], contentEncoding: 'base64' },
    tags: { type: ['array', 'null'], items: nullable('integer') },
    point: {
      type: ['object', 'null'],
      required: ['a', 'b'],
      properties: { a: nullable('integer'), b: nullable('string') },
      additionalProperties: false,
    },
    attrs: { type: ['object', 'null'], additionalProperties: nullable('integer') },
  },
  additionalProperties: false,
};

/**
 * The same schema with `big` allowed only as an integer (rows 1, 2, 3 and 7 hold values beyond 2^53 - 1)
 * and `id` at most 6 (rows 7 and 8).
 */
export const TABULAR_FAILING_SCHEMA: RowSchema = {
  ...TABULAR_SCHEMA,
  properties: {
    ...TABULAR_SCHEMA.properties,
    id: { type: 'integer', minimum: 1, maximum: 6 },
    big: nullable('integer'),
  },
};

/** The dead letters TABULAR_FAILING_SCHEMA makes of the table: row number and failing fields. */
export const TABULAR_FAILING_REJECTIONS = [
  { row: 1, fields: ['big'] },
  { row: 2, fields: ['big'] },
  { row: 3, fields: ['big'] },
  { row: 7, fields: ['big', 'id'] },
  { row: 8, fields: ['id'] },
];

export interface ParquetVariant {
  name: string;
  /** Options of DuckDB's `COPY ... (FORMAT parquet, ...)`. */
  options: string;
  /** How many times the table is written, one copy after another (dictionaries need repeated values). */
  copies: number;
  /** Rows per row group; one row group when absent. */
  groupRows?: number;
  /** What the file must show in its metadata for the variant to be what it claims. */
  expect: {
    codec: string;
    /**
     * Column chunks with a dictionary page: all (but the BOOLEAN and the FIXED_LEN_BYTE_ARRAY decimal,
     * which DuckDB never dictionary-encodes), or none.
     */
    dictionary: 'all' | 'none';
    /** An encoding every column chunk of `big` lists. */
    pageEncoding?: string;
    rowGroups: number;
  };
}

/** Eight copies of eight rows: DuckDB chooses dictionaries only for columns with this much repetition. */
const REPEATED = 8;

export const PARQUET_VARIANTS: readonly ParquetVariant[] = [
  {
    name: 'snappy',
    options: 'COMPRESSION snappy',
    copies: 1,
    expect: { codec: 'SNAPPY', dictionary: 'none', pageEncoding: 'PLAIN', rowGroups: 1 },
  },
  {
    name: 'gzip',
    options: 'COMPRESSION gzip',
    copies: 1,
    expect: { codec: 'GZIP', dictionary: 'none', rowGroups: 1 },
  },
  {
    name: 'zstd',
    options: 'COMPRESSION zstd',
    copies: 1,
    expect: { codec: 'ZSTD', dictionary: 'none', rowGroups: 1 },
  },
  {
    name: 'uncompressed',
    options: 'COMPRESSION uncompressed',
    copies: 1,
    expect: { codec: 'UNCOMPRESSED', dictionary: 'none', rowGroups: 1 },
  },
  {
    name: 'brotli',
    options: 'COMPRESSION brotli',
    copies: 1,
    expect: { codec: 'BROTLI', dictionary: 'none', rowGroups: 1 },
  },
  {
    name: 'lz4',
    options: 'COMPRESSION lz4',
    copies: 1,
    expect: { codec: 'LZ4_RAW', dictionary: 'none', rowGroups: 1 },
  },
  {
    name: 'v1-dictionary',
    options: 'COMPRESSION snappy, PARQUET_VERSION V1',
    copies: REPEATED,
    expect: { codec: 'SNAPPY', dictionary: 'all', rowGroups: 1 },
  },
  {
    name: 'v1-plain',
    options: 'COMPRESSION snappy, PARQUET_VERSION V1, DICTIONARY_SIZE_LIMIT 1',
    copies: REPEATED,
    expect: { codec: 'SNAPPY', dictionary: 'none', pageEncoding: 'PLAIN', rowGroups: 1 },
  },
  {
    name: 'v2-dictionary',
    options: 'COMPRESSION zstd, PARQUET_VERSION V2',
    copies: REPEATED,
    expect: { codec: 'ZSTD', dictionary: 'all', rowGroups: 1 },
  },
  {
    name: 'v2-plain',
    options: 'COMPRESSION zstd, PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1',
    copies: REPEATED,
    expect: { codec: 'ZSTD', dictionary: 'none', pageEncoding: 'DELTA_BINARY_PACKED', rowGroups: 1 },
  },
  {
    name: 'row-groups-of-3',
    options: 'COMPRESSION snappy, ROW_GROUP_SIZE 3',
    copies: 1,
    groupRows: 3,
    expect: { codec: 'SNAPPY', dictionary: 'none', rowGroups: 3 },
  },
  {
    name: 'v2-row-groups-of-2',
    options: 'COMPRESSION gzip, PARQUET_VERSION V2, ROW_GROUP_SIZE 2',
    copies: 1,
    groupRows: 2,
    expect: { codec: 'GZIP', dictionary: 'none', pageEncoding: 'DELTA_BINARY_PACKED', rowGroups: 4 },
  },
  {
    name: 'dictionary-row-groups',
    options: `COMPRESSION snappy, ROW_GROUP_SIZE ${REPEATED * 8}`,
    copies: REPEATED * 2,
    groupRows: REPEATED * 8,
    expect: { codec: 'SNAPPY', dictionary: 'all', rowGroups: 2 },
  },
];

/** The rows a variant must ingest as: the table's rows, `copies` times over. */
export function expectedRows(variant: Pick<ParquetVariant, 'copies'>): Array<Record<string, unknown>> {
  return Array.from({ length: variant.copies }, () => TABULAR_ROWS).flat();
}

/** A DuckDB connection in memory that holds the table; `close` releases it. */
export async function openTabular(): Promise<{ connection: DuckDBConnection; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  // Writes in one thread keep row order and row group sizes exactly as asked for.
  await connection.run(`SET threads = 1; SET TimeZone = 'UTC'; ${TABULAR_SQL}`);
  return {
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Writes the result of `query` to `directory/name.parquet` with the COPY options given. */
export async function writeParquet(
  connection: DuckDBConnection,
  directory: string,
  name: string,
  query: string,
  options = '',
): Promise<string> {
  const path = join(directory, `${name}.parquet`);
  await connection.run(
    `COPY (${query}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet${options ? `, ${options}` : ''})`,
  );
  return path;
}

/**
 * The query that writes `copies` copies of the table in row order, in row groups of `groupRows` rows.
 * DuckDB cuts a row group only between the chunks its pipeline hands the writer, and one scan of a small
 * table is one chunk, so each row group's rows come from a `UNION ALL` branch of their own.
 */
export function tabularQuery(copies = 1, groupRows?: number): string {
  const all = `SELECT tabular.* FROM range(${copies}) AS copy(n), tabular ORDER BY copy.n, tabular.id`;
  if (groupRows === undefined) return all;
  const numbered = `SELECT row_number() OVER (ORDER BY copy.n, tabular.id) AS k, tabular.* FROM range(${copies}) AS copy(n), tabular`;
  const branches = [];
  for (let start = 0; start < copies * TABULAR_ROWS.length; start += groupRows) {
    branches.push(
      `(SELECT * EXCLUDE (k) FROM numbered WHERE k > ${start} AND k <= ${start + groupRows} ORDER BY k)`,
    );
  }
  return `WITH numbered AS (${numbered}) ${branches.join(' UNION ALL ')}`;
}

/** Writes every variant into `directory`; returns each variant with its file's bytes. */
export async function writeParquetVariants(
  directory: string,
): Promise<Array<{ variant: ParquetVariant; bytes: Uint8Array }>> {
  const { connection, close } = await openTabular();
  try {
    const written = [];
    for (const variant of PARQUET_VARIANTS) {
      const path = await writeParquet(
        connection,
        directory,
        variant.name,
        tabularQuery(variant.copies, variant.groupRows),
        variant.options,
      );
      written.push({ variant, bytes: new Uint8Array(await readFile(path)) });
    }
    return written;
  } finally {
    close();
  }
}

const CODECS = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'LZO', 'BROTLI', 'LZ4', 'ZSTD', 'LZ4_RAW'];

/**
 * Relabels the codec of every column chunk of the top-level column `column` in a file's footer, in
 * place of a writer that produces it (DuckDB cannot write LZO). The footer is Thrift compact: the
 * chunk's `path_in_schema` (a one-element list, header 0x18) is followed by `codec` (field header 0x15,
 * zigzag varint), and a codec id below 64 is one byte, so the file keeps its length and offsets.
 * Returns the patched copy and how many column chunks were relabelled.
 */
export function relabelCodec(
  bytes: Uint8Array,
  column: string,
  from: string,
  to: string,
): { bytes: Uint8Array; patched: number } {
  const name = new TextEncoder().encode(column);
  const pattern = [0x18, name.length, ...name, 0x15, CODECS.indexOf(from) * 2];
  // A name under 128 bytes has a one-byte length.
  if (name.length >= 128 || CODECS.indexOf(from) < 0 || CODECS.indexOf(to) < 0) {
    throw new Error(`cannot relabel ${column} from ${from} to ${to}`);
  }
  const patchedBytes = new Uint8Array(bytes);
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  let patched = 0;
  for (let at = bytes.length - 8 - footerLength; at <= bytes.length - 8 - pattern.length; at++) {
    if (pattern.every((byte, offset) => patchedBytes[at + offset] === byte)) {
      patchedBytes[at + pattern.length - 1] = CODECS.indexOf(to) * 2;
      patched++;
    }
  }
  return { bytes: patchedBytes, patched };
}

/**
 * A vendor's orders drifted from schemas/orders/v2.json, rows 1..`rows`: order_id, sku and unit_price
 * under other names ("Order ID", SKU, "unit price"), ship_by, gift and channel left out, and columns the
 * schema does not declare of every kind: promo (null in every third row), region, big (INT64 past
 * 2^53), payload (bytes), tags (a list), point (a struct), day (a date). Row `invalidRow` has quantity 0.
 */
export function driftedOrdersQuery(rows: number, invalidRow = 0): string {
  return `
  SELECT
    'ORD-' || n AS "Order ID",
    'CUST-' || (n % 7) AS customer_id,
    'SKU-' || n AS SKU,
    CASE WHEN n = ${invalidRow} THEN 0 ELSE 2 END::INTEGER AS quantity,
    9.5::DOUBLE AS "unit price",
    'EUR' AS currency,
    TIMESTAMP '2024-05-01 10:00:00' AS ordered_at,
    'n' || n AS note,
    CASE WHEN n % 3 = 0 THEN NULL ELSE 'P' || n END AS promo,
    'EU' AS region,
    9007199254740993::BIGINT + n AS big,
    '\\x00\\xFF'::BLOB AS payload,
    [n::INTEGER, NULL] AS tags,
    {'a': n::INTEGER, 'b': 'x'} AS point,
    DATE '2024-02-29' AS day
  FROM range(1, ${rows + 1}) AS t(n)
  ORDER BY n`;
}
