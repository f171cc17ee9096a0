/** The shapes of the events Dropgate publishes, as tests read them back. */

export interface CloudEvent<T = Record<string, unknown>> {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject: string;
  dataschema: string;
  dataset: string;
  schemaversion: number;
  objectversion: string;
  rownumber?: number;
  /** The CloudEvents distributed-tracing extension, on events of a traced ingestion. */
  traceparent?: string;
  tracestate?: string;
  data: T;
}

export interface DeadLetterData {
  dataset: string;
  objectKey: string;
  objectVersion: string;
  row: number;
  line: number;
  errors: Array<{ field: string; reason: string }>;
  /** CSV: the record as text; Parquet: the row as JSON. */
  raw: unknown;
}

export interface FileSummaryData {
  dataset: string;
  schemaVersion: number;
  objectKey: string;
  objectVersion: string;
  state: string;
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
  replay: number;
  attempt: number;
  resumedFromRow: number;
  firstErrors: Array<{ row: number; line: number; field: string; reason: string }>;
  error?: { code: string; message: string; line?: number };
}
