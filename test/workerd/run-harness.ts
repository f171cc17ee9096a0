/**
 * What both runtimes run the same way: put one file in a memory store, ingest it with the real core,
 * return every published event body by topic; and EventBytesWriter checked against JSON.stringify.
 */
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { defaultCsvOptions, type CsvOptions, type DatasetDefinition } from '../../schemas/dataset.js';
import type { RowValidator } from '../../schemas/row-validator.js';
import { inlineSegmentPool, type CsvSegmentPool } from '../../workers/csv/csv-parallel.js';
import { EventBytesWriter, newBytes } from '../../workers/event-bytes.js';
import type { ingestFile as IngestFile } from '../../workers/ingest-file.js';
import type { TextDecoding } from '../../workers/text-decoding.js';
import { random, randomNumbers, randomObject } from '../support/random-json.js';

/** A dataset as plain data, so it crosses into workerd; `validator` names its precompiled validator. */
export interface HarnessDataset extends DatasetDefinition {
  validator: string;
}

/** The orders dataset (schemas/orders/v1.json), with `overrides`. */
export function harnessDataset(
  schema: unknown,
  overrides: Partial<Omit<HarnessDataset, 'csv'>> & { csv?: Partial<CsvOptions> } = {},
): HarnessDataset {
  return {
    name: 'orders',
    match: 'vendors/*/orders/**',
    format: 'auto',
    schema: schema as HarnessDataset['schema'],
    schemaVersion: 1,
    eventType: 'OrderReceived',
    topic: 'orders',
    deadLetterTopic: 'orders.dead-letter',
    validator: 'orders/v1',
    ...overrides,
    csv: { ...defaultCsvOptions, ...overrides.csv },
  };
}

export interface HarnessFile {
  key: string;
  updated: string;
  bytes: Uint8Array;
  dataset: HarnessDataset;
  /** Bytes per chunk the store reads out (default 1024). */
  chunkSize?: number;
  /** Cut CSV into segments of this many bytes, parsed by the inline pool (csv-parallel.ts). */
  segmentBytes?: number;
}

/** What differs between the runtimes: the validator (compiled or precompiled) and the text decoding. */
export interface HarnessRuntime {
  ingestFile: typeof IngestFile;
  textDecoding: TextDecoding;
  validate: RowValidator;
}

export async function runHarness(runtime: HarnessRuntime, file: HarnessFile) {
  const store = createMemoryObjectStore({ chunkSize: file.chunkSize ?? 1024 });
  const sink = createMemoryEventSink();
  const { validator: _, ...definition } = file.dataset;
  const dataset = { ...definition, validate: runtime.validate };
  const pool = inlineSegmentPool(() => dataset.validate);
  let segments = 0;
  store.put(file.key, file.bytes, { updated: file.updated });
  const result = await runtime.ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: 'dropgate.files',
      owner: 'harness',
      now: () => 0,
      textDecoding: runtime.textDecoding,
      ...(file.segmentBytes === undefined
        ? {}
        : {
            segmentPool: {
              size: 1,
              process: (plan, task) => {
                segments++;
                return pool.process(plan, task);
              },
            } satisfies CsvSegmentPool,
            segmentBytes: file.segmentBytes,
            parallelMinBytes: 0,
          }),
    },
    { dataset, key: file.key, mode: 'notification' },
  );
  const topics = Object.fromEntries(
    sink
      .topics()
      .map((topic) => [topic, sink.events(topic).map((event) => JSON.parse(event.body) as unknown)]),
  );
  return { status: result.status, topics, segments };
}

/**
 * Writes `count` random objects and `count` random numbers from `seed` (test/support/random-json.ts) with
 * EventBytesWriter; returns how many were checked and the first few whose bytes differ from JSON.stringify.
 */
export function checkEventBytes(seed: number, count: number) {
  const next = random(seed);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const values: unknown[] = [
    ...Array.from({ length: count }, () => randomObject(next)),
    ...randomNumbers(next, count),
  ];
  const mismatches: Array<{ written: string; stringified: string }> = [];
  for (const value of values) {
    const writer = new EventBytesWriter(newBytes, 16);
    writer.writeJson(value);
    const written = writer.take();
    const expected = encoder.encode(JSON.stringify(value));
    const same =
      written.length === expected.length && written.every((byte, index) => byte === expected[index]);
    if (!same && mismatches.length < 5) {
      mismatches.push({ written: decoder.decode(written), stringified: decoder.decode(expected) });
    }
  }
  return { checked: values.length, mismatches };
}
