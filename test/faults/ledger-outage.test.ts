/**
 * The ledger stops answering mid-file (every call fails, retryably) for a while: the attempt stops,
 * failed with LEDGER_UNAVAILABLE, no FileIngested summary goes out while the ledger is down, and once it
 * is back (and the stopped attempt's lease has run out) a sweep wakes the file, which resumes from its
 * last checkpoint and finishes with every row.
 *
 * Three ways in: the outage shows first at a checkpoint, at a lease renewal (a file without checkpoints,
 * which only the heartbeat notices), or right after the file's last block, when only the summary and the
 * outcome are left. Time runs fast: a 0.6 s lease (60 s in production), renewed every 0.2 s, and a sweep
 * every 0.2 s (300 s).
 */
import { describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { Ledger } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { createJsonLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from '../integration/support/orders-csv.js';
import { withSlowReads } from '../integration/support/store-wrappers.js';
import { count, reportFigures, seconds } from './support/figures.js';

const ROWS = 60_000;
const BAD_EVERY = 40;
const KEY = 'vendors/acme/orders/2024-05-01/ledger-outage.csv';
const OUTAGE_MS = 1_000;
const LEASE_MS = 600;
const SWEEP_MS = 200;

type LedgerMethod = keyof Ledger;

/** A span of time during which the ledger fails every call; it starts when a test says. */
function createOutage(lengthMs: number) {
  const outage = {
    from: 0,
    until: 0,
    start() {
      if (outage.from > 0) return;
      outage.from = Date.now();
      outage.until = outage.from + lengthMs;
    },
    active: () => Date.now() < outage.until,
  };
  return outage;
}

/** `inner`, failing every call with LEDGER_UNAVAILABLE during `outage`; `onCall` sees each call first. */
function ledgerWith(
  inner: Ledger,
  outage: ReturnType<typeof createOutage>,
  onCall: (method: LedgerMethod, call: number) => void,
) {
  const calls = new Map<LedgerMethod, number>();
  const failed: LedgerMethod[] = [];
  const methods: LedgerMethod[] = [
    'register',
    'claim',
    'renew',
    'checkpoint',
    'finish',
    'get',
    'latest',
    'unfinished',
  ];
  const guard =
    (method: LedgerMethod) =>
    async (...args: unknown[]): Promise<unknown> => {
      const call = (calls.get(method) ?? 0) + 1;
      calls.set(method, call);
      onCall(method, call);
      if (outage.active()) {
        failed.push(method);
        throw new DropgateError(
          'LEDGER_UNAVAILABLE',
          `the ledger did not answer ${method} (simulated outage)`,
        );
      }
      return (inner[method] as (...args: unknown[]) => Promise<unknown>)(...args);
    };
  const ledger = Object.fromEntries(methods.map((method) => [method, guard(method)])) as unknown as Ledger;
  return { ledger, failed };
}

interface Way {
  name: string;
  checkpointIntervalMs: number;
  /** Starts the outage at a ledger call... */
  atCall?: (method: LedgerMethod, call: number) => boolean;
  /** ...or when the sink takes the file's last row. */
  atLastRow?: boolean;
}

const ways: Way[] = [
  {
    name: 'at the 3rd checkpoint',
    checkpointIntervalMs: 0,
    atCall: (method, call) => method === 'checkpoint' && call === 3,
  },
  {
    name: 'at the 3rd lease renewal (no checkpoints)',
    checkpointIntervalMs: 60_000,
    atCall: (method, call) => method === 'renew' && call === 3,
  },
  { name: 'once the last row was out', checkpointIntervalMs: 1_000, atLastRow: true },
];

const figures: string[] = [];

async function ingestThroughOutage(way: Way) {
  const { csv, goodRows, badRows } = ordersFile(ROWS, BAD_EVERY);
  const lastRow = goodRows.at(-1)!;
  const outage = createOutage(OUTAGE_MS);
  const { ledger, failed } = ledgerWith(createMemoryLedger(), outage, (method, call) => {
    if (way.atCall?.(method, call)) outage.start();
  });
  const whileDown = { rowEvents: 0, summaries: 0 };
  const sink = createMemoryEventSink({
    inject({ topic, events }) {
      if (outage.active()) {
        if (topic === 'dropgate.files') whileDown.summaries++;
        else whileDown.rowEvents += events.length;
      }
      if (way.atLastRow && topic === 'orders' && events.id(events.length - 1).endsWith(`-${lastRow}`)) {
        outage.start();
      }
    },
  });
  // About 2 s to read the whole file: the outage lands mid-file whatever the machine's speed.
  const memory = createMemoryObjectStore({ chunkSize: 32 << 10 });
  const object = memory.put(KEY, csv);
  const ref = { bucket: object.bucket, key: KEY, version: object.version };
  const logs: Array<Record<string, unknown>> = [];
  const gateway = createGateway({
    store: withSlowReads(memory, 10),
    sink,
    ledger,
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: 'ledger-outage-test',
    uploads: { maxBytes: 1 << 30, expiresInSeconds: 900 },
    logger: createJsonLogger((line) => logs.push(JSON.parse(line))),
    background: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 },
    ingest: {
      leaseMs: LEASE_MS,
      checkpointIntervalMs: way.checkpointIntervalMs,
      retry: { attempts: 3, baseDelayMs: 10 },
    },
  });
  const sweeps = setInterval(() => void gateway.resumeUnfinished('retryable').catch(() => 0), SWEEP_MS);
  try {
    await gateway.accept({ landings: [{ ...ref, kind: 'finalized', via: 'test' }] }, 'background');
    const recorded = () => ledger.get(ref).catch(() => undefined);
    for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 10))) {
      if (!outage.active() && (await recorded())?.state === 'ingested') break;
      if (Date.now() > deadline) throw new Error(`not ingested: ${JSON.stringify(await recorded())}`);
    }
    const ingestedAt = Date.now();
    clearInterval(sweeps);
    await gateway.idle();

    expect(outage.from, 'the outage never started').toBeGreaterThan(0);
    const failures = logs.filter((line) => line.message === 'ingestion failed');
    // The attempt under way when the ledger went down stopped, failed for want of the ledger.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ code: 'LEDGER_UNAVAILABLE' });
    const stoppedAt = Date.parse(failures[0]!.time as string);
    expect(stoppedAt).toBeLessThan(outage.until);
    expect(whileDown.summaries).toBe(0);

    const rowsOf = (topic: string) =>
      sink
        .events(topic)
        .map((event) => JSON.parse(event.body) as { rownumber: number; data: { row: number } });
    const published = new Set(rowsOf('orders').map((event) => event.rownumber));
    const dead = new Set(rowsOf('orders.dead-letter').map((event) => event.data.row));
    expect(goodRows.filter((row) => !published.has(row))).toEqual([]);
    expect(badRows.filter((row) => !dead.has(row))).toEqual([]);
    const summaries = sink.events('dropgate.files').map((event) => JSON.parse(event.body));
    expect(summaries.map((summary) => summary.type)).toEqual(['FileIngested']);
    expect(summaries[0].data).toMatchObject({ rowsPublished: goodRows.length, rowsRejected: badRows.length });
    const record = (await ledger.get(ref))!;
    expect(record).toMatchObject({ state: 'ingested', outcome: { rowsPublished: goodRows.length } });
    if (way.checkpointIntervalMs < 60_000) expect(summaries[0].data.resumedFromRow).toBeGreaterThan(0);

    figures.push(
      `${way.name}: first failed ${failed[0]}, attempt stopped LEDGER_UNAVAILABLE ` +
        `${seconds(stoppedAt - outage.from)} in, ${count(whileDown.rowEvents)} row events out meanwhile ` +
        `(blocks already in flight), ${whileDown.summaries} FileIngested while down, resumed from row ` +
        `${count(summaries[0].data.resumedFromRow)}, ingested ${seconds(ingestedAt - outage.until)} after ` +
        `the ledger was back`,
    );
  } finally {
    clearInterval(sweeps);
    gateway.stop();
  }
}

describe('a ledger outage mid-file', () => {
  for (const way of ways) {
    it(`stops the attempt, reports nothing done, and resumes later: outage ${way.name}`, () =>
      ingestThroughOutage(way));
  }

  it('prints its figures', () => {
    expect(figures).toHaveLength(ways.length);
    reportFigures(
      `ledger unreachable for ${seconds(OUTAGE_MS)} mid-file over ${count(ROWS)} rows, 3 ways (lease ` +
        `${seconds(LEASE_MS)}, sweep every ${seconds(SWEEP_MS)}): ${figures.join('; ')}; 0 rows lost`,
    );
  });
});
