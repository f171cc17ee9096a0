/**
 * Parquet rows through the object store's range reads: the footer first, then one row group at a time,
 * so memory is bounded by a row group whatever the file size, and the same code reads local files, GCS,
 * S3 and R2. hyparquet decodes (every codec via hyparquet-compressors, V1 and V2 pages, dictionaries,
 * nested types); parquet-values.ts maps its values to JSON.
 */
import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { ObjectInfo, ObjectStore } from '../../adapters/ports.js';
import type { RowSchema } from '../../schemas/dataset.js';
import type { FieldIssue } from '../../schemas/row-validator.js';
import { DropgateError, describeError } from '../errors.js';
import type { ParsedRow, RowSource } from '../rows.js';
import { converterFor, isDecimal, parsers, type ValueConverter } from './parquet-values.js';

export async function parquetRowSource(
  store: ObjectStore,
  object: ObjectInfo,
  schema: RowSchema,
): Promise<RowSource> {
  const file = rangeReader(store, object);
  const metadata = await unreadable('the footer', () => parquetMetadataAsync(file, { parsers }));
  const columns = parquetSchema(metadata).children;
  checkColumns(
    columns.map((column) => column.element.name),
    schema,
  );
  const properties = schema.properties ?? {};
  const converters = columns.map((column) => ({
    name: column.element.name,
    convert: converterFor(column, properties[column.element.name]),
  }));
  return {
    rows: rowGroups(file, withRawDecimals(metadata), converters),
    renderRaw: (raw) => raw,
  };
}

async function* rowGroups(
  file: AsyncBuffer,
  metadata: FileMetaData,
  converters: Array<{ name: string; convert: ValueConverter }>,
): AsyncGenerator<ParsedRow[]> {
  let rowStart = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    const records = await unreadable(`row group ${index + 1} of ${metadata.row_groups.length}`, () =>
      readRows(file, metadata, rowStart, rowEnd),
    );
    const rows = new Array<ParsedRow>(records.length);
    for (let offset = 0; offset < records.length; offset++) {
      const record = records[offset]!;
      const row = rowStart + offset + 1;
      let issues: FieldIssue[] | null = null;
      const report = (issue: FieldIssue) => (issues ??= []).push(issue);
      const values: Record<string, unknown> = {};
      for (const { name, convert } of converters) values[name] = convert(record[name], report);
      rows[offset] = { row, line: row, values, issues: issues ?? [], raw: values };
    }
    yield rows;
    rowStart = rowEnd;
  }
}

function readRows(file: AsyncBuffer, metadata: FileMetaData, rowStart: number, rowEnd: number) {
  return new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    parquetRead({
      file,
      metadata,
      rowStart,
      rowEnd,
      rowFormat: 'object',
      compressors,
      parsers,
      utf8: false,
      onComplete: (rows) => resolve(rows as Array<Record<string, unknown>>),
    }).catch(reject);
  });
}

/** An AsyncBuffer over the store's range reads of one pinned version; store faults stay retryable. */
function rangeReader(store: ObjectStore, object: ObjectInfo): AsyncBuffer {
  return {
    byteLength: object.size,
    async slice(start: number, end?: number) {
      try {
        const bytes = await store.readRange(object.key, object.version, start, end ?? object.size);
        // ArrayBuffer.slice copies exactly these bytes, whatever view (or pooled Buffer) the store returned.
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      } catch (error) {
        if (error instanceof DropgateError) throw error;
        throw new DropgateError('OBJECT_READ_FAILED', `reading the object failed: ${describeError(error)}`, {
          retryable: true,
          cause: error,
        });
      }
    },
  };
}

/**
 * A copy of the metadata whose DECIMAL columns are plain integers, so hyparquet hands over the exact
 * unscaled values instead of float64 approximations; parquet-values.ts scales them from the schema.
 */
function withRawDecimals(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((element) =>
      isDecimal(element) ? { ...element, converted_type: undefined, logical_type: undefined } : element,
    ),
  };
}

function checkColumns(names: string[], schema: RowSchema): void {
  const missing = (schema.required ?? []).filter((name) => !names.includes(name));
  if (missing.length > 0) {
    throw new DropgateError(
      'FILE_UNREADABLE',
      `columns: missing required column(s) ${missing.join(', ')}; the file has ${names.join(', ')}`,
    );
  }
  if (schema.additionalProperties === false) {
    const properties = schema.properties ?? {};
    const unknown = names.filter((name) => !(name in properties));
    if (unknown.length > 0) {
      throw new DropgateError(
        'FILE_UNREADABLE',
        `columns: ${unknown.join(', ')} are not in the schema, which allows no other columns`,
      );
    }
  }
}

/** Runs a hyparquet step; its errors mean the file is corrupt, truncated or uses something unsupported. */
async function unreadable<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof DropgateError) throw error;
    throw new DropgateError(
      'FILE_UNREADABLE',
      `not a readable Parquet file (${what}): ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
}
