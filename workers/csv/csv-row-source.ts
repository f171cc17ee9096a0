/** CSV records to typed rows: header checks against the schema, ragged rows, cell coercion. */
import Papa from 'papaparse';
import {
  schemaColumns,
  type ColumnDrift,
  type ColumnRules,
  type CsvOptions,
  type RowSchema,
} from '../../schemas/dataset.js';
import type { FieldIssue } from '../../schemas/row-validator.js';
import { DropgateError } from '../../adapters/errors.js';
import { NO_ISSUES, setColumn, type ParsedRow, type RowSource } from '../rows.js';
import { coercerFor, InvalidCell, OMIT, type CellCoercer } from './cell-coercion.js';
import { csvRecords } from './csv-records.js';
import { columnMapping } from '../column-mapping.js';

export const DEFAULT_MAX_RECORD_CHARS = 1 << 20;

interface Column {
  /** The property the column sets; for a rescued column, its header name. */
  name: string;
  coerce: CellCoercer;
  /** `value`: a property of the row; `rescue`: kept as text in the row's `rescued`; `ignore`: dropped. */
  kind: 'value' | 'rescue' | 'ignore';
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

export type CsvSourceOptions = CsvOptions & {
  maxRecordChars?: number;
  start?: CsvStart;
  /** Told how the header differs from the schema, once it is read. */
  onDrift?: (drift: ColumnDrift) => void;
};

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
  const rules = options.columns;
  let columns: Column[] | null = start?.header
    ? columnsFor(start.header, schema, rules).columns
    : options.header && !start
      ? null
      : columnsFor(schemaColumns(schema), schema).columns;
  let row = start?.row ?? 0;

  for await (const batch of records) {
    const out: ParsedRow[] = [];
    const { records: fields, lines, problems } = batch;
    for (let index = 0; index < fields.length; index++) {
      const record = fields[index]!;
      if (columns === null) {
        const planned = columnsFor(readHeader(record), schema, rules);
        columns = planned.columns;
        options.onDrift?.(planned.drift);
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
        const { values, issues, rescued, ignored } = coerceRecord(record, columns);
        const parsed: ParsedRow = { row, line, values, issues: issues ?? NO_ISSUES, raw: record };
        if (rescued) parsed.rescued = rescued;
        if (ignored > 0) parsed.valuesIgnored = ignored;
        out.push(parsed);
      }
    }
    if (out.length > 0) yield out;
  }
  if (columns === null) throw noHeaderError();
}

function coerceRecord(record: string[], columns: Column[]) {
  const values: Record<string, unknown> = {};
  let issues: FieldIssue[] | null = null;
  let rescued: Record<string, string> | undefined;
  let ignored = 0;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!;
    if (column.kind !== 'value') {
      const text = record[index]!;
      if (text === '') continue;
      if (column.kind === 'rescue') setColumn((rescued ??= {}), column.name, text);
      else ignored++;
      continue;
    }
    const value = column.coerce(record[index]!);
    if (value === OMIT) continue;
    if (value instanceof InvalidCell) (issues ??= []).push({ field: column.name, reason: value.reason });
    else setColumn(values, column.name, value);
  }
  return { values, issues, rescued, ignored };
}

/**
 * The header's column names, checked against the schema under the dataset's rules: none empty, none
 * twice, none standing for a property another column holds, every required property present, and no
 * column the rules (or the schema) refuse. Comes with how the header differs from the schema.
 */
export function checkedHeader(
  record: string[],
  schema: RowSchema,
  rules?: ColumnRules,
): { names: string[]; drift: ColumnDrift } {
  const names = readHeader(record);
  return { names, drift: columnsFor(names, schema, rules).drift };
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

function columnsFor(
  names: string[],
  schema: RowSchema,
  rules?: ColumnRules,
): { columns: Column[]; drift: ColumnDrift } {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const { columns, drift } = columnMapping(names, schema, rules, {
    holder: 'the header',
    fail: headerError,
  });
  return {
    columns: columns.map(({ name, kind }): Column => {
      const declared = kind === 'value' && Object.hasOwn(properties, name);
      return {
        name,
        coerce: declared ? coercerFor(properties[name], required.has(name)) : coercerFor(undefined, false),
        kind,
      };
    }),
    drift,
  };
}

/** A file that ends before its header row does. */
export function noHeaderError(): DropgateError {
  return new DropgateError('FILE_UNREADABLE', 'file is empty: no header row');
}

function headerError(message: string): DropgateError {
  return new DropgateError('FILE_UNREADABLE', `header: ${message}`, { context: { line: 1 } });
}
