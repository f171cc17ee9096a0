/** Format-neutral rows: what every parser hands to validation, accepted or already rejected. */
import type { FieldIssue } from '../schemas/row-validator.js';

export interface ParsedRow {
  /** 1-based index of the data row in the file (headers and blank lines not counted). */
  row: number;
  /** 1-based physical line (or record position for binary formats) where the row starts. */
  line: number;
  /** Typed values for schema validation (without cells that failed coercion); null for unusable records. */
  values: Record<string, unknown> | null;
  /** Why parsing rejected the row (bad cells, ragged record); empty for a clean parse. */
  issues: readonly FieldIssue[];
  /** The record as parsed (CSV: its fields); rendered for dead letters only, by the source's `renderRaw`. */
  raw: unknown;
  /**
   * Values of the columns the schema does not declare, under the `rescue` drift rule (CSV: their text;
   * Parquet: their JSON values): added to an accepted row's event as `_rescued`, after validation (the
   * schema knows nothing of them). Absent when the row has no such value.
   */
  rescued?: Record<string, unknown>;
  /** Values (non-empty cells, non-null Parquet values) of columns dropped under the `ignore` drift rule. */
  valuesIgnored?: number;
}

/** A file's rows; iteration throws `FILE_UNREADABLE` when the file is unusable. */
export interface RowSource {
  rows: AsyncIterable<ParsedRow[]>;
  /** The record as the vendor sent it, for a dead letter (CSV: the record's text). */
  renderRaw(raw: unknown): unknown;
}

/** The issues of a clean row: one shared, frozen empty list, so clean rows allocate none. */
export const NO_ISSUES: readonly FieldIssue[] = Object.freeze([]);

/**
 * Sets a row's value of column `name`. A column may be called `__proto__`: assigning it would set the
 * object's prototype (or do nothing, for a string), and the value would vanish from the event while a
 * schema requiring the column still passed on the inherited one.
 */
export function setColumn(values: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') {
    Object.defineProperty(values, name, { value, enumerable: true, writable: true, configurable: true });
  } else values[name] = value;
}
