/**
 * Generated CSV files for the fuzzers: a dialect (delimiter, line ending, BOM, encoding, quoting, gzip),
 * a table of rows with the outcome each must have (published as given, or dead-lettered on its line),
 * the file's bytes, and mutations of those bytes.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import type { RowSchema } from '../../../schemas/dataset.js';
import type { CompiledDataset } from '../../../workers/ingest-file.js';
import { testDataset } from '../../support/datasets.js';

/** Four columns: a required id with a pattern, a required free-text name, an integer and a note. */
export const FUZZ_SCHEMA: RowSchema = {
  type: 'object',
  required: ['id', 'name'],
  properties: {
    id: { type: 'string', pattern: '^[0-9]{1,9}$' },
    name: { type: 'string' },
    qty: { type: ['integer', 'null'] },
    note: { type: ['string', 'null'] },
  },
  additionalProperties: false,
};
const COLUMNS = Object.keys(FUZZ_SCHEMA.properties!);

export interface CsvDialect {
  delimiter: ',' | ';' | '\t' | '|';
  newline: '\n' | '\r\n' | '\r';
  encoding: 'utf-8' | 'windows-1252' | 'iso-8859-1' | 'utf-16le';
  bom: boolean;
  header: boolean;
  /** Quote every field, not only those that need it. */
  quoteAll: boolean;
  trailingNewline: boolean;
  gzip: boolean;
  /** The header's column order (the schema's when there is no header). */
  columns: string[];
}

export function dialectArbitrary(
  options: { encodings?: CsvDialect['encoding'][]; gzip?: boolean } = {},
): fc.Arbitrary<CsvDialect> {
  return fc
    .record({
      delimiter: fc.constantFrom<CsvDialect['delimiter'][]>(',', ';', '\t', '|'),
      newline: fc.constantFrom<CsvDialect['newline'][]>('\n', '\r\n', '\r'),
      encoding: fc.constantFrom(
        ...(options.encodings ?? ['utf-8', 'utf-8', 'windows-1252', 'iso-8859-1', 'utf-16le']),
      ),
      bom: fc.boolean(),
      header: fc.boolean(),
      quoteAll: fc.boolean(),
      trailingNewline: fc.boolean(),
      gzip: options.gzip === false ? fc.constant(false) : fc.boolean(),
      columns: fc.shuffledSubarray(COLUMNS, { minLength: COLUMNS.length, maxLength: COLUMNS.length }),
    })
    .map((dialect) => (dialect.header ? dialect : { ...dialect, columns: COLUMNS }));
}

/** Characters every encoding holds: the delimiters, the quote and accented Latin-1 letters among them. */
const COMMON = [...'abcXYZ 019,;|\t"\'.-_', 'é', 'ü', 'ß', '£', '\u00a0'];
/** Characters only Unicode encodings hold (windows-1252 has €, Latin-1 has not). */
const UNICODE_ONLY = ['€', 'Ω', '東', '京', '🎉', '\u200b'];

function textArbitrary(encoding: CsvDialect['encoding'], newline: string, maxLength: number) {
  const characters = [...COMMON, newline];
  if (encoding === 'utf-8' || encoding === 'utf-16le') characters.push(...UNICODE_ONLY);
  if (encoding === 'windows-1252') characters.push('€');
  return fc.string({ unit: fc.constantFrom(...characters), maxLength });
}

/** One generated row: its cells by column, and whether (and why) it must be dead-lettered. */
export interface GeneratedRow {
  cells: Record<string, string>;
  /** Fields written, when the row is ragged (too few or too many). */
  ragged?: number;
  bad: boolean;
}

function rowArbitrary(dialect: CsvDialect): fc.Arbitrary<GeneratedRow> {
  const id = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 999_999_999 }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('', 'x1', ' 7', '1.5', '1234567890') },
  );
  const qty = fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: -1e6, max: 1e6 }).map(String) },
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('abc', '1e3x', '9007199254740993', '--1') },
  );
  // Huge fields, well within the 1 MiB record limit, now and then.
  const name = fc.oneof(
    { weight: 20, arbitrary: textArbitrary(dialect.encoding, dialect.newline, 24) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((length) => 'n'.repeat(length)) },
  );
  return fc
    .record({
      cells: fc.record({ id, name, qty, note: textArbitrary(dialect.encoding, dialect.newline, 12) }),
      ragged: fc.option(fc.constantFrom(2, 3, 5, 6), { freq: 12 }),
    })
    .map(({ cells, ragged }) => {
      const badId = !/^[0-9]{1,9}$/.test(cells.id!);
      const badQty = cells.qty !== '' && !/^-?\d+$/.test(cells.qty!);
      return {
        cells,
        ...(ragged === null ? {} : { ragged }),
        bad:
          ragged !== null ||
          badId ||
          badQty ||
          (cells.qty !== '' && !Number.isSafeInteger(Number(cells.qty))),
      };
    });
}

export interface GeneratedCsv {
  dialect: CsvDialect;
  rows: GeneratedRow[];
  /** The line each row starts on. */
  lines: number[];
  text: string;
  bytes: Uint8Array;
  key: string;
}

export function csvArbitrary(
  options: { encodings?: CsvDialect['encoding'][]; gzip?: boolean; maxRows?: number } = {},
): fc.Arbitrary<GeneratedCsv> {
  return dialectArbitrary(options).chain((dialect) =>
    fc
      .array(rowArbitrary(dialect), { maxLength: options.maxRows ?? 30 })
      .map((rows) => serialize(dialect, rows)),
  );
}

function serialize(dialect: CsvDialect, rows: GeneratedRow[]): GeneratedCsv {
  const { delimiter, newline } = dialect;
  const field = (value: string) =>
    dialect.quoteAll || /[",;|\t\r\n]/.test(value) || value !== value.trim()
      ? `"${value.replaceAll('"', '""')}"`
      : value;
  const records: string[] = [];
  if (dialect.header) records.push(dialect.columns.map(field).join(delimiter));
  const lines: number[] = [];
  let line = 1 + records.length;
  for (const row of rows) {
    let values = dialect.columns.map((column) => row.cells[column]!);
    if (row.ragged !== undefined) {
      values = Array.from({ length: row.ragged }, (_, index) => values[index] ?? 'extra');
    }
    const record = values.map(field).join(delimiter);
    lines.push(line);
    line += record.split(newline).length;
    records.push(record);
  }
  const text = records.join(newline) + (dialect.trailingNewline && records.length > 0 ? newline : '');
  let bytes = encode(text, dialect.encoding);
  if (dialect.bom) bytes = concat(bom(dialect.encoding), bytes);
  const name = dialect.gzip ? 'file.csv.gz' : 'file.csv';
  if (dialect.gzip) bytes = new Uint8Array(gzipSync(bytes));
  return { dialect, rows, lines, text, bytes, key: `vendors/acme/orders/${name}` };
}

const datasets = new Map<string, CompiledDataset>();

/**
 * The dataset that reads files of `dialect` (the schema's column order when they have no header); each
 * compiled once, as a gateway does at start, since compiling a schema costs more than a small file.
 */
export function datasetFor(dialect: Pick<CsvDialect, 'delimiter' | 'encoding' | 'header'>): CompiledDataset {
  const csv = { delimiter: dialect.delimiter, encoding: dialect.encoding, header: dialect.header };
  const key = JSON.stringify(csv);
  let dataset = datasets.get(key);
  if (!dataset) datasets.set(key, (dataset = testDataset({ schema: FUZZ_SCHEMA, csv })));
  return dataset;
}

/** The `data` each good row must be published with, in order. */
export function expectedEvents(file: GeneratedCsv): Array<Record<string, unknown>> {
  return file.rows
    .filter((row) => !row.bad)
    .map(({ cells }) => ({
      id: cells.id,
      name: cells.name,
      qty: cells.qty === '' ? null : Number(cells.qty),
      note: cells.note === '' ? null : cells.note,
    }));
}

/** Row number and line of each row that must be dead-lettered. */
export function expectedRejections(file: GeneratedCsv): Array<{ row: number; line: number }> {
  return file.rows.flatMap((row, index) => (row.bad ? [{ row: index + 1, line: file.lines[index]! }] : []));
}

function encode(text: string, encoding: CsvDialect['encoding']): Uint8Array {
  if (encoding === 'utf-8') return new TextEncoder().encode(text);
  return new Uint8Array(iconv.encode(text, encoding));
}

function bom(encoding: CsvDialect['encoding']): Uint8Array {
  if (encoding === 'utf-8') return Uint8Array.of(0xef, 0xbb, 0xbf);
  if (encoding === 'utf-16le') return Uint8Array.of(0xff, 0xfe);
  return new Uint8Array();
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** Bytes that mean something to a CSV parser or a decoder, to write over or into a file. */
const TELLING_BYTES = [
  0x00, 0x22, 0x2c, 0x3b, 0x09, 0x7c, 0x0d, 0x0a, 0xef, 0xbb, 0xbf, 0xc3, 0x80, 0xff, 0xfe, 0x1f, 0x8b,
];

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'overwrite'; at: number; bytes: number[] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; length: number };

/** Positions are fractions of the file's length, so one mutation fits files of any size. */
export const mutationArbitrary: fc.Arbitrary<Mutation> = (() => {
  const at = fc.integer({ min: 0, max: 1_000_000 });
  const bytes = fc.array(fc.oneof(fc.constantFrom(...TELLING_BYTES), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 8,
  });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at, bytes }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes }),
    fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('repeat' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
  );
})();

export function mutate(input: Uint8Array, mutation: Mutation): Uint8Array {
  const position = Math.floor((mutation.at / 1_000_001) * (input.length + 1));
  const before = input.subarray(0, position);
  switch (mutation.kind) {
    case 'flip': {
      if (input.length === 0) return input;
      const copy = new Uint8Array(input);
      const index = Math.min(position, input.length - 1);
      copy[index]! ^= 1 << mutation.bit;
      return copy;
    }
    case 'overwrite': {
      const copy = new Uint8Array(Math.max(input.length, position + mutation.bytes.length));
      copy.set(input);
      copy.set(mutation.bytes, position);
      return copy;
    }
    case 'insert':
      return concat(before, Uint8Array.from(mutation.bytes), input.subarray(position));
    case 'delete':
      return concat(before, input.subarray(position + mutation.length));
    case 'truncate':
      return input.slice(0, position);
    case 'repeat':
      return concat(input.subarray(0, position + mutation.length), input.subarray(position));
  }
}
