/**
 * CloudEvents 1.0 JSON envelopes. Ids are deterministic: the same object version, dataset schema and row
 * give the same id on every run and replay, so consumers can drop duplicates by id alone.
 */
import { PARTITION_KEY_ATTRIBUTE, type ObjectInfo, type OutgoingEvent } from '../adapters/ports.js';
import { dataschemaUri, type DatasetDefinition } from '../schemas/dataset.js';
import type { FieldIssue } from '../schemas/row-validator.js';
import { controlDataschemaUri } from '../schemas/control-schemas.js';

export interface FileContext {
  object: ObjectInfo;
  /** CloudEvents `source`: the bucket the file landed in. */
  source: string;
  dataset: DatasetDefinition;
  /** Hex digest naming (bucket, key, version, dataset, schema version); the prefix of every event id. */
  fingerprint: string;
  /**
   * W3C trace context of the file's ingestion, carried by each of its events as the CloudEvents
   * distributed-tracing extension. Absent when the file is not traced, and then absent from the events.
   */
  traceparent?: string;
  tracestate?: string;
}

export async function fileFingerprint(object: ObjectInfo, dataset: DatasetDefinition): Promise<string> {
  const identity = [object.bucket, object.key, object.version, dataset.name, dataset.schemaVersion].join(
    '\n',
  );
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(identity));
  return [...new Uint8Array(digest, 0, 16)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The constant start of every row event of one file, up to the row number in its id: a row's event is
 * `${head}${row}","rownumber":${row},"data":${JSON.stringify(values)}}`, written by RowBlockBuilder (row-block.ts).
 */
export function rowEventHead(file: FileContext): string {
  const { object, dataset } = file;
  return (
    `{"specversion":"1.0","source":${JSON.stringify(file.source)},"type":${JSON.stringify(dataset.eventType)},` +
    `"subject":${JSON.stringify(object.key)},"time":${JSON.stringify(object.updated)},` +
    `"datacontenttype":"application/json","dataschema":${JSON.stringify(dataschemaUri(dataset))},` +
    `"dataset":${JSON.stringify(dataset.name)},"schemaversion":${dataset.schemaVersion},` +
    `"objectversion":${JSON.stringify(object.version)},${traceMembers(file)}${partitionKeyMember(file)}` +
    `"id":"${file.fingerprint}-`
  );
}

/** `"partitionkey":"<object key>",` when the dataset's rows are partitioned by object key. */
function partitionKeyMember(file: FileContext): string {
  return file.dataset.partitionKey === 'objectKey'
    ? `"partitionkey":${JSON.stringify(file.object.key)},`
    : '';
}

/** `"traceparent":"…",` and `"tracestate":"…",` of a traced file: written once into its events' head. */
function traceMembers(file: FileContext): string {
  return (
    (file.traceparent ? `"traceparent":${JSON.stringify(file.traceparent)},` : '') +
    (file.tracestate ? `"tracestate":${JSON.stringify(file.tracestate)},` : '')
  );
}

/** The id of row `row`'s event. */
export function rowEventId(file: FileContext, row: number): string {
  return `${file.fingerprint}-${row}`;
}

/** The attributes every row event of the file shares (a column's partition key is each row's own). */
export function rowEventAttributes(file: FileContext): Readonly<Record<string, string>> {
  const attributes = eventAttributes(file, file.dataset.eventType);
  return file.dataset.partitionKey === 'objectKey'
    ? Object.freeze({ ...attributes, [PARTITION_KEY_ATTRIBUTE]: file.object.key })
    : attributes;
}

export interface Rejection {
  row: number;
  line: number;
  issues: FieldIssue[];
  raw: unknown;
}

export function rejectionEvent(file: FileContext, rejection: Rejection): OutgoingEvent {
  const { object, dataset } = file;
  const id = `${file.fingerprint}-${rejection.row}-rejected`;
  const event = {
    ...envelope(file, id, 'RowRejected', controlDataschemaUri('dead-letter', dataset.schemaBaseUrl)),
    rownumber: rejection.row,
    data: {
      dataset: dataset.name,
      schemaVersion: dataset.schemaVersion,
      bucket: object.bucket,
      objectKey: object.key,
      objectVersion: object.version,
      row: rejection.row,
      line: rejection.line,
      errors: rejection.issues,
      raw: rejection.raw,
    },
  };
  return { id, body: JSON.stringify(event), attributes: eventAttributes(file, 'RowRejected') };
}

/** `FileIngested` or `FileRejected`, one per attempt that finishes; a replay gets ids of its own. */
export function fileSummaryEvent(
  file: FileContext,
  type: 'FileIngested' | 'FileRejected',
  replay: number,
  data: Record<string, unknown>,
): OutgoingEvent {
  const id = `${file.fingerprint}-file${replay > 0 ? `-replay-${replay}` : ''}`;
  const dataschema = controlDataschemaUri('file-summary', file.dataset.schemaBaseUrl);
  const event = { ...envelope(file, id, type, dataschema), data };
  return { id, body: JSON.stringify(event), attributes: eventAttributes(file, type) };
}

/**
 * A control event's envelope: `dataschema` names the control schema of its data, while `dataset` and
 * `schemaversion` still name the dataset version of the file it is about.
 */
function envelope(file: FileContext, id: string, type: string, dataschema: string) {
  return {
    specversion: '1.0',
    id,
    source: file.source,
    type,
    subject: file.object.key,
    time: file.object.updated,
    datacontenttype: 'application/json',
    dataschema,
    dataset: file.dataset.name,
    schemaversion: file.dataset.schemaVersion,
    objectversion: file.object.version,
    ...(file.traceparent ? { traceparent: file.traceparent } : {}),
    ...(file.tracestate ? { tracestate: file.tracestate } : {}),
  };
}

function eventAttributes(file: FileContext, type: string): Record<string, string> {
  return Object.freeze({
    type,
    dataset: file.dataset.name,
    schemaversion: String(file.dataset.schemaVersion),
    // Sinks that carry attributes beside the body (SQS, Pub/Sub) hand the trace on there too.
    ...(file.traceparent ? { traceparent: file.traceparent } : {}),
    ...(file.tracestate ? { tracestate: file.tracestate } : {}),
  }) as Record<string, string>;
}
