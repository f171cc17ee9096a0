/** CSV records to typed rows: header checks against the schema, ragged rows, cell coercion. */
import Papa from 'papaparse';
import { schemaColumns, type CsvOptions, type RowSchema } from '../../schemas/dataset.js';
import type { FieldIssue } from '../../schemas/row-validator.js';
import { DropgateError } from '../../adapters/errors.js';
import { NO_ISSUES, setColumn, type ParsedRow, type RowSource } from '../rows.js';
import { coercerFor, InvalidCell, OMIT, type CellCoercer } from './cell-coercion.js';
import { csvRecords } from './csv-records.js';

export const DEFAULT_MAX_RECORD_CHARS = 1 << 20;

interface Column {
  name: string;
  coerce: CellCoercer;
}

/** Where a text starts in its file, for a source that reads the file from a record boundary onward. */
export interface CsvStart {
  /** The header's column names, read already; the text holds data records only. */
  header: string[] | null;
  newline: string;
  /** Data rows before the text. */
  row: number;
  /** The line the text starts on. */
  line: number;
  /** Told the line after the last record read so far. */
  onLine?: (nextLine: number) => void;
}

export type CsvSourceOptions = CsvOptions & { maxRecordChars?: number; start?: CsvStart };

export function csvRowSource(
  text: AsyncIterable<string>,
  schema: RowSchema,
  options: CsvSourceOptions,
): RowSource {
  return {
    rows: csvRows(text, schema, options),
    renderRaw: (raw) =>
      Papa.unparse([raw as string[]], {
        delimiter: options.delimiter,
        quoteChar: options.quote,
        newline: '\n',
      }),
  };
}

async function* csvRows(
  text: AsyncIterable<string>,
  schema: RowSchema,
  options: CsvSourceOptions,
): AsyncGenerator<ParsedRow[]> {
  const { start } = options;
  const records = csvRecords(text, {
    delimiter: options.delimiter,
    quote: options.quote,
    maxRecordChars: options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS,
    ...(start ? { newline: start.newline, firstLine: start.line, onLine: start.onLine } : {}),
  });
  let columns: Column[] | null = start?.header
    ? columnsFor(start.header, schema)
    : options.header && !start
      ? null
      : columnsFor(schemaColumns(schema), schema);
  let row = start?.row ?? 0;

  for await (const batch of records) {
    const out: ParsedRow[] = [];
    const { records: fields, lines, problems } = batch;
    for (let index = 0; index < fields.length; index++) {
      const record = fields[index]!;
      if (columns === null) {
        columns = columnsFor(readHeader(record), schema);
        continue;
      }
      if (record.length === 1 && record[0] === '' && columns.length !== 1) continue;
      row++;
      const line = lines[index]!;
      const problem = problems?.get(index);
      if (problem !== undefined) {
        out.push({
          row,
          line,
          values: null,
          issues: [{ field: '', reason: `malformed quoting: ${problem}` }],
          raw: record,
        });
      } else if (record.length !== columns.length) {
        const reason = `expected ${columns.length} fields, found ${record.length}`;
        out.push({ row, line, values: null, issues: [{ field: '', reason }], raw: record });
      } else {
        const { values, issues } = coerceRecord(record, columns);
        out.push({ row, line, values, issues: issues ?? NO_ISSUES, raw: record });
      }
    }
    if (out.length > 0) yield out;
  }
  if (columns === null) throw noHeaderError();
}

function coerceRecord(record: string[], columns: Column[]) {
  const values: Record<string, unknown> = {};
  let issues: FieldIssue[] | null = null;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!;
    const value = column.coerce(record[index]!);
    if (value === OMIT) continue;
    if (value instanceof InvalidCell) (issues ??= []).push({ field: column.name, reason: value.reason });
    else setColumn(values, column.name, value);
  }
  return { values, issues };
}

/** The header's column names, checked: none empty, none twice, every required column present. */
export function checkedHeader(record: string[], schema: RowSchema): string[] {
  const names = readHeader(record);
  columnsFor(names, schema);
  return names;
}

function readHeader(record: string[]): string[] {
  const names = record.map((name) => name.trim());
  const seen = new Set<string>();
  for (const [index, name] of names.entries()) {
    if (name === '') throw headerError(`column ${index + 1} of the header has no name`);
    if (seen.has(name)) throw headerError(`column "${name}" appears twice in the header`);
    seen.add(name);
  }
  return names;
}

function columnsFor(names: string[], schema: RowSchema): Column[] {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const missing = [...required].filter((name) => !names.includes(name));
  if (missing.length > 0) {
    throw headerError(`missing required column(s) ${missing.join(', ')}; the header has ${names.join(', ')}`);
  }
  if (schema.additionalProperties === false) {
    const unknown = names.filter((name) => !(name in properties));
    if (unknown.length > 0) {
      throw headerError(
        `column(s) ${unknown.join(', ')} are not in the schema, which allows no other columns`,
      );
    }
  }
  return names.map((name) => ({ name, coerce: coercerFor(properties[name], required.has(name)) }));
}

/** A file that ends before its header row does. */
export function noHeaderError(): DropgateError {
  return new DropgateError('FILE_UNREADABLE', 'file is empty: no header row');
}

function headerError(message: string): DropgateError {
  return new DropgateError('FILE_UNREADABLE', `header: ${message}`, { context: { line: 1 } });
}
