/** A dataset: which objects it covers, how they are parsed, and the versioned schema their rows must meet. */

export type FileFormat = 'csv' | 'parquet';

export interface CsvOptions {
  delimiter: string;
  /** A WHATWG or iconv-lite encoding label: `utf-8`, `windows-1252`, `iso-8859-1`, ... */
  encoding: string;
  /** Whether the first record names the columns; without it, columns follow the schema's property order. */
  header: boolean;
  quote: string;
  /** How header columns are matched to the schema's properties; exact names, unknown ones as the schema allows, when absent. */
  columns?: ColumnRules;
}

/**
 * How a file's columns meet its schema (config `drift`, `headers`, `aliases` of a dataset).
 *
 * - `unknown`: a column the schema does not declare `reject`s the file, is kept as text in the event's
 *   `_rescued` object (`rescue`), or is dropped (`ignore`); the file summary names such columns either way.
 * - `matching`: `insensitive` matches header names to properties ignoring case and whitespace.
 * - `aliases`: other header names that stand for a property (`{ "order_id": ["OrderID", "order id"] }`).
 */
export interface ColumnRules {
  /** Absent: unknown columns are refused when the schema allows no other properties, else kept as they are. */
  unknown?: 'reject' | 'rescue' | 'ignore';
  matching: 'exact' | 'insensitive';
  aliases: Record<string, string[]>;
}

/** The property rescued values go into under `unknown: 'rescue'`: the raw text of each unknown column. */
export const RESCUED_PROPERTY = '_rescued';

/** How a file's header differs from its schema, as its summary reports it. */
export interface ColumnDrift {
  /** Columns the schema does not declare (rejected, rescued or ignored, by the dataset's rule). */
  added: string[];
  /** Properties of the schema no column holds (optional ones; a missing required one rejects the file). */
  missing: string[];
  /** Header names matched to a property by an alias or by case and whitespace: `{ header: property }`. */
  renamed: Record<string, string>;
  /** What became of the added columns. */
  unknown: NonNullable<ColumnRules['unknown']> | 'allowed';
}

/** A file's drift as its summary reports it: the columns, and what became of their values. */
export interface FileDrift extends ColumnDrift {
  /** Events that carry `_rescued` values (rule `rescue`). */
  rowsRescued: number;
  /** Values of accepted rows dropped (rule `ignore`): non-empty CSV cells, non-null Parquet values. */
  valuesIgnored: number;
}

/** A JSON Schema 2020-12 document describing one row as an object. */
export interface RowSchema {
  $id?: string;
  type?: string | string[];
  properties?: Record<string, PropertySchema>;
  required?: string[];
  additionalProperties?: boolean | object;
  [keyword: string]: unknown;
}

export interface PropertySchema {
  type?: string | string[];
  format?: string;
  [keyword: string]: unknown;
}

export interface DatasetDefinition {
  name: string;
  /** Object-key glob: `*` stays within one path segment, `**` spans segments. */
  match: string;
  format: FileFormat | 'auto';
  schema: RowSchema;
  /** N of the schema file `v<N>.json`. */
  schemaVersion: number;
  /**
   * Base URL the registry serves schemas under (config `schemaBaseUrl`): the `dataschema` of events is
   * `<base>/<dataset>/v<N>` unless the schema declares an `$id`.
   */
  schemaBaseUrl?: string;
  /** Past-tense CloudEvents type of each accepted row, e.g. `OrderReceived`. */
  eventType: string;
  topic: string;
  deadLetterTopic: string;
  csv: CsvOptions;
  /** Bounds on what a gzip file may decompress to; the defaults when absent. */
  decompression?: DecompressionLimits;
  /**
   * What each row event carries as its CloudEvents `partitionkey` (config `partitionKey`): a column's value,
   * or the object key; no key when absent, or for a row whose column is empty.
   */
  partitionKey?: 'objectKey' | { column: string };
  /** CloudEvents content mode of the dataset's events on the pubsub sink (config `pubsubMode`). */
  pubsubMode?: 'structured' | 'binary';
  /** What becomes of an ingested object once its events are durable (config `afterIngest`); keep when absent. */
  afterIngest?: { action: 'keep' | 'delete' } | { action: 'move'; prefix: string };
  /** What becomes of a rejected object once its rejection is recorded (config `onRejected`); keep when absent. */
  onRejected?: { action: 'keep' } | { action: 'move'; prefix: string };
}

/**
 * A gzip file is rejected once it decompresses to more than `maxBytes`, or, past 64 MiB, to more than
 * `maxRatio` times its compressed size: a few hundred KB of gzip can hold gigabytes of nothing.
 */
export interface DecompressionLimits {
  maxBytes: number;
  maxRatio: number;
}

/** Real CSV compresses 3-20 times, repetitive exports rarely 100; gzip's own ceiling is about 1,000. */
export const defaultDecompressionLimits: DecompressionLimits = { maxBytes: 64 * 1024 ** 3, maxRatio: 200 };

export const defaultCsvOptions: CsvOptions = { delimiter: ',', encoding: 'utf-8', header: true, quote: '"' };

/**
 * The `dataschema` URI of a dataset's events: the schema's `$id` when it declares one, else where the
 * registry serves it (`<schemaBaseUrl>/<dataset>/v<N>`), else a URN naming dataset and version.
 */
export function dataschemaUri(dataset: DatasetDefinition): string {
  if (dataset.schema.$id !== undefined) return dataset.schema.$id;
  const { name, schemaVersion, schemaBaseUrl } = dataset;
  if (schemaBaseUrl !== undefined) return `${schemaBaseUrl.replace(/\/+$/, '')}/${name}/v${schemaVersion}`;
  return `urn:dropgate:schema:${name}:v${schemaVersion}`;
}

/**
 * The format a key is parsed as: the dataset's own, or by extension when `auto` (CSV may be gzipped;
 * Parquet compresses internally and is read by byte ranges, so a gzipped Parquet file is no format).
 */
export function formatOf(dataset: DatasetDefinition, key: string): FileFormat | undefined {
  return dataset.format !== 'auto' ? dataset.format : formatByExtension(key);
}

/** The format a name's extension says, case-insensitively: .csv/.tsv/.txt (optionally .gz), .parquet/.pq. */
export function formatByExtension(name: string): FileFormat | undefined {
  const lower = name.toLowerCase();
  if (/\.(csv|tsv|txt)(\.gz)?$/.test(lower)) return 'csv';
  if (/\.(parquet|pq)$/.test(lower)) return 'parquet';
  return undefined;
}

/** The property names a schema declares, in declaration order. */
export function schemaColumns(schema: RowSchema): string[] {
  return Object.keys(schema.properties ?? {});
}

export function typesOf(property: PropertySchema | undefined): string[] {
  if (!property || property.type === undefined) return [];
  return Array.isArray(property.type) ? property.type : [property.type];
}
