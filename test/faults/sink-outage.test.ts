/**
 * The sink refuses every request for a while mid-file, longer than the publisher's retries and the
 * background retries of the file together: the attempts fail and leave the file `failed` at its checkpoint,
 * a sweep of the ledger wakes it again, and once the sink is back it finishes. No row is lost, and the
 * ledger never says `ingested` before every row is durable in the sink.
 *
 * Time runs at a tenth of production's: a 30 s outage lasts 3 s, the publisher retries 5 times from 20 ms
 * (200 ms in production), the background gives a file 3 attempts from 100 ms (8 from 1 s: fewer, so the
 * outage outlasts them), and the ledger is swept every 0.5 s (`resumeIntervalSeconds`, 300 s).
 */
import { describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { FileOutcome, FileRecord, FileState, Ledger } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from '../integration/support/orders-csv.js';
import { count, reportFigures, seconds } from './support/figures.js';

const ROWS = 60_000;
const BAD_EVERY = 40;
const KEY = 'vendors/acme/orders/2024-05-01/outage.csv';
/** The outage starts once this many row events are in: two blocks of 10,000 and part of a third. */
const OUTAGE_AFTER_EVENTS = 25_000;
const OUTAGE_MS = 3_000;
const SWEEP_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a sink outage mid-file', () => {
  it('loses no row, never reports the file ingested early, and finishes once the sink is back', async () => {
    const started = Date.now();
    const { csv, goodRows, badRows } = ordersFile(ROWS, BAD_EVERY);
    const rowsOf = (topic: string) =>
      new Set(sink.events(topic).map((event) => JSON.parse(event.body) as Record<string, unknown>));
    /** Whether every row is durable in the sink now: each good row's event, each bad row's dead letter. */
    const allRowsDurable = () => {
      const published = new Set([...rowsOf('orders')].map((event) => event.rownumber as number));
      const dead = new Set(
        [...rowsOf('orders.dead-letter')].map((event) => (event.data as { row: number }).row),
      );
      return goodRows.every((row) => published.has(row)) && badRows.every((row) => dead.has(row));
    };

    const outage = { from: 0, until: 0, refused: 0 };
    const early: string[] = [];
    let accepted = 0;
    const sink = createMemoryEventSink({
      inject({ topic, events }) {
        if (outage.from === 0 && accepted >= OUTAGE_AFTER_EVENTS) {
          outage.from = Date.now();
          outage.until = outage.from + OUTAGE_MS;
        }
        if (Date.now() < outage.until) {
          outage.refused++;
          throw new DropgateError('PUBLISH_FAILED', `${topic} is unavailable (simulated outage)`);
        }
        if (topic === 'orders') accepted += events.length;
        if (topic === 'dropgate.files' && !allRowsDurable()) early.push('a file summary went out first');
      },
    });

    const memoryLedger = createMemoryLedger();
    // Told the instant the file is finished: every row must already be in the sink.
    const ledger: Ledger = {
      ...memoryLedger,
      async finish(ref, owner, outcome: FileOutcome) {
        if (outcome.state === 'ingested' && !allRowsDurable()) early.push('the ledger was told first');
        return memoryLedger.finish(ref, owner, outcome);
      },
    };
    const store = createMemoryObjectStore();
    const object = store.put(KEY, csv);
    const ref = { bucket: object.bucket, key: KEY, version: object.version };
    const gateway = createGateway({
      store,
      sink,
      ledger,
      datasets: [testDataset()],
      controlTopic: 'dropgate.files',
      owner: 'outage-test',
      uploads: { maxBytes: 1 << 30, expiresInSeconds: 900 },
      logger: silentLogger,
      background: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 30_000 },
      ingest: { retry: { attempts: 5, baseDelayMs: 20, maxDelayMs: 3_000 } },
    });
    const sweeps = setInterval(() => void gateway.resumeUnfinished('retryable'), SWEEP_MS);

    try {
      await gateway.accept({ landings: [{ ...ref, kind: 'finalized', via: 'outage-test' }] }, 'background');
      // Watch the ledger all along: what states the file passes through, and when it says ingested.
      const states: FileState[] = [];
      let record: FileRecord | undefined;
      for (const deadline = Date.now() + 30_000; ; await sleep(2)) {
        record = await ledger.get(ref);
        if (record && states.at(-1) !== record.state) states.push(record.state);
        if (record?.state === 'ingested') {
          expect(allRowsDurable(), 'the ledger says ingested with rows missing from the sink').toBe(true);
          break;
        }
        if (Date.now() > deadline) throw new Error(`not ingested: ${JSON.stringify(record)}`);
      }
      const ingestedAt = Date.now();
      clearInterval(sweeps);
      await gateway.idle();

      expect(outage.from, 'the outage never started: the file was too short').toBeGreaterThan(0);
      expect(ingestedAt).toBeGreaterThan(outage.until);
      // In-process retries ran out during the outage: the file was left failed for a sweep to find.
      expect(states).toContain('failed');
      expect(early).toEqual([]);
      expect(allRowsDurable()).toBe(true);

      const summaries = sink.events('dropgate.files').map((event) => JSON.parse(event.body));
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({
        type: 'FileIngested',
        data: { rowsRead: ROWS, rowsPublished: goodRows.length, rowsRejected: badRows.length },
      });
      const resumedFrom = summaries[0].data.resumedFromRow as number;
      expect(resumedFrom).toBeGreaterThan(0);
      expect(record).toMatchObject({
        state: 'ingested',
        outcome: { rowsPublished: goodRows.length, rowsRejected: badRows.length },
      });

      const events = sink.events('orders').length + sink.events('orders.dead-letter').length;
      reportFigures(
        `sink refusing every request for ${seconds(OUTAGE_MS)} from row event ${count(OUTAGE_AFTER_EVENTS)} ` +
          `of ${count(ROWS)} (a 30 s outage at 1/10 time: publisher retries 5 from 20 ms, 3 background ` +
          `attempts from 100 ms, sweep every ${seconds(SWEEP_MS)}): 0 rows lost, ledger said ingested early ` +
          `${early.length} times; ${count(outage.refused)} requests refused, ${record!.attempts - 1} attempts ` +
          `failed, file left failed ${states.filter((state) => state === 'failed').length} times and woken ` +
          `again, resumed from row ${count(resumedFrom)} (${count(events - ROWS)} rows published twice, same ` +
          `ids), ingested ${seconds(ingestedAt - outage.until)} after the sink came back; case ` +
          `${seconds(Date.now() - started)}`,
      );
    } finally {
      clearInterval(sweeps);
      gateway.stop();
    }
  });
});
