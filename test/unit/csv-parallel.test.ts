/**
 * CSV cut into segments and parsed by a pool (csv-parallel.ts) must publish exactly what the sequential
 * parser publishes: the same event bodies byte for byte (ids and row numbers included), the same dead
 * letters with the same lines, the same summary. Files here are built to put quoted newlines, doubled
 * quotes, blank lines, CRLFs, multi-byte text and bad rows across many segment boundaries, and to hit
 * each way the cut hands the rest of a file back to the sequential parser.
 */
import { readdir, readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventSink, PublishFailure } from '../../adapters/ports.js';
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { iconvTextDecoding } from '../../app/node/iconv-text-decoding.js';
import { createCsvThreadPool, createIngestPools } from '../../app/node/ingest-threads.js';
import { inlineSegmentPool, type CsvSegmentPool } from '../../workers/csv/csv-parallel.js';
import { ingestFile, type CompiledDataset } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import type { CloudEvent } from '../support/cloud-events.js';

const HEADER = 'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note';
const CONTROL = 'dropgate.files';
const threads = createCsvThreadPool(2);
afterAll(() => threads.close());

/** Order lines of every shape the cut must get right, `count` of them, joined by `newline`. */
function ordersCsv(count: number, newline = '\n'): string {
  const lines = [HEADER];
  for (let n = 1; n <= count; n++) {
    const note = [
      'plain',
      '"with, a comma"',
      `"two${newline}lines"`,
      '"she said ""hi"""',
      '',
      '"🎉 Zoë, 東京"',
      '""',
      `"ends with CR\r"`,
    ][n % 8];
    const quantity = n % 17 === 0 ? '0' : String((n % 5) + 1);
    const customer = n % 11 === 0 ? '"C-""q"""' : `C-${n % 7}`;
    lines.push(
      `O-${n},${customer},S-${n % 3},${quantity},1.5,EUR,2024-05-01T10:00:00Z,,${n % 2 === 0},${note}`,
    );
    if (n % 23 === 0) lines.push('');
    if (n % 31 === 0) lines.push(`O-${n}b,C-1,S-1,1`);
  }
  return lines.join(newline) + newline;
}

interface Outcome {
  events: string[];
  deadLetters: unknown[];
  summary: Record<string, unknown>;
  segments: number;
  /** Blocks whose buffers were handed back to the pool once published. */
  released: number;
}

async function ingest(
  bytes: Uint8Array,
  options: {
    pool?: CsvSegmentPool;
    segmentBytes?: number;
    chunkSize?: number;
    dataset?: CompiledDataset;
    /** Events of the dataset's topic the sink refuses for good. */
    refuse?: (body: string) => boolean;
  } = {},
): Promise<Outcome> {
  const store = createMemoryObjectStore(options.chunkSize ? { chunkSize: options.chunkSize } : {});
  const sink = createMemoryEventSink();
  const dataset = options.dataset ?? testDataset();
  const { refuse } = options;
  const refusing: EventSink = {
    capabilities: sink.capabilities,
    close: () => sink.close(),
    async publish(topic, events) {
      if (topic !== dataset.topic || !refuse) return sink.publish(topic, events);
      const kept: number[] = [];
      const failed: PublishFailure[] = [];
      for (let index = 0; index < events.length; index++) {
        if (refuse(new TextDecoder().decode(events.body(index)))) {
          failed.push({ index, message: 'event too large', retryable: false });
        } else kept.push(index);
      }
      await sink.publish(topic, events.pick(kept));
      return { failed };
    },
  };
  const key = 'vendors/acme/orders/file.csv';
  store.put(key, bytes, { updated: '2024-05-01T12:00:00.000Z' });
  let segments = 0;
  let released = 0;
  const pool = options.pool;
  const counted: CsvSegmentPool | undefined = pool && {
    size: pool.size,
    process: async (plan, task) => {
      segments++;
      const result = await pool.process(plan, task);
      const release = result.block.release;
      if (release) {
        result.block.release = () => {
          released++;
          release();
        };
      }
      return result;
    },
  };
  await ingestFile(
    {
      store,
      ledger: createMemoryLedger(),
      controlTopic: CONTROL,
      owner: 'test',
      sink: refusing,
      textDecoding: iconvTextDecoding,
      ...(counted ? { segmentPool: counted, segmentBytes: options.segmentBytes, parallelMinBytes: 0 } : {}),
    },
    { dataset, key, mode: 'notification' },
  );
  const summary = JSON.parse(sink.events(CONTROL)[0]!.body) as CloudEvent;
  const { durationMs: _, ...data } = summary.data as Record<string, unknown>;
  return {
    events: sink.events(dataset.topic).map((event) => event.body),
    deadLetters: sink.events(dataset.deadLetterTopic).map((event) => JSON.parse(event.body).data),
    summary: data,
    segments,
    released,
  };
}

const encode = (text: string) => new TextEncoder().encode(text);

/** `rows` valid order records without a header, as a segment's bytes. */
const plainRecords = (rows: number) =>
  encode(
    Array.from({ length: rows }, (_, n) => `O-${n},C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z,,,x\n`).join(''),
  );

/** The plan of a segment of the test dataset, to send a pool directly. */
const segmentPlan = () => ({
  schema: testDataset().schema,
  schemaName: 'orders/v1',
  csv: testDataset().csv,
  header: HEADER.split(','),
  newline: '\n',
  head: '{"id":"x-',
  skipThrough: 0,
});
const inline = () => inlineSegmentPool(() => testDataset().validate);

describe('CSV parsed in segments', () => {
  const file = encode(ordersCsv(1500));

  it('publishes what the sequential parser publishes, byte for byte, on worker threads', async () => {
    const sequential = await ingest(file);
    const parallel = await ingest(file, { pool: threads, segmentBytes: 2048, chunkSize: 777 });
    expect(sequential.events.length).toBeGreaterThan(1000);
    expect(sequential.deadLetters.length).toBeGreaterThan(50);
    expect(parallel.segments).toBeGreaterThan(20);
    expect(parallel.released).toBe(parallel.segments);
    expect(parallel.events).toEqual(sequential.events);
    expect(parallel.deadLetters).toEqual(sequential.deadLetters);
    expect(parallel.summary).toEqual(sequential.summary);
  });

  it("carries each row's partition key column on worker threads as the sequential parser does", async () => {
    const dataset = testDataset({ partitionKey: { column: 'customer_id' } });
    const small = encode(ordersCsv(300));
    const sequential = await ingest(small, { dataset });
    const parallel = await ingest(small, { dataset, pool: threads, segmentBytes: 2048 });
    expect(parallel.segments).toBeGreaterThan(5);
    expect(parallel.events).toEqual(sequential.events);
    for (const body of parallel.events) {
      const event = JSON.parse(body) as { partitionkey: string; data: { customer_id: string } };
      expect(event.partitionkey).toBe(event.data.customer_id);
    }
  });

  it.each([
    ['CRLF line endings', ordersCsv(400, '\r\n')],
    ['CR line endings', ordersCsv(400, '\r')],
    ['a BOM', `\uFEFF${ordersCsv(200)}`],
    ['no newline after the last record', ordersCsv(200).trimEnd()],
    ['no header row', ordersCsv(200).slice(HEADER.length + 1)],
  ])('gives the same outcome for %s, whatever the segment size', async (label, text) => {
    const dataset = label === 'no header row' ? testDataset({ csv: { header: false } }) : testDataset();
    const bytes = encode(text);
    const sequential = await ingest(bytes, { dataset });
    // 40,000 bytes: segments longer than the slices a segment is parsed in.
    for (const segmentBytes of [1, 100, 4096, 40_000]) {
      const parallel = await ingest(bytes, { pool: inline(), segmentBytes, chunkSize: 333, dataset });
      expect(parallel.segments).toBeGreaterThan(0);
      expect({ segmentBytes, ...parallel, segments: 0 }).toEqual({
        segmentBytes,
        ...sequential,
        segments: 0,
      });
    }
  });

  it.each([
    ['a closing quote followed by text', 'O-x,C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z,,,"quoted"tail'],
    ['a quote never closed', 'O-x,C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z,,,"never closed'],
    ['a record longer than the limit', `O-x,C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z,,,${'z'.repeat(1 << 20)}`],
  ])('hands the rest of the file to the sequential parser at %s', async (_label, line) => {
    const lines = ordersCsv(300).trimEnd().split('\n');
    lines.splice(250, 0, line);
    const bytes = encode(`${lines.join('\n')}\n`);
    const sequential = await ingest(bytes);
    const parallel = await ingest(bytes, { pool: threads, segmentBytes: 1024 });
    expect(parallel.segments).toBeGreaterThan(5);
    expect(parallel.events).toEqual(sequential.events);
    expect(parallel.deadLetters).toEqual(sequential.deadLetters);
    expect(parallel.summary).toEqual(sequential.summary);
  });

  it('skips a record of one quoted empty field ("") as the sequential parser does, not failing the file', async () => {
    const lines = ordersCsv(60).trimEnd().split('\n');
    lines.splice(30, 0, '""');
    const bytes = encode(`${lines.join('\n')}\n""\n""`);
    const sequential = await ingest(bytes);
    // 60 order lines and the ragged record after line 31; the "" records are skipped as blank lines.
    expect(sequential.summary).toMatchObject({ state: 'ingested', rowsRead: 61 });
    const parallel = await ingest(bytes, { pool: inline(), segmentBytes: 100 });
    expect(parallel.segments).toBeGreaterThan(5);
    expect(parallel.events).toEqual(sequential.events);
    expect(parallel.deadLetters).toEqual(sequential.deadLetters);
    expect(parallel.summary).toEqual(sequential.summary);
  });

  it('reads a U+FEFF after the BOM as text where the cut hands the file to the sequential parser', async () => {
    // Saved with a BOM twice, no header, no line ending: the cut finds no record end and hands it all on.
    const dataset = testDataset({ csv: { header: false } });
    const bytes = encode('\uFEFF\uFEFFO-1,C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z,,,x');
    const sequential = await ingest(bytes, { dataset });
    expect(sequential.deadLetters).toMatchObject([{ row: 1, errors: [{ field: 'order_id' }] }]);
    const parallel = await ingest(bytes, { pool: inline(), segmentBytes: 100, dataset });
    expect(parallel.events).toEqual(sequential.events);
    expect(parallel.deadLetters).toEqual(sequential.deadLetters);
    expect(parallel.summary).toEqual(sequential.summary);
  });

  it('rejects a file whose late segment is not UTF-8, with the rows before it published', async () => {
    const good = encode(ordersCsv(300));
    const bytes = new Uint8Array(good.length + 3);
    bytes.set(good);
    bytes.set([0xff, 0x0a, 0x0a], good.length);
    const parallel = await ingest(bytes, { pool: threads, segmentBytes: 1024 });
    expect(parallel.summary).toMatchObject({
      state: 'rejected',
      error: { code: 'FILE_UNREADABLE', message: expect.stringContaining('not valid UTF-8') },
    });
    expect(parallel.summary.rowsPublished).toBeGreaterThan(200);
    expect(parallel.events.length).toBe(parallel.summary.rowsPublished);
  });

  it('dead-letters an event the sink refuses for good with its row and line, on threads too', async () => {
    const text = ordersCsv(1500);
    // Order lines 100, 700 and 1234: after notes spanning two lines, blank lines and ragged records.
    const refused = ['O-100', 'O-700', 'O-1234'];
    const refuse = (body: string) => refused.some((id) => body.includes(`"order_id":"${id}"`));
    // A lone CR (in some notes) starts a line too.
    const lineOf = (id: string) => text.slice(0, text.indexOf(`\n${id},`) + 1).split(/\r\n|\n|\r/).length;
    for (const pool of [undefined, threads]) {
      const run = await ingest(encode(text), { refuse, ...(pool ? { pool, segmentBytes: 2048 } : {}) });
      const letters = (run.deadLetters as Array<Record<string, unknown>>).filter((letter) =>
        JSON.stringify(letter.errors).includes('sink refused the event'),
      );
      expect(letters.map(({ line }) => line)).toEqual(refused.map(lineOf));
      expect(letters.map(({ errors }) => errors)).toEqual(
        refused.map(() => [{ field: '', reason: 'sink refused the event: event too large' }]),
      );
      expect(run.events.some(refuse)).toBe(false);
      if (pool) expect(run.segments).toBeGreaterThan(10);
    }
  });

  it('is not used for encodings other than UTF-8, which the sequential parser decodes', async () => {
    const dataset = testDataset({ csv: { encoding: 'windows-1252' } });
    const run = await ingest(encode(ordersCsv(50)), { pool: inline(), segmentBytes: 100, dataset });
    expect(run.segments).toBe(0);
    expect(run.summary).toMatchObject({ state: 'ingested' });
  });

  it("takes a published block's buffer back and fills it with the thread's next block", async () => {
    const pool = createCsvThreadPool(1);
    try {
      const rows = 500;
      const bytes = plainRecords(rows);
      const plan = segmentPlan();
      const first = (await pool.process(plan, { bytes: bytes.slice(), startRow: 0, rows })).block;
      const expected = new TextDecoder().decode(first.bytes);
      // A mark past the events, where a buffer that is reused keeps it and a new one has a zero.
      const whole = new Uint8Array(first.bytes.buffer);
      expect(whole.length).toBeGreaterThan(first.bytes.length);
      whole[whole.length - 1] = 0x7a;
      first.release!();
      expect(first.bytes.byteLength).toBe(0);

      const second = (await pool.process(plan, { bytes: bytes.slice(), startRow: 0, rows })).block;
      expect(new Uint8Array(second.bytes.buffer).at(-1)).toBe(0x7a);
      expect(new TextDecoder().decode(second.bytes)).toBe(expected);
    } finally {
      await pool.close();
    }
  });

  it.runIf(process.platform === 'linux')(
    'runs its threads at a lower priority than the thread that starts them',
    async () => {
      const niced = async () => {
        const tasks = await readdir('/proc/self/task');
        const stats = await Promise.all(
          tasks.map((task) => readFile(`/proc/self/task/${task}/stat`, 'utf8')),
        );
        // The fields after the command name (which may hold spaces); niceness is the 19th field of all.
        return stats.filter((stat) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) >= 10)
          .length;
      };
      const before = await niced();
      const pool = createCsvThreadPool(2);
      try {
        const rows = 200;
        const plan = segmentPlan();
        const bytes = plainRecords(rows);
        await Promise.all([0, 1].map(() => pool.process(plan, { bytes: bytes.slice(), startRow: 0, rows })));
        expect(await niced()).toBe(before + 2);
        expect(getPriority()).toBeLessThan(10);
      } finally {
        await pool.close();
      }
    },
  );

  it.each([
    [0, undefined, undefined],
    [1, 1, 1],
    [3, 3, 2],
  ])('createIngestPools(%i): %s CSV threads, %s Parquet threads', async (threads, csv, parquet) => {
    const pools = createIngestPools(threads);
    try {
      expect(pools.segmentPool?.size).toBe(csv);
      expect(pools.rowGroupPool?.size).toBe(parquet);
    } finally {
      await pools.close();
    }
  });

  it("passes a thread's error back as a DropgateError with its code, retryability and line", async () => {
    const pool = createCsvThreadPool(1);
    try {
      const bytes = encode(`${new TextDecoder().decode(plainRecords(3))}O-x,C-1,S-1,1,1.5,EUR,,,,"open\n`);
      const failure = await pool
        .process(segmentPlan(), { bytes, startRow: 0, rows: 4 })
        .catch((error) => error);
      expect(failure).toBeInstanceOf(DropgateError);
      expect(failure).toMatchObject({
        code: 'FILE_UNREADABLE',
        retryable: false,
        message: expect.stringContaining('unterminated quoted field'),
        context: { line: 3 },
      });
    } finally {
      await pool.close();
    }
  });

  it('fails work in flight retryably when its thread stops, and refuses work once closed', async () => {
    const pool = createCsvThreadPool(1);
    const rows = 3000;
    const bytes = plainRecords(rows);
    const plan = segmentPlan();
    const done = await pool.process(plan, { bytes: bytes.slice(), startRow: 0, rows });
    expect(done.block.rowsRead).toBe(rows);
    const inFlight = pool.process(plan, { bytes: bytes.slice(), startRow: 0, rows });
    await pool.close();
    await expect(inFlight).rejects.toMatchObject({ code: 'INTERNAL', retryable: true });
    await expect(pool.process(plan, { bytes, startRow: 0, rows })).rejects.toMatchObject({
      code: 'SHUTTING_DOWN',
      retryable: true,
    });
  });
});
