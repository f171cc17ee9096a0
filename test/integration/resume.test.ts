/**
 * A file interrupted mid-way (a sink outage, a crashed worker, a gateway restart) is finished later from
 * its last checkpoint: every row comes out, rows before the checkpoint are not published again, and the
 * final counts are exact.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, Ledger, ObjectStore } from '../../adapters/ports.js';
import { wireAdapters } from '../../app/node/wire.js';
import { createCsvThreadPool } from '../../app/node/ingest-threads.js';
import { DropgateError } from '../../adapters/errors.js';
import { ingestFile, type IngestDependencies } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import { readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import { withSlowReads } from './support/store-wrappers.js';
import {
  ADMIN_TOKEN,
  SIGNING_SECRET,
  call,
  loadTestConfig,
  makeTemporaryDirectory,
  startIn,
} from './support/test-gateway.js';

/** Blocks of 10 rows: a file of a few dozen rows is published and checkpointed in several. */
const SMALL_BLOCKS = { rows: 10, bytes: 1e9 };
const KEY = 'vendors/acme/orders/2024-05-01/orders.csv';
const dataset = testDataset();

/** Lets `healthyBatches` batches through to `topic`, then fails every publish to it as an outage would. */
function sinkFailingAfter(inner: EventSink, topic: string, healthyBatches: number): EventSink {
  let published = 0;
  return {
    capabilities: inner.capabilities,
    async publish(to, events) {
      if (to === topic) {
        if (published >= healthyBatches) {
          throw new DropgateError('PUBLISH_FAILED', `${topic} is unavailable`);
        }
        published++;
      }
      return inner.publish(to, events);
    },
    close: () => inner.close(),
  };
}

/** Dependencies (the sink and owner aside) that retry briefly and checkpoint after every block. */
function checkpointingEveryBlock(store: ObjectStore, ledger: IngestDependencies['ledger']) {
  return {
    store,
    ledger,
    controlTopic: 'dropgate.files',
    retry: { attempts: 2, baseDelayMs: 1 },
    checkpointIntervalMs: 0,
    blockSize: SMALL_BLOCKS,
  };
}

/**
 * A first attempt whose sink fails publishes to `topic` after `healthyBatches` batches: it must end
 * failed. Returns its result and the events that got out before the outage.
 */
async function failedFirstAttempt(
  deps: Omit<IngestDependencies, 'sink' | 'owner'>,
  topic: string,
  healthyBatches: number,
  owner: string,
) {
  const outage = createMemoryEventSink();
  const first = await ingestFile(
    { ...deps, sink: sinkFailingAfter(outage, topic, healthyBatches), owner },
    request,
  );
  expect(first.status).toBe('failed');
  if (first.status !== 'failed') throw new Error(`the first attempt ended ${first.status}`);
  return { first, outage };
}

/** Lets `healthyBatches` batches through to `topic`, then never answers again: the worker is stuck for good. */
function sinkHangingAfter(inner: EventSink, topic: string, healthyBatches: number) {
  let published = 0;
  let stalled!: () => void;
  const sink: EventSink = {
    capabilities: inner.capabilities,
    async publish(to, events) {
      if (to === topic) {
        if (published >= healthyBatches) {
          stalled();
          return new Promise<never>(() => {});
        }
        published++;
      }
      return inner.publish(to, events);
    },
    close: () => inner.close(),
  };
  return { sink, stalled: new Promise<void>((resolve) => (stalled = resolve)) };
}

/** Fails the publishes to `topic` numbered in `failing` (1-based, retries included), as a brief outage would. */
function sinkFailingCalls(inner: EventSink, topic: string, failing: Set<number>): EventSink {
  let calls = 0;
  return {
    capabilities: inner.capabilities,
    async publish(to, events) {
      if (to === topic && failing.has(++calls)) {
        throw new DropgateError('PUBLISH_FAILED', `${topic} is unavailable`);
      }
      return inner.publish(to, events);
    },
    close: () => inner.close(),
  };
}

const rowsOf = (events: ReadonlyArray<{ body: string }>) =>
  events.map((event) => (JSON.parse(event.body) as { rownumber: number }).rownumber);
/** The distinct rows of dead letters, in order. */
const deadRowsOf = (events: ReadonlyArray<{ body: string }>) =>
  [...new Set(events.map((event) => (JSON.parse(event.body) as { data: { row: number } }).data.row))].sort(
    (a, b) => a - b,
  );
/** Every test here ingests the same key of the same dataset, as a landing notification would. */
const request = { dataset, key: KEY, mode: 'notification' as const };

const idPrefixes = (events: ReadonlyArray<{ id: string }>) =>
  new Set(events.map((event) => event.id.replace(/-\d+(-rejected)?$/, '')));

describe('resuming an interrupted file', () => {
  it('ends the attempt failed when only the file summary cannot be published, and sends just the summary next', async () => {
    const { csv, goodRows } = ordersFile(40, 0);
    const store = createMemoryObjectStore();
    store.put(KEY, csv);
    const ledger = createMemoryLedger();
    const base = {
      store,
      ledger,
      controlTopic: 'dropgate.files',
      retry: { attempts: 2, baseDelayMs: 1 },
      blockSize: SMALL_BLOCKS,
    };

    const { first } = await failedFirstAttempt(base, 'dropgate.files', 0, 'a');
    expect(first.record).toMatchObject({
      state: 'failed',
      owner: null,
      checkpoint: { row: 40, published: 40 },
    });

    const healthy = createMemoryEventSink();
    const second = await ingestFile({ ...base, sink: healthy, owner: 'b' }, request);
    expect(second.status).toBe('ingested');
    expect(healthy.events('orders')).toEqual([]);
    expect(healthy.events('dropgate.files').map((event) => JSON.parse(event.body).data)).toMatchObject([
      { rowsPublished: goodRows.length, resumedFromRow: 40 },
    ]);
  });
  it('announces nothing while the ledger cannot record the end of the file, and finishes it once it can', async () => {
    const { csv, goodRows } = ordersFile(40, 0);
    const store = createMemoryObjectStore();
    store.put(KEY, csv);
    // The ledger deems worker-a gone once it failed, so worker-b takes over at once.
    const memory = createMemoryLedger({ holderAlive: (owner) => owner !== 'worker-a' });
    let ledgerDown = true;
    const unavailable = () => new DropgateError('LEDGER_UNAVAILABLE', 'the ledger does not answer');
    const ledger: Ledger = {
      ...memory,
      checkpoint: (...args) => (ledgerDown ? Promise.reject(unavailable()) : memory.checkpoint(...args)),
      finish: (...args) => (ledgerDown ? Promise.reject(unavailable()) : memory.finish(...args)),
    };
    // No checkpoint falls due while the file is read: the ledger is first needed once every row is out.
    const base = { store, ledger, controlTopic: 'dropgate.files', checkpointIntervalMs: 60_000 };

    const sink = createMemoryEventSink();
    const first = await ingestFile({ ...base, sink, owner: 'worker-a' }, request);
    expect(first.status).toBe('failed');
    if (first.status !== 'failed') return;
    expect(first.error.code).toBe('LEDGER_UNAVAILABLE');
    expect(rowsOf(sink.events('orders'))).toEqual(goodRows);
    expect(sink.events('dropgate.files')).toEqual([]);

    ledgerDown = false;
    const second = await ingestFile({ ...base, sink, owner: 'worker-b' }, request);
    expect(second.status).toBe('ingested');
    expect(sink.events('dropgate.files')).toHaveLength(1);
  });

  it('sends only the summary again when the outcome could not be recorded after it went out', async () => {
    const { csv, goodRows } = ordersFile(40, 0);
    const store = createMemoryObjectStore();
    store.put(KEY, csv);
    const memory = createMemoryLedger({ holderAlive: (owner) => owner !== 'worker-a' });
    const ledger: Ledger = {
      ...memory,
      finish: (ref, owner, outcome) =>
        owner === 'worker-a'
          ? Promise.reject(new DropgateError('LEDGER_UNAVAILABLE', 'the ledger does not answer'))
          : memory.finish(ref, owner, outcome),
    };
    const base = { store, ledger, controlTopic: 'dropgate.files', checkpointIntervalMs: 60_000 };

    const before = createMemoryEventSink();
    const first = await ingestFile({ ...base, sink: before, owner: 'worker-a' }, request);
    expect(first.status).toBe('failed');
    expect(rowsOf(before.events('orders'))).toEqual(goodRows);

    const after = createMemoryEventSink();
    const second = await ingestFile({ ...base, sink: after, owner: 'worker-b' }, request);
    expect(second.status).toBe('ingested');
    // Every row was recorded durable before the summary: none is published again, the summary is, same id.
    expect(after.events('orders')).toEqual([]);
    expect(after.events('dropgate.files').map((event) => event.id)).toEqual(
      before.events('dropgate.files').map((event) => event.id),
    );
  });

  it('keeps the progress of a failed attempt even between throttled checkpoints', async () => {
    const { csv, goodRows } = ordersFile(95, 10);
    const store = createMemoryObjectStore();
    store.put(KEY, csv);
    const ledger = createMemoryLedger();
    const base = {
      store,
      ledger,
      controlTopic: 'dropgate.files',
      retry: { attempts: 2, baseDelayMs: 1 },
      blockSize: SMALL_BLOCKS,
    };

    // Default checkpoint interval (1 s): the whole attempt fits inside it, so only the failure path records.
    const { first } = await failedFirstAttempt(base, 'orders', 3, 'a');
    expect(first.record!.checkpoint).toMatchObject({
      row: 30,
      published: goodRows.filter((row) => row <= 30).length,
    });

    const healthy = createMemoryEventSink();
    const second = await ingestFile({ ...base, sink: healthy, owner: 'b' }, request);
    expect(second.status).toBe('ingested');
    expect(rowsOf(healthy.events('orders'))).toEqual(
      goodRows.filter((row) => row > first.record!.checkpoint!.row),
    );
  });

  it('stops at a batch boundary on shutdown, releasing the file to resume at once', async () => {
    const { csv, goodRows } = ordersFile(400, 0);
    const memory = createMemoryObjectStore({ chunkSize: 512 });
    memory.put(KEY, csv);
    const store = withSlowReads(memory, 5);
    const ledger = createMemoryLedger();
    const shutdown = new AbortController();
    const base = {
      store,
      ledger,
      controlTopic: 'dropgate.files',
      checkpointIntervalMs: 0,
      blockSize: SMALL_BLOCKS,
    };

    const before = createMemoryEventSink();
    const stopping = ingestFile(
      { ...base, sink: before, owner: 'old-process', signal: shutdown.signal },
      request,
    );
    await vi.waitFor(() => expect(before.events('orders').length).toBeGreaterThanOrEqual(30));
    shutdown.abort();
    const stopped = await stopping;
    expect(stopped.status).toBe('failed');
    if (stopped.status !== 'failed') return;
    expect(stopped.error).toMatchObject({ code: 'SHUTTING_DOWN', retryable: true });
    expect(stopped.record).toMatchObject({ state: 'failed', owner: null, leaseUntil: null });
    expect(stopped.record!.checkpoint!.published).toBe(before.events('orders').length);
    expect(before.events('orders').length).toBeLessThan(goodRows.length);

    // No lease to wait out: the next process picks the file up immediately, where it stopped.
    const after = createMemoryEventSink();
    const resumed = await ingestFile({ ...base, sink: after, owner: 'new-process' }, request);
    expect(resumed.status).toBe('ingested');
    const all = [...rowsOf(before.events('orders')), ...rowsOf(after.events('orders'))];
    expect(all).toEqual(goodRows);
  });
  it('carries on from the checkpoint after a sink outage failed the first attempt', async () => {
    const { csv, goodRows, badRows } = ordersFile(95, 10);
    const store = createMemoryObjectStore();
    store.put(KEY, csv);
    const ledger = createMemoryLedger();
    const base = checkpointingEveryBlock(store, ledger);

    const { first, outage } = await failedFirstAttempt(base, 'orders', 3, 'worker-a');
    expect(first.error).toMatchObject({ code: 'PUBLISH_FAILED', retryable: true });
    expect(first.record!.state).toBe('failed');
    const checkpoint = first.record!.checkpoint!;
    expect(checkpoint.published).toBe(goodRows.filter((row) => row <= 30).length);
    expect(checkpoint.row).toBeGreaterThan(0);
    expect(rowsOf(outage.events('orders'))).toEqual(goodRows.filter((row) => row <= checkpoint.row));
    expect(outage.events('dropgate.files')).toEqual([]);

    const healthy = createMemoryEventSink();
    const second = await ingestFile({ ...base, sink: healthy, owner: 'worker-b' }, request);
    expect(second.status).toBe('ingested');
    if (second.status !== 'ingested') return;
    expect(second.summary).toMatchObject({
      resumedFromRow: checkpoint.row,
      rowsRead: 95,
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
      attempt: 2,
    });
    expect(second.record).toMatchObject({
      state: 'ingested',
      attempts: 2,
      outcome: { rowsRead: 95, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });

    // Nothing before the checkpoint again, everything after it, under the ids the first attempt used.
    const resumedRows = rowsOf(healthy.events('orders'));
    expect(resumedRows).toEqual(goodRows.filter((row) => row > checkpoint.row));
    const allRows = new Set([...rowsOf(outage.events('orders')), ...resumedRows]);
    expect([...allRows].sort((a, b) => a - b)).toEqual(goodRows);
    expect(idPrefixes([...outage.events('orders'), ...healthy.events('orders')]).size).toBe(1);
    expect(
      deadRowsOf([...outage.events('orders.dead-letter'), ...healthy.events('orders.dead-letter')]),
    ).toEqual(badRows);

    // The first errors are the file's, as an uninterrupted run lists them, not only those after the
    // checkpoint (rows before it are only counted the second time).
    expect(checkpoint.firstErrors!.length).toBeGreaterThan(0);
    const store2 = createMemoryObjectStore();
    store2.put(KEY, csv);
    const uninterrupted = await ingestFile(
      { ...checkpointingEveryBlock(store2, createMemoryLedger()), sink: createMemoryEventSink(), owner: 'c' },
      request,
    );
    if (uninterrupted.status !== 'ingested') throw new Error(`ended ${uninterrupted.status}`);
    expect(second.summary.firstErrors).toEqual(uninterrupted.summary.firstErrors);
    expect(second.summary.firstErrors.map(({ row }) => row)).toEqual(badRows);

    const summaries = healthy.events('dropgate.files').map((event) => JSON.parse(event.body));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      type: 'FileIngested',
      data: { resumedFromRow: checkpoint.row, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
  });

  it('resumes a CSV cut into segments for worker threads from its checkpoint, none of it lost', async () => {
    const { csv, goodRows, badRows } = ordersFile(600, 9);
    const store = createMemoryObjectStore({ chunkSize: 1000 });
    store.put(KEY, csv);
    const ledger = createMemoryLedger();
    const segmentPool = createCsvThreadPool(2);
    const base = {
      ...checkpointingEveryBlock(store, ledger),
      segmentPool,
      segmentBytes: 2048,
      parallelMinBytes: 0,
    };
    try {
      const { first, outage } = await failedFirstAttempt(base, 'orders', 6, 'worker-a');
      const checkpoint = first.record!.checkpoint!;
      expect(checkpoint.row).toBeGreaterThan(20);
      expect(checkpoint.row).toBeLessThan(300);
      // Everything up to the checkpoint is out; a block that failed half-way may have sent more. A batch
      // that is retried lands after the blocks behind it, so the rows are compared sorted.
      const before = rowsOf(outage.events('orders'));
      expect(before.filter((row) => row <= checkpoint.row).sort((a, b) => a - b)).toEqual(
        goodRows.filter((row) => row <= checkpoint.row),
      );

      const healthy = createMemoryEventSink();
      const second = await ingestFile({ ...base, sink: healthy, owner: 'worker-b' }, request);
      expect(second.status).toBe('ingested');
      // Blocks in flight are published concurrently, each in several requests, which may interleave.
      const resumed = rowsOf(healthy.events('orders')).sort((a, b) => a - b);
      expect(resumed).toEqual(goodRows.filter((row) => row > checkpoint.row));
      expect([...new Set([...before, ...resumed])].sort((a, b) => a - b)).toEqual(goodRows);
      expect(
        deadRowsOf([...outage.events('orders.dead-letter'), ...healthy.events('orders.dead-letter')]),
      ).toEqual(badRows);
    } finally {
      await segmentPool.close();
    }
  });

  it('lets another worker take over a crashed worker’s file once its lease lapses', async () => {
    const { csv, goodRows, badRows } = ordersFile(77, 8);
    const store = createMemoryObjectStore();
    const object = store.put(KEY, csv);
    let clock = Date.parse('2024-05-01T12:00:00Z');
    const now = () => clock;
    const ledger = createMemoryLedger({ now });
    const leaseMs = 30_000;
    const base = {
      store,
      ledger,
      controlTopic: 'dropgate.files',
      leaseMs,
      now,
      checkpointIntervalMs: 0,
      blockSize: SMALL_BLOCKS,
    };

    const crashed = createMemoryEventSink();
    const stuck = sinkHangingAfter(crashed, 'orders', 2);
    void ingestFile({ ...base, sink: stuck.sink, owner: 'worker-a' }, request);
    await stuck.stalled;
    const ref = { bucket: store.bucket, key: KEY, version: object.version };
    // The two batches before the stuck one finish and are checkpointed; then the worker is gone.
    await vi.waitFor(async () =>
      expect((await ledger.get(ref))!.checkpoint).toMatchObject({
        row: 20,
        published: goodRows.filter((row) => row <= 20).length,
      }),
    );
    const left = (await ledger.get(ref))!;
    expect(left).toMatchObject({ state: 'processing', owner: 'worker-a' });
    expect(left.checkpoint!.row).toBeGreaterThan(0);
    expect((await ledger.unfinished({ bucket: store.bucket })).records).toHaveLength(1);

    // While the lease is live, the file belongs to worker-a.
    const taker = createMemoryEventSink();
    const early = await ingestFile({ ...base, sink: taker, owner: 'worker-b' }, request);
    expect(early.status).toBe('in-progress');
    expect(taker.topics()).toEqual([]);

    clock += leaseMs + 1;
    const late = await ingestFile({ ...base, sink: taker, owner: 'worker-b' }, request);
    expect(late.status).toBe('ingested');
    if (late.status !== 'ingested') return;
    expect(late.summary).toMatchObject({
      resumedFromRow: left.checkpoint!.row,
      rowsRead: 77,
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
    });
    expect(late.record).toMatchObject({ state: 'ingested', owner: null });

    const resumedRows = rowsOf(taker.events('orders'));
    expect(resumedRows).toEqual(goodRows.filter((row) => row > left.checkpoint!.row));
    const allRows = new Set([...rowsOf(crashed.events('orders')), ...resumedRows]);
    expect([...allRows].sort((a, b) => a - b)).toEqual(goodRows);
    expect((await ledger.unfinished({ bucket: store.bucket })).records).toEqual([]);
  });

  it('fails the attempt, rather than skip rows, when one batch outlasts its retries', async () => {
    const { csv, goodRows } = ordersFile(40);
    // About two rows per chunk, so batches fill one after another while the parser waits for bytes.
    const memory = createMemoryObjectStore({ chunkSize: 150 });
    memory.put(KEY, csv);
    const store = withSlowReads(memory, 2);
    const ledger = createMemoryLedger();
    const base = checkpointingEveryBlock(store, ledger);

    // The second batch and its retry fail; the sink is healthy again for the third.
    const glitchy = createMemoryEventSink();
    const first = await ingestFile(
      { ...base, sink: sinkFailingCalls(glitchy, 'orders', new Set([2, 3])), owner: 'worker-a' },
      request,
    );
    const published = rowsOf(glitchy.events('orders'));
    const missing = goodRows.filter((row) => !published.includes(row));
    // The batch never reached the topic, so the attempt must fail (and be resumable), not report success.
    expect(first.status, `reported ${first.status} with rows ${missing.join(', ')} never published`).toBe(
      'failed',
    );

    const healthy = createMemoryEventSink();
    const second = await ingestFile({ ...base, sink: healthy, owner: 'worker-b' }, request);
    expect(second.status).toBe('ingested');
    const allRows = new Set([...published, ...rowsOf(healthy.events('orders'))]);
    expect([...allRows].sort((a, b) => a - b)).toEqual(goodRows);
  });

  it('is finished by a restarted gateway when the previous run left it failed', async () => {
    const directory = await makeTemporaryDirectory();
    const config = await loadTestConfig(directory);
    const { csv, goodRows, badRows } = ordersFile(64, 9);
    const path = join(config.dataDir, 'bucket', ...KEY.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, csv);

    const adapters = await wireAdapters({
      file: config.file,
      dataDir: config.dataDir,
      publicUrl: 'http://localhost',
      signingSecret: SIGNING_SECRET,
    });
    const deps: IngestDependencies = {
      store: adapters.store,
      sink: sinkFailingAfter(adapters.sink, 'orders', 2),
      ledger: adapters.ledger,
      controlTopic: config.file.controlTopic,
      owner: 'previous-run',
      retry: { attempts: 1, baseDelayMs: 0 },
      checkpointIntervalMs: 0,
      blockSize: SMALL_BLOCKS,
    };
    const first = await ingestFile(deps, { dataset: config.datasets[0]!, key: KEY, mode: 'notification' });
    expect(first.status).toBe('failed');
    await adapters.close();

    const gateway = await startIn(directory, config);
    try {
      await gateway.running.gateway.idle();
      const status = await call(gateway, 'GET', `/admin/files/${KEY}`, { token: ADMIN_TOKEN });
      expect(status.body).toMatchObject({
        state: 'ingested',
        attempts: 2,
        outcome: { rowsRead: 64, rowsPublished: goodRows.length, rowsRejected: badRows.length },
      });
      const events = await readTopic(gateway.dataDir, 'orders');
      // The outage never reached the topic, so each row is there exactly once.
      expect(events.map((event) => event.rownumber)).toEqual(goodRows);
      const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
      expect(summaries).toHaveLength(1);
      expect(summaries[0]!.data.resumedFromRow).toBeGreaterThan(0);
      expect(gateway.logs.join('\n')).toContain('resuming unfinished file');
    } finally {
      await gateway.close();
    }
  });

  it('keeps its lease live by renewing it while a slow file outlasts the lease, without checkpoints', async () => {
    const { csv, goodRows } = ordersFile(60);
    const memory = createMemoryObjectStore({ chunkSize: 200 });
    memory.put(KEY, csv);
    const store = withSlowReads(memory, 40);
    const ledger = createMemoryLedger();
    const sink = createMemoryEventSink();
    // A 300 ms lease, checkpoints at most once a minute: only the heartbeat can keep the lease.
    const deps = {
      store,
      ledger,
      sink,
      controlTopic: 'dropgate.files',
      leaseMs: 300,
      checkpointIntervalMs: 60_000,
    };
    const running = ingestFile({ ...deps, owner: 'slow-worker' }, request);
    const started = Date.now();
    const contenders: string[] = [];
    while (Date.now() - started < 1_200) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const attempt = await ingestFile(
        { ...deps, sink: createMemoryEventSink(), owner: 'contender' },
        request,
      );
      contenders.push(attempt.status);
    }
    const result = await running;
    expect(Date.now() - started).toBeGreaterThan(1_000);
    expect(result.status).toBe('ingested');
    expect(contenders.filter((status) => status !== 'in-progress' && status !== 'duplicate')).toEqual([]);
    expect(contenders).toContain('in-progress');
    expect(rowsOf(sink.events('orders'))).toEqual(goodRows);
  });

  it('stops an attempt whose lease another owner took over, publishing no summary for it', async () => {
    const { csv } = ordersFile(200);
    const memory = createMemoryObjectStore({ chunkSize: 300 });
    memory.put(KEY, csv);
    const store = withSlowReads(memory, 10);
    // The ledger deems the first owner dead, as a restarted local gateway would.
    const ledger = createMemoryLedger({ holderAlive: (owner) => owner !== 'presumed-dead' });
    const sink = createMemoryEventSink();
    const deps = {
      store,
      ledger,
      sink,
      controlTopic: 'dropgate.files',
      leaseMs: 150,
      checkpointIntervalMs: 0,
      blockSize: SMALL_BLOCKS,
    };
    const first = ingestFile({ ...deps, owner: 'presumed-dead' }, request);
    await vi.waitFor(() => expect(sink.events('orders').length).toBeGreaterThan(20));
    const ref = { bucket: store.bucket, key: KEY, version: (await store.stat(KEY))!.version };
    const takeover = await ledger.claim(ref, {
      dataset: 'orders',
      owner: 'successor',
      leaseMs: 60_000,
      mode: 'notification',
    });
    expect(takeover.claimed).toBe(true);

    const stopped = await first;
    expect(stopped.status).toBe('failed');
    if (stopped.status !== 'failed') return;
    expect(stopped.error.code).toBe('LEASE_LOST');
    expect(sink.events('dropgate.files')).toEqual([]);
    expect(await ledger.get(ref)).toMatchObject({ state: 'processing', owner: 'successor' });
  });
});
