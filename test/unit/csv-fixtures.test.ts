/**
 * Real CSV files from test/fixtures/csv, each ingested end to end and compared with its `.expected.json`:
 * the events on the dataset topic, the dead letters, and the file summary on the control topic. Every
 * file is read byte by byte, in 5-byte chunks and in one chunk, so chunk boundaries fall inside quotes,
 * CRLFs and multi-byte characters; the outcome must not depend on where they fall.
 */
import { describe, expect, it } from 'vitest';
import {
  createMemoryEventSink,
  type MemoryEventSink,
} from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { iconvTextDecoding } from '../../app/node/iconv-text-decoding.js';
import { inlineSegmentPool, type CsvSegmentPool } from '../../workers/csv/csv-parallel.js';
import { ingestFile, type CompiledDataset, type IngestResult } from '../../workers/ingest-file.js';
import {
  loadCsvFixtures,
  type CsvFixture as Fixture,
  type ExpectedOutcome,
} from '../support/csv-fixtures.js';
import { testDataset } from '../support/datasets.js';
import type { CloudEvent, DeadLetterData } from '../support/cloud-events.js';

const CONTROL_TOPIC = 'dropgate.files';

function datasetFor(expected: ExpectedOutcome): CompiledDataset {
  return testDataset({
    ...(expected.dataset?.schema ? { schema: expected.dataset.schema } : {}),
    ...(expected.dataset?.csv ? { csv: expected.dataset.csv } : {}),
  });
}

interface Run {
  /** Segments cut for the pool (0 when the file was read sequentially). */
  segments: number;
  result: IngestResult;
  sink: MemoryEventSink;
  dataset: CompiledDataset;
}

async function ingestFixture(
  fixture: Fixture,
  chunkSize: number | undefined,
  segmentBytes?: number,
): Promise<Run> {
  const store = createMemoryObjectStore(chunkSize === undefined ? {} : { chunkSize });
  const sink = createMemoryEventSink();
  const ledger = createMemoryLedger();
  const dataset = datasetFor(fixture.expected);
  const key = `vendors/acme/orders/${fixture.file}`;
  const counter = { segments: 0 };
  store.put(key, fixture.bytes);
  const result = await ingestFile(
    {
      store,
      sink,
      ledger,
      controlTopic: CONTROL_TOPIC,
      owner: 'csv-fixtures',
      textDecoding: iconvTextDecoding,
      ...(segmentBytes === undefined
        ? {}
        : {
            segmentPool: countingPool(
              inlineSegmentPool(() => dataset.validate),
              counter,
            ),
            segmentBytes,
            parallelMinBytes: 0,
          }),
    },
    { dataset, key, mode: 'notification' },
  );
  return { segments: counter.segments, result, sink, dataset };
}

/** Counts the segments a pool is given, so a test can tell that the cut was really taken. */
function countingPool(pool: CsvSegmentPool, counter: { segments: number }): CsvSegmentPool {
  return {
    size: pool.size,
    process: (plan, task) => {
      counter.segments++;
      return pool.process(plan, task);
    },
  };
}

const parse = (topicEvents: Array<{ body: string }>) =>
  topicEvents.map((event) => JSON.parse(event.body) as CloudEvent);

const fixtures = loadCsvFixtures();
/** Sequential reads in several chunkings, then cut into segments (csv-parallel.ts) of several sizes. */
const chunkings: Array<[string, number | undefined, number | undefined]> = [
  ['byte by byte', 1, undefined],
  ['in 5-byte chunks', 5, undefined],
  ['in one chunk', undefined, undefined],
  ['in segments of one record each, 3-byte chunks', 3, 1],
  ['in 40-byte segments', 7, 40],
  ['in 200-byte segments, one chunk', undefined, 200],
];

describe('CSV fixtures', () => {
  it('finds the fixture pairs', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
  });

  describe.each(fixtures.map((fixture) => [fixture.file, fixture] as const))('%s', (_file, fixture) => {
    const { expected } = fixture;

    it.each(chunkings)(
      `is ${expected.state}, read %s: ${expected.about}`,
      async (_label, chunkSize, segment) => {
        const { segments, result, sink, dataset } = await ingestFixture(fixture, chunkSize, segment);
        const rows = expected.events.length + expected.rejections.length;
        if (segment !== undefined && rows > 0 && dataset.csv.encoding === 'utf-8') {
          expect(segments).toBeGreaterThan(0);
        }

        const events = parse(sink.events(dataset.topic));
        expect(events.map((event) => ({ row: event.rownumber, data: event.data }))).toEqual(expected.events);
        expect(new Set(events.map((event) => event.id)).size).toBe(events.length);

        const deadLetters = parse(sink.events(dataset.deadLetterTopic)).map(
          (event) => event.data as unknown as DeadLetterData,
        );
        expect(
          deadLetters.map(({ row, line, errors }) => ({
            row,
            line,
            fields: errors.map((issue) => issue.field).sort(),
          })),
        ).toEqual(
          expected.rejections.map(({ row, line, fields }) => ({ row, line, fields: [...fields].sort() })),
        );
        expected.rejections.forEach((rejection, index) => {
          const reasons = deadLetters[index]!.errors.map((issue) => issue.reason).join('\n');
          for (const text of rejection.reasonIncludes ?? []) expect(reasons).toContain(text);
          if (rejection.raw !== undefined) expect(deadLetters[index]!.raw).toBe(rejection.raw);
        });

        const summaries = parse(sink.events(CONTROL_TOPIC));
        expect(summaries).toHaveLength(1);
        const summary = summaries[0]!;
        expect(summary.type).toBe(expected.state === 'ingested' ? 'FileIngested' : 'FileRejected');
        expect(summary.data).toMatchObject({
          state: expected.state,
          rowsRead: expected.events.length + expected.rejections.length,
          rowsPublished: expected.events.length,
          rowsRejected: expected.rejections.length,
        });
        expect(summary.data.firstErrors).toEqual(
          deadLetters
            .flatMap(({ row, line, errors }) =>
              errors.map(({ field, reason }) => ({ row, line, field, reason })),
            )
            .slice(0, 10),
        );
        const error = summary.data.error as { code: string; message: string; line?: number } | undefined;
        if (expected.error) {
          expect(error).toBeDefined();
          expect(error!.code).toBe(expected.error.code);
          expect(error!.message).toContain(expected.error.messageIncludes);
          expect(error!.line).toBe(expected.error.line);
        } else {
          expect(error).toBeUndefined();
        }

        expect(result.status).toBe(expected.state);
        if (result.status === 'ingested' || result.status === 'rejected') {
          expect(result.record.state).toBe(expected.state);
          expect(result.record.outcome).toMatchObject({
            rowsPublished: expected.events.length,
            rowsRejected: expected.rejections.length,
          });
        }
      },
    );
  });
});

describe('event ids', () => {
  const fixture = fixtures.find((candidate) => candidate.name === 'bad-rows')!;

  it('are the same when the same object version is replayed, and differ from row to row', async () => {
    const store = createMemoryObjectStore({ chunkSize: 5 });
    const sink = createMemoryEventSink();
    const ledger = createMemoryLedger();
    const dataset = testDataset();
    const key = 'vendors/acme/orders/bad-rows.csv';
    const deps = { store, sink, ledger, controlTopic: CONTROL_TOPIC, owner: 'csv-fixtures' };
    store.put(key, fixture.bytes);

    const first = await ingestFile(deps, { dataset, key, mode: 'notification' });
    const afterFirst = {
      events: sink.events(dataset.topic).map((event) => event.id),
      dead: sink.events(dataset.deadLetterTopic).map((event) => event.id),
    };
    const replay = await ingestFile(deps, { dataset, key, mode: 'replay' });
    const events = sink.events(dataset.topic).map((event) => event.id);
    const dead = sink.events(dataset.deadLetterTopic).map((event) => event.id);

    expect(first.status).toBe('ingested');
    expect(replay.status).toBe('ingested');
    expect(afterFirst.events.length).toBeGreaterThan(1);
    expect(afterFirst.dead.length).toBeGreaterThan(1);
    expect(events.slice(afterFirst.events.length)).toEqual(afterFirst.events);
    expect(dead.slice(afterFirst.dead.length)).toEqual(afterFirst.dead);
    const allIds = [...afterFirst.events, ...afterFirst.dead];
    expect(new Set(allIds).size).toBe(allIds.length);
    // Each run's summary is an event of its own, so a consumer deduplicating by id sees both.
    const summaries = sink.events(CONTROL_TOPIC).map((event) => event.id);
    expect(summaries).toHaveLength(2);
    expect(summaries[0]).not.toBe(summaries[1]);
  });
});
