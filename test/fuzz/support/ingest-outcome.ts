/**
 * One fuzz case through the real pipeline entry (`ingestFile`) over the memory store, sink and ledger,
 * and the properties every outcome must have whatever the bytes: a file ingested or rejected (never a
 * fault), every row read accounted for as an event or a dead letter with its line and reason, and errors
 * that say what was wrong in words.
 */
import { expect } from 'vitest';
import { ERROR_CODES } from '../../../adapters/errors.js';
import { createMemoryEventSink } from '../../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.js';
import { iconvTextDecoding } from '../../../app/node/iconv-text-decoding.js';
import type { CsvSegmentPool } from '../../../workers/csv/csv-parallel.js';
import { ingestFile, type CompiledDataset, type IngestResult } from '../../../workers/ingest-file.js';
import type { RowGroupPool } from '../../../workers/parquet/parquet-row-source.js';
import type { CloudEvent, DeadLetterData, FileSummaryData } from '../../support/cloud-events.js';

const CONTROL_TOPIC = 'dropgate.files';

export interface IngestOutcome {
  key: string;
  result: IngestResult;
  events: CloudEvent[];
  deadLetters: DeadLetterData[];
  summaries: FileSummaryData[];
}

export interface IngestOptions {
  dataset: CompiledDataset;
  key: string;
  /** Bytes per read from the store, so chunk boundaries fall inside records and characters. */
  chunkSize?: number;
  /** The threaded CSV path: segments of `segmentBytes` parsed by the pool. */
  segmentPool?: CsvSegmentPool;
  segmentBytes?: number;
  rowGroupPool?: RowGroupPool;
}

export async function ingestBytes(bytes: Uint8Array, options: IngestOptions): Promise<IngestOutcome> {
  const { dataset, key } = options;
  const store = createMemoryObjectStore(options.chunkSize ? { chunkSize: options.chunkSize } : {});
  const sink = createMemoryEventSink();
  store.put(key, bytes, { updated: '2024-05-01T12:00:00.000Z' });
  const result = await ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: CONTROL_TOPIC,
      owner: 'fuzz',
      textDecoding: iconvTextDecoding,
      retry: { attempts: 1, baseDelayMs: 1 },
      ...(options.segmentPool
        ? { segmentPool: options.segmentPool, segmentBytes: options.segmentBytes, parallelMinBytes: 0 }
        : {}),
      ...(options.rowGroupPool ? { rowGroupPool: options.rowGroupPool } : {}),
    },
    { dataset, key, mode: 'notification' },
  );
  const parse = (topic: string) => sink.events(topic).map((event) => JSON.parse(event.body) as CloudEvent);
  return {
    key,
    result,
    events: parse(dataset.topic),
    deadLetters: parse(dataset.deadLetterTopic).map((event) => event.data as unknown as DeadLetterData),
    summaries: parse(CONTROL_TOPIC).map((event) => event.data as unknown as FileSummaryData),
  };
}

/** Words that mean a message was built from a value that was not there, which tells a vendor nothing. */
const UNCLEAR =
  /\bundefined\b|\bNaN\b|\[object Object\]|Cannot read properties|is not a function|is not iterable/;

/**
 * What must hold of any file's outcome: ingested or rejected with a known code and a clear message,
 * one summary, and every row read either published or dead-lettered (with its line and reasons), each
 * row number once.
 */
export function expectAccounted(outcome: IngestOutcome): void {
  const { result, events, deadLetters, summaries, key } = outcome;
  if (result.status === 'failed') {
    throw new Error(`${key} failed as a fault, ${result.error.code}: ${result.error.message}`);
  }
  expect(['ingested', 'rejected']).toContain(result.status);
  expect(summaries).toHaveLength(1);
  const summary = summaries[0]!;
  expect(summary.state).toBe(result.status);
  expect(summary.objectKey).toBe(key);
  expect(summary.rowsRead).toBe(summary.rowsPublished + summary.rowsRejected);
  expect(events).toHaveLength(summary.rowsPublished);
  expect(deadLetters).toHaveLength(summary.rowsRejected);
  if (result.status === 'rejected') {
    expect(ERROR_CODES).toContain(summary.error?.code);
    expect(summary.error?.code).not.toBe('INTERNAL');
    expect(summary.error!.message.length).toBeGreaterThan(0);
    expect(summary.error!.message).not.toMatch(UNCLEAR);
  } else {
    expect(summary.error).toBeUndefined();
  }
  for (const deadLetter of deadLetters) {
    expect(deadLetter.objectKey).toBe(key);
    expect(Number.isInteger(deadLetter.line) && deadLetter.line >= 1).toBe(true);
    expect(deadLetter.errors.length).toBeGreaterThan(0);
    for (const error of deadLetter.errors) {
      expect(typeof error.field).toBe('string');
      expect(error.reason.length).toBeGreaterThan(0);
      expect(error.reason).not.toMatch(UNCLEAR);
    }
  }
  const rows = [...events.map((event) => event.rownumber!), ...deadLetters.map((letter) => letter.row)];
  expect(rows.sort((a, b) => a - b)).toEqual(Array.from({ length: rows.length }, (_, index) => index + 1));
}
