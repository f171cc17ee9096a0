/**
 * A Parquet file is read through the object store's range reads only: the footer first, then one row
 * group's column chunks at a time, fetching no byte twice beyond a bounded footer read, and publishing
 * the first rows long before the last row group is fetched. The file (200k rows in 8 row groups, zstd)
 * is written by DuckDB; the bounds come from its own metadata.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, ObjectStore } from '../../adapters/ports.js';
import { ingestFile, type IngestResult } from '../../workers/ingest-file.js';
import { createTemporaryDirectory } from '../contract/temporary-directory.js';
import { testDataset } from '../support/datasets.js';

const ROWS = 200_000;
const GROUP_ROWS = 25_000;
const KEY = 'vendors/acme/orders/large.parquet';
/**
 * What a footer read may fetch beyond the footer itself: a reader that does not know the footer's length
 * reads a speculative tail to save a round trip. 64 KiB is Arrow's and parquet-mr's default footer read;
 * it is small next to a row group, where a read of the whole of a small file is not.
 */
const FOOTER_READ_SLACK = 64 * 1024;

interface Range {
  start: number;
  end: number;
}

interface Reads {
  ranges: Range[];
  bytes: number;
  wholeReads: number;
}

/** The store's range reads, counted and recorded; a whole-object `read` fails the ingestion. */
function countingStore(inner: ObjectStore): { store: ObjectStore; reads: Reads } {
  const reads: Reads = { ranges: [], bytes: 0, wholeReads: 0 };
  const store: ObjectStore = {
    bucket: inner.bucket,
    source: inner.source,
    stat: (key) => inner.stat(key),
    createUploadUrl: (request) => inner.createUploadUrl(request),
    list: (prefix, options) => inner.list(prefix, options),
    copy: (key, version, toKey) => inner.copy(key, version, toKey),
    delete: (key, version) => inner.delete(key, version),
    async read() {
      reads.wholeReads++;
      throw new Error('the Parquet path must read by byte ranges only');
    },
    async readRange(key, version, start, end) {
      const bytes = await inner.readRange(key, version, start, end);
      reads.ranges.push({ start, end: start + bytes.byteLength });
      reads.bytes += bytes.byteLength;
      return bytes;
    },
  };
  return { store, reads };
}

/** Column chunks of each row group, as byte ranges from the file's metadata (page headers included). */
function rowGroupChunks(metadata: FileMetaData): Range[][] {
  return metadata.row_groups.map((group) =>
    group.columns.map(({ meta_data: chunk }) => {
      const start = Number(chunk!.dictionary_page_offset ?? chunk!.data_page_offset);
      return { start, end: start + Number(chunk!.total_compressed_size) };
    }),
  );
}

/** Whether `range` lies inside the union of `spans`. */
function coveredBy(range: Range, spans: Range[]): boolean {
  let at = range.start;
  for (const span of [...spans].sort((left, right) => left.start - right.start)) {
    if (span.start <= at && span.end > at) at = span.end;
    if (at >= range.end) return true;
  }
  return at >= range.end;
}

let bytes: Uint8Array;
let metadata: FileMetaData;
let footer: Range;
let chunks: Range[][];
let run: {
  result: IngestResult;
  reads: Reads;
  rowNumbers: number[];
  sample: Map<number, Record<string, unknown>>;
  atFirstPublish: { bytes: number; ranges: Range[] } | undefined;
};

beforeAll(async () => {
  const directory = await createTemporaryDirectory('parquet-range-reads');
  const path = join(directory.path, 'large.parquet');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    // One thread: row groups are cut in order, every GROUP_ROWS rows (rounded up to DuckDB's 2048-row chunks).
    await connection.run(`SET threads = 1`);
    await connection.run(`
      COPY (
        SELECT
          i::BIGINT AS id,
          md5(i::VARCHAR) AS token,
          'customer-' || (i % 500) AS customer,
          ((i * 37) % 100000 / 100)::DECIMAL(12, 2) AS amount,
          TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i) SECOND AS at,
          CASE WHEN i % 7 = 0 THEN NULL ELSE i % 1000 END::INTEGER AS quantity
        FROM range(${ROWS}) AS t(i)
      ) TO '${path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${GROUP_ROWS})`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  bytes = new Uint8Array(await readFile(path));
  await directory.remove();
  metadata = parquetMetadata(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  );
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  footer = { start: bytes.length - 8 - footerLength, end: bytes.length };
  chunks = rowGroupChunks(metadata);

  const memory = createMemoryObjectStore();
  memory.put(KEY, bytes);
  const { store, reads } = countingStore(memory);
  const inner = createMemoryEventSink();
  const rowNumbers: number[] = [];
  const sample = new Map<number, Record<string, unknown>>();
  let atFirstPublish: (typeof run)['atFirstPublish'];
  const sink: EventSink = {
    capabilities: inner.capabilities,
    close: () => inner.close(),
    async publish(topic, events) {
      if (topic === 'tabular') {
        atFirstPublish ??= { bytes: reads.bytes, ranges: [...reads.ranges] };
        for (const event of events.toEvents()) {
          const { rownumber, data } = JSON.parse(event.body) as {
            rownumber: number;
            data: Record<string, unknown>;
          };
          rowNumbers.push(rownumber);
          if (rownumber % GROUP_ROWS === 1 || rownumber === ROWS) sample.set(rownumber, data);
        }
        return { failed: [] };
      }
      return inner.publish(topic, events);
    },
  };
  const dataset = testDataset({
    name: 'tabular',
    format: 'parquet',
    schema: {
      type: 'object',
      required: ['id', 'token', 'customer', 'amount', 'at', 'quantity'],
      properties: {
        id: { type: 'integer' },
        token: { type: 'string', pattern: '^[0-9a-f]{32}$' },
        customer: { type: 'string' },
        amount: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        quantity: { type: ['integer', 'null'] },
      },
      additionalProperties: false,
    },
    topic: 'tabular',
    deadLetterTopic: 'tabular.dead-letter',
  });
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'dropgate.files', owner: 'range-reads' },
    { dataset, key: KEY, mode: 'notification' },
  );
  run = { result, reads, rowNumbers, sample, atFirstPublish };
}, 120_000);

describe('a 200k-row, 8-row-group Parquet file read through range reads', () => {
  it('is the file the test means: several row groups of compressed data', () => {
    expect(metadata.row_groups.length).toBeGreaterThanOrEqual(6);
    expect(Number(metadata.num_rows)).toBe(ROWS);
    expect(
      new Set(metadata.row_groups.flatMap((group) => group.columns.map((c) => c.meta_data!.codec))),
    ).toEqual(new Set(['ZSTD']));
    // Column chunks are laid out back to back: the bounds below do not hide gaps.
    for (const group of chunks) {
      const sorted = [...group].sort((left, right) => left.start - right.start);
      for (let index = 1; index < sorted.length; index++)
        expect(sorted[index]!.start).toBe(sorted[index - 1]!.end);
    }
  });

  it('ingests every row, in order, numbered across row groups', () => {
    expect(run.result.status).toBe('ingested');
    expect(run.rowNumbers).toHaveLength(ROWS);
    expect(run.rowNumbers.every((row, index) => row === index + 1)).toBe(true);
    expect(run.sample.get(1)).toEqual({
      id: 0,
      token: 'cfcd208495d565ef66e7dff9f98764da',
      customer: 'customer-0',
      amount: '0.00',
      at: '2026-01-01T00:00:00.000000Z',
      quantity: null,
    });
    expect(run.sample.get(ROWS)).toEqual({
      id: ROWS - 1,
      token: expect.stringMatching(/^[0-9a-f]{32}$/),
      customer: `customer-${(ROWS - 1) % 500}`,
      amount: ((((ROWS - 1) * 37) % 100000) / 100).toFixed(2),
      at: new Date(Date.UTC(2026, 0, 1) + (ROWS - 1) * 1000).toISOString().replace('.000Z', '.000000Z'),
      quantity: (ROWS - 1) % 7 === 0 ? null : (ROWS - 1) % 1000,
    });
  });

  it('never reads the whole object', () => {
    expect(run.reads.wholeReads).toBe(0);
  });

  it('reads the footer first, and little more than the footer', () => {
    const first = run.reads.ranges[0]!;
    expect(first.end).toBe(bytes.length);
    expect(first.start).toBeLessThanOrEqual(footer.start);
    expect(footer.start - first.start).toBeLessThanOrEqual(FOOTER_READ_SLACK);
  });

  it('fetches every later range from inside one row group (or the footer)', () => {
    const outside = run.reads.ranges
      .slice(1)
      .filter((range) => !coveredBy(range, [footer]) && !chunks.some((group) => coveredBy(range, group)));
    expect(outside).toEqual([]);
  });

  it('fetches no more than the footer and every row group once, plus a bounded footer read', () => {
    const rowGroupBytes = chunks.flat().reduce((sum, chunk) => sum + chunk.end - chunk.start, 0);
    const footerBytes = footer.end - footer.start;
    expect(run.reads.bytes).toBeGreaterThanOrEqual(rowGroupBytes + footerBytes);
    expect(run.reads.bytes).toBeLessThanOrEqual(rowGroupBytes + footerBytes + FOOTER_READ_SLACK);
  });

  it('publishes the first rows having fetched at most the first row group and the one after it', () => {
    const fetched = run.atFirstPublish!;
    expect(fetched.bytes).toBeLessThan(bytes.length / 2);
    // The footer read is bounded by the test above; row groups are what the reads after it fetch.
    const touched = new Set(
      fetched.ranges
        .slice(1)
        .flatMap((range) =>
          chunks.flatMap((group, index) =>
            group.some((chunk) => chunk.start < range.end && range.start < chunk.end) ? [index] : [],
          ),
        ),
    );
    expect(touched.has(0)).toBe(true);
    expect([...touched].filter((index) => index > 1)).toEqual([]);
  });
});
