/**
 * Parquet rows through the object store's range reads: the footer first, then one row group at a time,
 * so memory is bounded by a row group's compressed and page bytes whatever the file size, and the same
 * code reads local files, GCS, S3 and R2. Pages are decoded with hyparquet's functions a slice of rows
 * at a time (row-group-slices.ts: every codec, see compressors.ts; V1 and V2 pages, dictionaries,
 * nested types); parquet-values.ts maps the values to JSON. The file's top-level columns meet the
 * schema under the dataset's drift rules (column-mapping.ts), worked out once per file.
 */
import { parquetMetadataAsync, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { ParquetColumnError, columnChunkRange, openRowGroupSlices } from './row-group-slices.js';
import type { ObjectInfo, ObjectStore } from '../../adapters/ports.js';
import type { ColumnDrift, ColumnRules, RowSchema } from '../../schemas/dataset.js';
import type { FieldIssue, RowValidator } from '../../schemas/row-validator.js';
import { countedBlock, rowBlocks, type AllocateBytes, type BlockSize, type RowBlock } from '../row-block.js';
import { DropgateError, describeError, isDropgateError } from '../../adapters/errors.js';
import { NO_ISSUES, setColumn, type ParsedRow, type RowSource } from '../rows.js';
import { converterFor, isDecimal, parsers, temporalFormat, type ValueConverter } from './parquet-values.js';
import { columnMapping } from '../column-mapping.js';

/** How a file's columns meet the dataset's schema. */
export interface ParquetColumnOptions {
  /** The dataset's drift rules; absent: exact names, unknown columns as the schema allows. */
  columns?: ColumnRules;
  /** Told how the file's columns differ from the schema, once its footer is read. */
  onDrift?: (drift: ColumnDrift) => void;
}

export async function parquetRowSource(
  store: ObjectStore,
  object: ObjectInfo,
  schema: RowSchema,
  options: ParquetColumnOptions = {},
): Promise<RowSource> {
  const { file, metadata, columns } = await openParquet(store, object, schema, options);
  const rawMetadata = withRawValues(metadata);
  const prefetching = withPrefetch(file, metadata);
  return {
    rows: (async function* () {
      for (const [index, group] of rowGroupRanges(metadata).entries()) {
        yield* rowGroupRows(prefetching, rawMetadata, columns, index, group.start, group.end);
      }
    })(),
    renderRaw: rawRenderer(columns),
  };
}

/** The footer, read and checked against the dataset's schema under its drift rules. */
async function openParquet(
  store: ObjectStore,
  object: ObjectInfo,
  schema: RowSchema,
  options: ParquetColumnOptions,
): Promise<{ file: AsyncBuffer; metadata: FileMetaData; columns: ParquetColumns }> {
  // Magic number, footer length and magic number again: nothing shorter can be Parquet.
  if (object.size < 12) {
    throw new DropgateError('FILE_UNREADABLE', `not a Parquet file: ${object.size} bytes is too small`);
  }
  const file = rangeReader(store, object);
  // 64 KiB from the end holds most footers; hyparquet reads more when the footer says it is larger.
  const metadata = await unreadable('the footer', () =>
    parquetMetadataAsync(file, { parsers, initialFetchSize: 1 << 16 }),
  );
  // A corrupt footer can parse, and still describe a schema tree or column chunks that do not hold
  // together: everything made from them must be made here, or its TypeError would leave as INTERNAL.
  const columns = await unreadable('the footer', () => {
    const planned = parquetColumns(metadata, schema, options.columns);
    rowGroupSpans(metadata);
    return planned;
  });
  options.onDrift?.(columns.drift);
  return { file, metadata, columns };
}

interface NamedConverter {
  /** The column's name in the file. */
  column: string;
  /** The property it sets; for a column the schema does not declare, the column's name. */
  name: string;
  convert: ValueConverter;
}

interface ExtraConverter extends NamedConverter {
  kind: 'rescue' | 'ignore';
}

/** How a file's columns are read: worked out once per file (and once per row group in a thread). */
interface ParquetColumns {
  /** Columns that set a property of the row (the schema's, or any under no drift rule). */
  values: NamedConverter[];
  /** Columns the schema does not declare, rescued or ignored by the drift rule. */
  extras: ExtraConverter[];
  /** Whether any column is an extra or is read under another name than its own. */
  drifted: boolean;
  /** Every column in the file's order: its name and where its value is (an index of extras, or -1). */
  fileOrder: Array<{ column: string; name: string; extra: number }>;
  drift: ColumnDrift;
}

function parquetColumns(metadata: FileMetaData, schema: RowSchema, rules?: ColumnRules): ParquetColumns {
  const properties = schema.properties ?? {};
  const nodes = parquetSchema(metadata).children;
  const { columns, drift } = columnMapping(
    nodes.map((node) => node.element.name),
    schema,
    rules,
    { holder: 'the file', fail: columnsError },
  );
  const planned: ParquetColumns = { values: [], extras: [], drifted: false, fileOrder: [], drift };
  for (const [index, { name, kind }] of columns.entries()) {
    const node = nodes[index]!;
    const column = node.element.name;
    const property = kind === 'value' && Object.hasOwn(properties, name) ? properties[name] : undefined;
    const convert = converterFor(node, property);
    if (kind === 'value') {
      planned.values.push({ column, name, convert });
      planned.fileOrder.push({ column, name, extra: -1 });
    } else {
      planned.fileOrder.push({ column, name, extra: planned.extras.length });
      planned.extras.push({ column, name, convert, kind });
    }
    if (kind !== 'value' || name !== column) planned.drifted = true;
  }
  return planned;
}

/** A row's record for its dead letter: under the file's column names, the extras included. */
function rawRenderer(columns: ParquetColumns): (raw: unknown) => unknown {
  if (!columns.drifted) return (raw) => raw;
  return (raw) => {
    const { values, extras } =
      columns.extras.length > 0
        ? (raw as DriftedRaw)
        : { values: raw as Record<string, unknown>, extras: [] as unknown[] };
    const record: Record<string, unknown> = {};
    for (const { column, name, extra } of columns.fileOrder) {
      setColumn(record, column, extra === -1 ? values[name] : extras[extra]);
    }
    return record;
  };
}

/** The raw record of a row of a file with extra columns: its values and its extras' values. */
interface DriftedRaw {
  values: Record<string, unknown>;
  extras: unknown[];
}

/** Each row group's rows, as [start, end) of the file's rows. */
function rowGroupRanges(metadata: FileMetaData): Array<{ start: number; end: number }> {
  let start = 0;
  return metadata.row_groups.map((group) => {
    const range = { start, end: start + Number(group.num_rows) };
    start = range.end;
    return range;
  });
}

/**
 * Rows made JS values at once. 512 rows of the bench's orders (~0.5 MB of values) die young; slices of
 * 2048 outlived the 4 MB young generation (npm start's --max-semi-space-size) and were ~10% slower.
 */
const SLICE_ROWS = 512;

/**
 * One row group's rows, a slice at a time: its column chunks' pages are decoded compactly and become
 * row objects SLICE_ROWS at a time (row-group-slices.ts), so a slice's values are all that is alive as
 * JS values, not the row group's.
 */
async function* rowGroupRows(
  file: AsyncBuffer,
  metadata: FileMetaData,
  columns: ParquetColumns,
  index: number,
  groupStart: number,
  groupEnd: number,
): AsyncGenerator<ParsedRow[]> {
  const issues: FieldIssue[] = [];
  const report = (issue: FieldIssue) => void issues.push(issue);
  const where = `row group ${index + 1} of ${metadata.row_groups.length}`;
  const { values: converters, extras } = columns;
  const template = Object.fromEntries(converters.map(({ name }) => [name, null])) as Record<string, unknown>;
  const slices = await unreadable(where, () =>
    // INT64 values as numbers where exact: parquet-values.ts converts both alike.
    openRowGroupSlices(metadata, index, parsers, (start, end) => file.slice(start, end), {
      exactInt64: true,
    }),
  );
  for (let sliceStart = 0; sliceStart < groupEnd - groupStart; sliceStart += SLICE_ROWS) {
    const count = Math.min(SLICE_ROWS, groupEnd - groupStart - sliceStart);
    const { rows: decoded, columns: decodedColumns } = await unreadable(where, () => slices.read(count));
    if (decoded !== count) {
      throw new DropgateError(
        'FILE_UNREADABLE',
        `not a readable Parquet file (${where}): its columns end after ${sliceStart + decoded} of the ${groupEnd - groupStart} rows its footer declares`,
      );
    }
    const dataOf = ({ column }: NamedConverter) => {
      const data = decodedColumns.get(column);
      if (!data) throw new DropgateError('FILE_UNREADABLE', `${where} has no data for column ${column}`);
      return data;
    };
    const data = converters.map(dataOf);
    const extraData = extras.map(dataOf);
    const rows = new Array<ParsedRow>(count);
    // Values of a type their column's converter does not take come from a footer that lies about them.
    await unreadable(where, () => {
      for (let offset = 0; offset < count; offset++) {
        const values: Record<string, unknown> = { ...template };
        const row = groupStart + sliceStart + offset + 1;
        let column = 0;
        try {
          for (; column < converters.length; column++) {
            setColumn(
              values,
              converters[column]!.name,
              converters[column]!.convert(data[column]![offset], report),
            );
          }
        } catch (error) {
          throw new ParquetColumnError(converters[column]!.name, `row ${row}`, error);
        }
        if (extras.length > 0) {
          rows[offset] = rowWithExtras(row, values, extras, extraData, offset, issues, report);
          continue;
        }
        rows[offset] = {
          row,
          line: row,
          values,
          issues: issues.length ? issues.splice(0) : NO_ISSUES,
          raw: values,
        };
      }
    });
    yield rows;
  }
}

const ignoreIssue = () => undefined;

/**
 * A row of a file with columns the schema does not declare: their values (JSON values, as the schema's
 * columns' are) rescued or counted as ignored, and kept in the row's raw record for a dead letter.
 */
function rowWithExtras(
  row: number,
  values: Record<string, unknown>,
  extras: ExtraConverter[],
  extraData: ArrayLike<unknown>[],
  offset: number,
  issues: FieldIssue[],
  report: (issue: FieldIssue) => void,
): ParsedRow {
  let rescued: Record<string, unknown> | undefined;
  let ignored = 0;
  const extraValues = new Array<unknown>(extras.length);
  for (let index = 0; index < extras.length; index++) {
    const extra = extras[index]!;
    // A value JSON cannot carry rejects the row only where it would have gone into the event.
    const value = extra.convert(extraData[index]![offset], extra.kind === 'rescue' ? report : ignoreIssue);
    extraValues[index] = value;
    if (value === null || value === undefined) continue;
    if (extra.kind === 'rescue') setColumn((rescued ??= {}), extra.name, value);
    else ignored++;
  }
  const raw: DriftedRaw = { values, extras: extraValues };
  const parsed: ParsedRow = {
    row,
    line: row,
    values,
    issues: issues.length ? issues.splice(0) : NO_ISSUES,
    raw,
  };
  if (rescued) parsed.rescued = rescued;
  if (ignored > 0) parsed.valuesIgnored = ignored;
  return parsed;
}

/** What every row group of one file shares; plain data, so it crosses to a worker thread as it is. */
export interface RowGroupPlan {
  schema: RowSchema;
  schemaName: string;
  /** The footer as read (DECIMAL annotations included). */
  metadata: FileMetaData;
  fileSize: number;
  head: string;
  /** The column whose value is each event's `partitionkey`, if the dataset's partition key is one. */
  partitionColumn?: string;
  skipThrough: number;
  /** The pipeline's block size, as on the calling thread. */
  blockSize: BlockSize;
  /** The dataset's drift rules. */
  columns?: ColumnRules;
}

/**
 * The most event bytes in a block of rowGroupBlocks: about what a CSV segment's block holds. With the
 * pipeline's 8 MiB, blocks were ~7 MB and a thread held ~60 MB of them (ahead, being built, spare).
 */
const THREAD_BLOCK_BYTES = 1 << 20;

export interface RowGroupTask {
  index: number;
  /** The row group's column chunks: file bytes [spanStart, spanStart + bytes.length). */
  bytes: Uint8Array;
  spanStart: number;
}

/**
 * Decodes, validates and serializes one row group from its bytes, block by block, as the consumer takes
 * them: the work a pool runs. Blocks hold at most THREAD_BLOCK_BYTES of events (less than the pipeline's
 * block size), so the few a thread keeps ahead of its consumer stay small.
 */
export async function* rowGroupBlocks(
  plan: RowGroupPlan,
  task: RowGroupTask,
  validate: RowValidator,
  allocate?: AllocateBytes,
): AsyncGenerator<RowBlock> {
  const { start, end } = rowGroupRanges(plan.metadata)[task.index]!;
  const { bytes, spanStart } = task;
  const file: AsyncBuffer = {
    byteLength: plan.fileSize,
    slice(from: number, to = plan.fileSize) {
      if (from < spanStart || to > spanStart + bytes.length) {
        throw new DropgateError(
          'FILE_UNREADABLE',
          `row group ${task.index + 1} points outside its column chunks`,
        );
      }
      const at = bytes.byteOffset + from - spanStart;
      return bytes.buffer.slice(at, at + to - from) as ArrayBuffer;
    },
  };
  const columns = parquetColumns(plan.metadata, plan.schema, plan.columns);
  const rows = rowGroupRows(file, withRawValues(plan.metadata), columns, task.index, start, end);
  const size = { rows: plan.blockSize.rows, bytes: Math.min(plan.blockSize.bytes, THREAD_BLOCK_BYTES) };
  yield* rowBlocks({ rows, renderRaw: rawRenderer(columns) }, size, {
    head: plan.head,
    ...(plan.partitionColumn !== undefined ? { partitionColumn: plan.partitionColumn } : {}),
    validate,
    skipThrough: plan.skipThrough,
    startRow: start,
    ...(allocate ? { allocate } : {}),
  });
}

/**
 * Runs row groups; `size` of them at once. Each row group's blocks come in order, and a stream stays at
 * most a few blocks ahead of its consumer, so a slow sink holds back the decoding instead of buffering
 * a row group's events. Errors are DropgateErrors, as if the row group ran inline, and come after the
 * blocks made before them; OUT_OF_MEMORY means the row group needs more memory than the pool allows
 * (parallelParquetBlocks then runs it on the calling thread). Returning a stream early stops its row group.
 */
export interface RowGroupPool {
  readonly size: number;
  rowGroupBlocks(plan: RowGroupPlan, task: RowGroupTask): AsyncIterableIterator<RowBlock>;
}

/**
 * A Parquet file's row blocks, in order, with its row groups decoded by `pool`, `pool.size` at once. A
 * row group that needs more than the pool's capped heaps (rows of several MB each) runs here instead,
 * with `validate`, from where the pool stopped.
 */
export async function* parallelParquetBlocks(
  store: ObjectStore,
  object: ObjectInfo,
  pool: RowGroupPool,
  options: ParquetColumnOptions & {
    schema: RowSchema;
    schemaName: string;
    head: string;
    partitionColumn?: string;
    skipThrough: number;
    blockSize: BlockSize;
    validate: RowValidator;
  },
): AsyncGenerator<RowBlock> {
  const { file, metadata } = await openParquet(store, object, options.schema, options);
  const { validate, onDrift: _onDrift, ...shared } = options;
  const plan: RowGroupPlan = { ...shared, metadata, fileSize: object.size };
  const spans = rowGroupSpans(metadata);
  const ranges = rowGroupRanges(metadata);
  const open = async (index: number): Promise<Iterable<RowBlock> | AsyncIterable<RowBlock>> => {
    const { start: first, end: last } = ranges[index]!;
    // Row groups a resumed attempt has already published are only counted.
    if (last <= options.skipThrough) return [countedBlock(last, last - first)];
    return pool.rowGroupBlocks(plan, await rowGroupTask(index));
  };
  const rowGroupTask = async (index: number): Promise<RowGroupTask> => {
    const { start: spanStart, end: spanEnd } = spans[index]!;
    return { index, bytes: new Uint8Array(await file.slice(spanStart, spanEnd)), spanStart };
  };
  /** Row group `index` on this thread, after the rows the pool handed on, up to `lastRow`. */
  async function* here(index: number, lastRow: number): AsyncGenerator<RowBlock> {
    // The pool's blocks counted every row of the group from its start through lastRow.
    let counted = lastRow - ranges[index]!.start;
    const resumed = { ...plan, skipThrough: Math.max(plan.skipThrough, lastRow) };
    for await (const block of rowGroupBlocks(resumed, await rowGroupTask(index), validate)) {
      // The rows the pool handed on are counted already.
      const recount = Math.min(counted, block.rowsRead);
      counted -= recount;
      yield recount === 0 ? block : { ...block, rowsRead: block.rowsRead - recount };
    }
  }
  // The row group being published, and the ones after it that the pool decodes meanwhile.
  const opened: Array<Promise<Iterable<RowBlock> | AsyncIterable<RowBlock>>> = [];
  try {
    for (let index = 0; index < ranges.length; index++) {
      while (opened.length < pool.size && index + opened.length < ranges.length) {
        const next = open(index + opened.length);
        next.catch(() => undefined);
        opened.push(next);
      }
      const blocks = await opened.shift()!;
      let lastRow = ranges[index]!.start;
      try {
        for await (const block of blocks) {
          lastRow = block.lastRow;
          yield block;
        }
      } catch (error) {
        if (!isDropgateError(error, 'OUT_OF_MEMORY')) throw error;
        yield* here(index, lastRow);
      }
    }
  } finally {
    // A failure or an early return stops the row groups opened ahead.
    for (const next of opened.splice(0)) {
      const stream = (await next.catch(() => undefined)) as AsyncIterator<RowBlock> | undefined;
      await stream?.return?.();
    }
  }
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
          cause: error,
        });
      }
    },
  };
}

/**
 * Serves each row group's column chunks from one range read, and starts reading the next row group's
 * bytes (compressed, so small) as soon as a row group is asked for: the store's latency then overlaps
 * with decoding and publishing the current one. Other ranges (the footer) pass straight through.
 */
function withPrefetch(file: AsyncBuffer, metadata: FileMetaData): AsyncBuffer {
  const spans = rowGroupSpans(metadata);
  const fetched = new Map<number, Promise<ArrayBuffer>>();
  const fetch = (index: number) => {
    let bytes = fetched.get(index);
    if (!bytes) {
      const { start, end } = spans[index]!;
      bytes = Promise.resolve(file.slice(start, end));
      bytes.catch(() => undefined);
      fetched.set(index, bytes);
    }
    return bytes;
  };
  return {
    byteLength: file.byteLength,
    async slice(start: number, end = file.byteLength) {
      const index = spans.findIndex((span) => start >= span.start && end <= span.end);
      if (index === -1) return file.slice(start, end);
      for (const old of fetched.keys()) if (old < index) fetched.delete(old);
      if (index + 1 < spans.length) fetch(index + 1);
      const span = spans[index]!;
      return (await fetch(index)).slice(start - span.start, end - span.start);
    },
  };
}

/** The bytes each row group's column chunks span, [start, end) of the file. */
function rowGroupSpans(metadata: FileMetaData): Array<{ start: number; end: number }> {
  return metadata.row_groups.map((group) => {
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (const { meta_data: column } of group.columns) {
      if (!column) continue;
      const chunk = columnChunkRange(column);
      start = Math.min(start, chunk.start);
      end = Math.max(end, chunk.end);
    }
    return { start, end };
  });
}

/**
 * A copy of the metadata whose DECIMAL, DATE and TIMESTAMP columns are plain integers, which
 * parquet-values.ts converts a row at a time: DECIMAL so hyparquet hands over the exact unscaled values
 * instead of float64 approximations, DATE and TIMESTAMP so a row group's values stay numbers (8 bytes
 * each) until their row is built instead of strings (over 300 bytes each).
 */
function withRawValues(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((element) =>
      isDecimal(element) || temporalFormat(element)
        ? { ...element, converted_type: undefined, logical_type: undefined }
        : element,
    ),
  };
}

function columnsError(message: string): DropgateError {
  return new DropgateError('FILE_UNREADABLE', `columns: ${message}`);
}

/** Runs a hyparquet step; its errors mean the file is corrupt, truncated or uses something unsupported. */
async function unreadable<T>(what: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw unreadableError(what, error);
  }
}

/**
 * The longest string V8 makes (2^29 - 24 UTF-16 units): Node's buffer.constants.MAX_STRING_LENGTH on
 * 64-bit platforms. A value longer than that cannot become a JS string, nor JSON.
 */
export const LONGEST_STRING = 2 ** 29 - 24;

/**
 * What a failed step of reading `what` (a row group, the footer) means for the file: a DropgateError as
 * it is, else FILE_UNREADABLE naming the column and page or row where one is known.
 */
export function unreadableError(what: string, error: unknown): DropgateError {
  if (error instanceof DropgateError) return error;
  const [place, cause] =
    error instanceof ParquetColumnError
      ? [`${what}, column ${error.column}, ${error.place}`, error.cause]
      : [what, error];
  // hyparquet's own messages name the problem; a JS TypeError or RangeError means it met garbage, and
  // so does a message naming a value read as undefined or NaN ("unsupported page type: undefined").
  const message = describeError(cause);
  if (isStringTooLong(cause)) {
    return new DropgateError(
      'FILE_UNREADABLE',
      `a value of the Parquet file (${place}) is longer than the longest string JavaScript holds ` +
        `(${LONGEST_STRING.toLocaleString('en-US')} characters; binary values count 4 base64 characters ` +
        'for every 3 bytes), so it cannot be carried in an event',
      { cause: error },
    );
  }
  const detail =
    cause instanceof TypeError || cause instanceof RangeError || /\b(?:undefined|NaN)\b/.test(message)
      ? 'it is corrupt'
      : message;
  return new DropgateError('FILE_UNREADABLE', `not a readable Parquet file (${place}): ${detail}`, {
    cause: error,
  });
}

/**
 * V8's RangeError for a string past LONGEST_STRING (concatenation, repeat, JSON.stringify), and Node's
 * own error when TextDecoder or a Buffer would make one (ERR_STRING_TOO_LONG).
 */
function isStringTooLong(error: unknown): boolean {
  if (error instanceof RangeError && error.message === 'Invalid string length') return true;
  return (error as { code?: unknown } | null)?.code === 'ERR_STRING_TOO_LONG';
}
