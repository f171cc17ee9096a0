/**
 * CSV ingestion over several cores: the file is cut into segments of whole records (csv-segments.ts),
 * each segment is parsed, validated and serialized into a row block by a pool (Node worker threads, or
 * inline), and the blocks come back in file order. Rows are numbered from the record counts of the cut,
 * so event ids are the same as the sequential parser's; lines, which only dead letters carry, are counted
 * by whoever parses and added up in order here.
 */
import { schemaColumns, type ColumnDrift, type CsvOptions, type RowSchema } from '../../schemas/dataset.js';
import type { RowValidator } from '../../schemas/row-validator.js';
import { decodeUtf8Piece, decodeUtf8Text } from '../decode.js';
import { DropgateError } from '../../adapters/errors.js';
import { RowBlockBuilder, type AllocateBytes, type RowBlock } from '../row-block.js';
import type { RowSource } from '../rows.js';
import { csvRecords } from './csv-records.js';
import {
  checkedHeader,
  csvRowSource,
  DEFAULT_MAX_RECORD_CHARS,
  noHeaderError,
  type CsvStart,
} from './csv-row-source.js';
import { csvPieces } from './csv-segments.js';

/** What every segment of one file shares; plain data, so it crosses to a worker thread as it is. */
export interface CsvSegmentPlan {
  schema: RowSchema;
  /** Names the schema and version, for the compiled-validator cache. */
  schemaName: string;
  csv: CsvOptions;
  /** The header's column names; null for files without a header row. */
  header: string[] | null;
  newline: string;
  /** `rowEventHead` of the file. */
  head: string;
  /** The column whose value is each event's `partitionkey`, if the dataset's partition key is one. */
  partitionColumn?: string;
  skipThrough: number;
}

export interface CsvSegmentTask {
  bytes: Uint8Array;
  /** Data rows before the segment. */
  startRow: number;
  /** Data rows the cut counted in the segment; the parse must find the same number. */
  rows: number;
}

export interface CsvSegmentResult {
  /** Its rejections' and events' lines count from 0 at the segment's first line. */
  block: RowBlock;
  /** Lines the segment spans. */
  lines: number;
}

/** Runs segments; `size` of them at once. Errors are DropgateErrors, as if the segment ran inline. */
export interface CsvSegmentPool {
  readonly size: number;
  process(plan: CsvSegmentPlan, task: CsvSegmentTask): Promise<CsvSegmentResult>;
}

/** Parses, validates and serializes one segment: the work a pool runs, on any runtime. */
export async function processCsvSegment(
  plan: CsvSegmentPlan,
  task: CsvSegmentTask,
  validate: RowValidator,
  allocate?: AllocateBytes,
): Promise<CsvSegmentResult> {
  let lines = 0;
  const source = csvRowSource(once(decodeUtf8Piece(task.bytes)), plan.schema, {
    ...plan.csv,
    start: {
      header: plan.header,
      newline: plan.newline,
      row: task.startRow,
      line: 0,
      onLine: (next) => (lines = next),
    },
  });
  const builder = new RowBlockBuilder({
    head: plan.head,
    ...(plan.partitionColumn !== undefined ? { partitionColumn: plan.partitionColumn } : {}),
    validate,
    renderRaw: source.renderRaw,
    skipThrough: plan.skipThrough,
    startRow: task.startRow,
    // An event is the head, the row number twice and the row as JSON, which takes at most about 3 times
    // its CSV (keys, quotes, escapes); a buffer too large is only address space (see take()).
    expectedBytes: task.rows * (plan.head.length + 48) + task.bytes.length * 3,
    ...(allocate ? { allocate } : {}),
  });
  for await (const rows of source.rows) builder.add(rows);
  const block = builder.take();
  if (block.rowsRead !== task.rows) {
    throw new DropgateError(
      'INVARIANT_BROKEN',
      `a CSV segment starting after row ${task.startRow} was cut as ${task.rows} rows but parsed as ${block.rowsRead}`,
    );
  }
  block.lastRow = task.startRow + task.rows;
  return { block, lines };
}

/** A pool that runs segments one at a time on the calling thread (runtimes without threads, tests). */
export function inlineSegmentPool(validatorFor: (plan: CsvSegmentPlan) => RowValidator): CsvSegmentPool {
  return {
    size: 1,
    process: (plan, task) => processCsvSegment(plan, task, validatorFor(plan)),
  };
}

export interface ParallelCsvOptions {
  schema: RowSchema;
  schemaName: string;
  csv: CsvOptions;
  /** `rowEventHead` of the file. */
  head: string;
  partitionColumn?: string;
  skipThrough: number;
  segmentBytes: number;
  /** Turns a sequential row source, for a part of the file the cut leaves to one parser, into blocks. */
  blocksOf: (source: RowSource) => AsyncIterable<RowBlock>;
  /** Told how the header differs from the schema, once it is read. */
  onDrift?: (drift: ColumnDrift) => void;
}

/**
 * Segments in flight per thread of the pool. Blocks come back in file order, so while the oldest segment
 * is still being parsed, the threads done with theirs wait for more: with 2 (of 128 KiB) per thread the
 * main thread waited ~11-12 s for threads on the 1 GB bench (2 threads) while they were far from busy;
 * with 4 the run took 28.1 s instead of 29.6 s. Segments are now 256 KiB (ingest-file.ts), so 3 hold
 * about as much as 4 did.
 */
const SEGMENTS_PER_THREAD = 3;

/** A UTF-8 CSV file's row blocks, in order, built by `pool` from segments of `plain`. */
export async function* parallelCsvBlocks(
  plain: ReadableStream<Uint8Array>,
  pool: CsvSegmentPool,
  options: ParallelCsvOptions,
): AsyncGenerator<RowBlock> {
  const { csv, schema } = options;
  const maxRecordChars = DEFAULT_MAX_RECORD_CHARS;
  let plan: CsvSegmentPlan | undefined;
  let newline = '\n';
  let header: string[] | null = null;
  let columns = csv.header ? 0 : schemaColumns(schema).length;
  let row = 0;
  let line = 1;
  const running: Array<Promise<CsvSegmentResult>> = [];
  const planFor = () =>
    (plan ??= {
      schema,
      schemaName: options.schemaName,
      csv,
      header,
      newline,
      head: options.head,
      ...(options.partitionColumn !== undefined ? { partitionColumn: options.partitionColumn } : {}),
      skipThrough: options.skipThrough,
    });
  const next = async (): Promise<RowBlock> => {
    const { block, lines } = await running.shift()!;
    for (const rejection of block.rejections) rejection.line += line;
    for (let index = 0; index < block.lines.length; index++) block.lines[index]! += line;
    line += lines;
    return block;
  };

  for await (const piece of csvPieces(plain, {
    delimiter: csv.delimiter,
    quote: csv.quote,
    header: csv.header,
    segmentBytes: options.segmentBytes,
    maxRecordBytes: maxRecordChars,
  })) {
    if (piece.kind === 'start') {
      newline = piece.newline;
    } else if (piece.kind === 'header') {
      const record = await firstRecord(decodeUtf8Piece(piece.bytes), csv, newline, (next) => (line = next));
      const checked = checkedHeader(record, schema, csv.columns);
      header = checked.names;
      columns = header.length;
      options.onDrift?.(checked.drift);
    } else if (piece.kind === 'segment') {
      const rows = piece.records - (columns === 1 ? 0 : piece.emptyRecords);
      const started = pool.process(planFor(), { bytes: piece.bytes, startRow: row, rows });
      // Failures surface in file order, when their turn comes.
      started.catch(() => undefined);
      running.push(started);
      row += rows;
      while (running.length >= pool.size * SEGMENTS_PER_THREAD) yield await next();
    } else {
      while (running.length > 0) yield await next();
      const start: CsvStart | undefined =
        piece.newline === undefined ? undefined : { header, newline: piece.newline, row, line };
      // Only UTF-8 files are cut (ingest-file.ts), so the rest is UTF-8 too. The cut has dropped the
      // file's BOM: a U+FEFF where the rest starts is text, as the sequential parser reads it.
      const text = decodeUtf8Text(piece.bytes, { keepBom: true });
      yield* options.blocksOf(
        csvRowSource(text, schema, {
          ...csv,
          maxRecordChars,
          ...(start ? { start } : {}),
          ...(options.onDrift ? { onDrift: options.onDrift } : {}),
        }),
      );
      return;
    }
  }
  while (running.length > 0) yield await next();
  if (csv.header && header === null) throw noHeaderError();
}

/** The header record's fields; tells `onLine` the line after it. */
async function firstRecord(
  text: string,
  csv: CsvOptions,
  newline: string,
  onLine: (next: number) => void,
): Promise<string[]> {
  for await (const batch of csvRecords(once(text), {
    delimiter: csv.delimiter,
    quote: csv.quote,
    maxRecordChars: DEFAULT_MAX_RECORD_CHARS,
    newline,
    onLine,
  })) {
    if (batch.records.length > 0) return batch.records[0]!;
  }
  throw noHeaderError();
}

async function* once(text: string): AsyncGenerator<string> {
  if (text.length > 0) yield text;
}
