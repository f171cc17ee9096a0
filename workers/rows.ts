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
  issues: FieldIssue[];
  /** The row as the vendor sent it (CSV text of the record), for dead letters. */
  raw: () => unknown;
}

/** Opens a file's rows; throws `FILE_UNREADABLE` (before or during iteration) when the file is unusable. */
export type RowSource = AsyncIterable<ParsedRow[]>;
