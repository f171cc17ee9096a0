/**
 * Parquet bytes ingested end to end from a memory store into a memory sink, on the calling thread and
 * with row groups decoded by worker threads, read back as events, dead letters and the file's summary.
 */
import { expect } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { RowSchema } from '../../schemas/dataset.js';
import { ingestFile, type IngestResult } from '../../workers/ingest-file.js';
import type { RowGroupPool } from '../../workers/parquet/parquet-row-source.js';
import { testDataset } from './datasets.js';
import type { CloudEvent, DeadLetterData, FileSummaryData as SummaryData } from './cloud-events.js';

export const CONTROL_TOPIC = 'dropgate.files';
const KEY = 'vendors/acme/orders/x.parquet';

export interface Run {
  result: IngestResult;
  events: CloudEvent[];
  deadLetters: DeadLetterData[];
  summaries: Array<CloudEvent & { data: SummaryData }>;
}

export interface IngestOptions {
  schema: RowSchema;
  format?: 'parquet' | 'auto';
  key?: string;
}

const parse = (topicEvents: Array<{ body: string }>) =>
  topicEvents.map((event) => JSON.parse(event.body) as CloudEvent);

/** Ingests `bytes` as a dataset of `options.schema`, with row groups decoded by `rowGroupPool` if given. */
export async function ingestParquet(
  bytes: Uint8Array,
  options: IngestOptions,
  rowGroupPool?: RowGroupPool,
): Promise<Run> {
  const store = createMemoryObjectStore();
  const sink = createMemoryEventSink();
  const dataset = testDataset({
    name: 'tabular',
    format: options.format ?? 'parquet',
    schema: options.schema,
    topic: 'tabular',
    deadLetterTopic: 'tabular.dead-letter',
  });
  const key = options.key ?? KEY;
  store.put(key, bytes, { updated: '2024-05-01T12:00:00.000Z' });
  const result = await ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: CONTROL_TOPIC,
      owner: 'parquet-fixtures',
      ...(rowGroupPool ? { rowGroupPool } : {}),
    },
    { dataset, key, mode: 'notification' },
  );
  return {
    result,
    events: parse(sink.events('tabular')),
    deadLetters: parse(sink.events('tabular.dead-letter')).map(
      (event) => event.data as unknown as DeadLetterData,
    ),
    summaries: parse(sink.events(CONTROL_TOPIC)) as Run['summaries'],
  };
}

/**
 * Ingests on the calling thread, and again with row groups decoded by `pool`'s worker threads; both
 * must publish the same events, dead letters and summary. Returns the first run.
 */
export async function ingestBothWays(
  pool: RowGroupPool,
  bytes: Uint8Array,
  options: IngestOptions,
): Promise<Run> {
  const sequential = await ingestParquet(bytes, options);
  const pooled = await ingestParquet(bytes, options, pool);
  const withoutDuration = (run: Run) => ({
    ...run,
    result: run.result.status,
    summaries: run.summaries.map(({ data: { durationMs: _, ...data }, ...event }) => ({ ...event, data })),
  });
  expect(withoutDuration(pooled)).toEqual(withoutDuration(sequential));
  return sequential;
}

/** Rows as the events carry them: row number and data. */
export const numbered = (
  rows: ReadonlyArray<Record<string, unknown>>,
  rowNumbers = rows.map((_, index) => index + 1),
) => rows.map((data, index) => ({ row: rowNumbers[index], data }));

export function expectIngested(run: Run, published: number, rejected: number): SummaryData {
  expect(run.result.status).toBe('ingested');
  expect(run.summaries).toHaveLength(1);
  const summary = run.summaries[0]!;
  expect(summary.type).toBe('FileIngested');
  expect(summary.data).toMatchObject({
    state: 'ingested',
    rowsRead: published + rejected,
    rowsPublished: published,
    rowsRejected: rejected,
  });
  expect(summary.data.error).toBeUndefined();
  if (run.result.status === 'ingested') {
    expect(run.result.record.outcome).toMatchObject({ rowsPublished: published, rowsRejected: rejected });
  }
  return summary.data;
}

export function expectRejected(run: Run, messageIncludes: string[]): void {
  expect(run.result.status).toBe('rejected');
  expect(run.summaries).toHaveLength(1);
  const summary = run.summaries[0]!;
  expect(summary.type).toBe('FileRejected');
  expect(summary.data.state).toBe('rejected');
  expect(summary.data.error?.code).toBe('FILE_UNREADABLE');
  for (const text of messageIncludes) expect(summary.data.error?.message).toContain(text);
  if (run.result.status === 'rejected') {
    expect(run.result.record.state).toBe('rejected');
    expect(run.result.record.outcome?.error?.code).toBe('FILE_UNREADABLE');
  }
}
