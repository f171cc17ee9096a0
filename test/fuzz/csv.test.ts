/**
 * CSV bytes fuzzed through the pipeline entry (`ingestFile`): generated files of every dialect (delimiter,
 * line ending, BOM, encoding, quoting, gzip, ragged rows, huge fields) must publish exactly the rows
 * generated and dead-letter exactly the bad ones on their lines; mutated bytes (flips, overwrites with
 * NULs and quotes, insertions, truncations, invalid UTF-8, cut gzip) must be ingested or rejected with
 * every row accounted for; the threaded segment path must publish what the sequential one does.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createCsvThreadPool } from '../../app/node/ingest-threads.js';
import {
  csvArbitrary,
  datasetFor,
  expectedEvents,
  expectedRejections,
  mutate,
  mutationArbitrary,
} from './support/csv-arbitraries.js';
import { expectAccounted, ingestBytes, type IngestOutcome } from './support/ingest-outcome.js';
import { runFuzz } from './support/run-fuzz.js';

const threads = createCsvThreadPool(2);
afterAll(() => threads.close());

/**
 * Bytes per store read: now and then a few, so reads end inside quotes, CRLFs and characters (costly:
 * a read per byte), else the store's default.
 */
const chunkSize = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) },
  { weight: 9, arbitrary: fc.constant(undefined) },
);

/** Small reads for files of a few KB only: a read per byte of a file with a 60,000-character field is slow. */
const readsOf = (chunk: number | undefined, bytes: Uint8Array) =>
  chunk !== undefined && bytes.length <= 4096 ? { chunkSize: chunk } : {};
const TIMEOUT_MS = 240_000;

describe('CSV fuzzing', () => {
  it(
    'publishes generated files of every dialect exactly, dead-lettering the bad rows on their lines',
    async () => {
      await runFuzz(
        'csv-oracle',
        fc.asyncProperty(csvArbitrary(), chunkSize, async (file, chunk) => {
          const outcome = await ingestBytes(file.bytes, {
            dataset: datasetFor(file.dialect),
            key: file.key,
            ...readsOf(chunk, file.bytes),
          });
          expectAccounted(outcome);
          expect(outcome.result.status).toBe('ingested');
          expect(outcome.events.map((event) => event.data)).toEqual(expectedEvents(file));
          expect(outcome.deadLetters.map(({ row, line }) => ({ row, line }))).toEqual(
            expectedRejections(file),
          );
        }),
        // The costliest case of the fuzz suite (whole files through the oracle): cases moved to csv-mutated.
        { cases: 400, seed: 42 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'ingests or rejects mutated and random bytes with every row accounted for',
    async () => {
      const mutated = fc
        .tuple(csvArbitrary({ maxRows: 12 }), fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }))
        .map(([file, mutations]) => ({
          dialect: file.dialect,
          key: file.key,
          bytes: mutations.reduce(mutate, file.bytes),
        }));
      const tally = { ingested: 0, rejected: 0 };
      const random = fc
        .tuple(csvArbitrary({ maxRows: 0 }), fc.uint8Array({ maxLength: 300 }))
        .map(([file, bytes]) => ({ dialect: file.dialect, key: file.key, bytes }));
      await runFuzz(
        'csv-mutated',
        fc.asyncProperty(
          fc.oneof({ weight: 4, arbitrary: mutated }, random),
          chunkSize,
          async (file, chunk) => {
            const outcome = await ingestBytes(file.bytes, {
              dataset: datasetFor(file.dialect),
              key: file.key,
              ...readsOf(chunk, file.bytes),
            });
            expectAccounted(outcome);
            tally[outcome.result.status as 'ingested' | 'rejected']++;
          },
        ),
        {
          cases: 850,
          seed: 4242,
          outcomes: () => `${tally.ingested} ingested, ${tally.rejected} rejected`,
        },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'publishes through the threaded segment path exactly what the sequential path publishes',
    async () => {
      const utf8 = csvArbitrary({ encodings: ['utf-8'], maxRows: 40 });
      const file = fc.oneof(
        utf8,
        fc
          .tuple(utf8, fc.array(mutationArbitrary, { minLength: 1, maxLength: 2 }))
          .map(([generated, mutations]) => ({
            ...generated,
            bytes: mutations.reduce(mutate, generated.bytes),
          })),
      );
      await runFuzz(
        'csv-threaded',
        fc.asyncProperty(file, fc.integer({ min: 8, max: 512 }), async (generated, segmentBytes) => {
          const options = { dataset: datasetFor(generated.dialect), key: generated.key };
          const sequential = await ingestBytes(generated.bytes, options);
          const threaded = await ingestBytes(generated.bytes, {
            ...options,
            segmentPool: threads,
            segmentBytes,
          });
          expectAccounted(threaded);
          expectSameOutcome(threaded, sequential);
        }),
        { cases: 150, seed: 424242 },
      );
    },
    TIMEOUT_MS,
  );
});

/**
 * The same events, dead letters and summary. A file rejected part-way (a truncated gzip, an unterminated
 * quote) is rejected by both, but how many rows went out before depends on how far each path had read
 * ahead: then the rows one published are a prefix of the other's.
 */
function expectSameOutcome(threaded: IngestOutcome, sequential: IngestOutcome): void {
  expect(threaded.result.status).toBe(sequential.result.status);
  if (sequential.result.status === 'ingested') {
    expect(comparable(threaded)).toEqual(comparable(sequential));
    return;
  }
  // A file with two faults (invalid UTF-8 inside a truncated gzip) may be refused for either first.
  expect(threaded.summaries[0]!.error!.code).toBe(sequential.summaries[0]!.error!.code);
  const prefix = <T>(one: T[], other: T[]) => {
    const length = Math.min(one.length, other.length);
    expect(one.slice(0, length)).toEqual(other.slice(0, length));
  };
  prefix(threaded.events, sequential.events);
  prefix(threaded.deadLetters, sequential.deadLetters);
}

/** An outcome without what may differ between two runs (the time a run took). */
function comparable(outcome: IngestOutcome) {
  return {
    status: outcome.result.status,
    events: outcome.events,
    deadLetters: outcome.deadLetters,
    summaries: outcome.summaries.map((summary) => ({ ...summary, durationMs: 0 })),
  };
}
