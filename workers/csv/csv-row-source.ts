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
        const { values, issues, rescued } = coerceRecord(record, columns);
        const parsed: ParsedRow = { row, line, values, issues: issues ?? NO_ISSUES, raw: record };
        if (rescued) parsed.rescued = rescued;
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
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!;
    if (column.kind !== 'value') {
      const text = record[index]!;
      if (column.kind === 'rescue' && text !== '') setColumn((rescued ??= {}), column.name, text);
      continue;
    }
    const value = column.coerce(record[index]!);
    if (value === OMIT) continue;
    if (value instanceof InvalidCell) (issues ??= []).push({ field: column.name, reason: value.reason });
    else setColumn(values, column.name, value);
  }
  return { values, issues, rescued };
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

/** Case and whitespace fold, for `matching: 'insensitive'`. */
const folded = (name: string) => name.toLowerCase().replace(/\s+/g, '');

/** The property each header name stands for: the same name, an alias, or (insensitive) a folded match. */
function propertiesOf(names: string[], schema: RowSchema, rules: ColumnRules | undefined) {
  const properties = schema.properties ?? {};
  const declared = (name: string) => Object.hasOwn(properties, name);
  const insensitive = rules?.matching === 'insensitive';
  const keyOf = insensitive ? folded : (name: string) => name;
  const byAlias = new Map<string, string>();
  for (const [property, aliases] of Object.entries(rules?.aliases ?? {})) {
    for (const alias of aliases) byAlias.set(keyOf(alias), property);
  }
  const byFolded = new Map<string, string>();
  if (insensitive) for (const property of Object.keys(properties)) byFolded.set(folded(property), property);
  return names.map((name) =>
    declared(name)
      ? name
      : (byAlias.get(keyOf(name)) ?? (insensitive ? byFolded.get(folded(name)) : undefined)),
  );
}

function columnsFor(
  names: string[],
  schema: RowSchema,
  rules?: ColumnRules,
): { columns: Column[]; drift: ColumnDrift } {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const mapped = propertiesOf(names, schema, rules);
  const holder = new Map<string, string>();
  const renamed: Record<string, string> = {};
  for (const [index, property] of mapped.entries()) {
    if (property === undefined) continue;
    const name = names[index]!;
    const other = holder.get(property);
    if (other !== undefined) {
      throw headerError(`columns "${other}" and "${name}" both stand for property ${property}`);
    }
    holder.set(property, name);
    if (name !== property) setColumn(renamed, name, property);
  }
  const missingRequired = [...required].filter((name) => !holder.has(name));
  if (missingRequired.length > 0) {
    throw headerError(
      `missing required column(s) ${missingRequired.join(', ')}; the header has ${names.join(', ')}`,
    );
  }
  const added = names.filter((_, index) => mapped[index] === undefined);
  const unknown = rules?.unknown ?? (schema.additionalProperties === false ? 'reject' : 'allowed');
  if (added.length > 0 && unknown === 'reject') {
    throw headerError(
      rules?.unknown === 'reject'
        ? `column(s) ${added.join(', ')} are not in the schema, and the dataset's drift rule is reject`
        : `column(s) ${added.join(', ')} are not in the schema, which allows no other columns`,
    );
  }
  const columns = names.map((name, index): Column => {
    const property = mapped[index];
    if (property !== undefined) {
      return {
        name: property,
        coerce: coercerFor(properties[property], required.has(property)),
        kind: 'value',
      };
    }
    if (unknown === 'rescue' || unknown === 'ignore')
      return { name, coerce: coercerFor(undefined, false), kind: unknown };
    return { name, coerce: coercerFor(undefined, false), kind: 'value' };
  });
  const missing = Object.keys(properties).filter((property) => !holder.has(property));
  return { columns, drift: { added, missing, renamed, unknown } };
}

/** A file that ends before its header row does. */
export function noHeaderError(): DropgateError {
  return new DropgateError('FILE_UNREADABLE', 'file is empty: no header row');
}

function headerError(message: string): DropgateError {
  return new DropgateError('FILE_UNREADABLE', `header: ${message}`, { context: { line: 1 } });
}
