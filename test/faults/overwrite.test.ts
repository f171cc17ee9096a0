/**
 * An object overwritten while its previous version is being ingested: every event of an attempt comes
 * from the one version it claimed (its `objectversion`, its id's fingerprint and its data agree), the
 * replaced version is either ingested whole or rejected with OBJECT_VERSION_GONE, and the new version is
 * ingested whole on its own landing. Overwrites go through the store's own upload path (the local store
 * writes a temporary file and renames it over the key, as an upload does).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryEventSink,
  type MemoryEventSink,
} from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { Ledger, ObjectInfo, ObjectStore, UploadReceiver } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { createIngestPools, type IngestPools } from '../../app/node/ingest-threads.js';
import { fileFingerprint } from '../../workers/envelope.js';
import { testDataset } from '../support/datasets.js';
import { buildDist } from '../integration/support/child-gateway.js';
import { longNote, orderData, ordersFile } from '../integration/support/orders-csv.js';
import { ordersParquet } from '../integration/support/orders-parquet.js';
import { interceptReads, type ReadHooks } from '../integration/support/store-wrappers.js';
import { makeTemporaryDirectory } from '../integration/support/test-gateway.js';
import { count, reportFigures } from './support/figures.js';

const CSV_KEY = 'vendors/acme/orders/2024-05-01/overwritten.csv';
const PARQUET_KEY = 'vendors/acme/orders/2024-05-01/overwritten.parquet';
const dataset = testDataset();

/** A version's content: its bytes, the data each good row must be published with, its bad rows. */
interface Content {
  bytes: Uint8Array;
  dataOf: (row: number) => Record<string, unknown>;
  goodRows: number[];
  badRows: number[];
}

function csvContent(rows: number, badEvery: number, noteLength?: number): Content {
  const { csv, goodRows, badRows } = ordersFile(rows, badEvery, noteLength ? { noteLength } : {});
  return {
    bytes: new TextEncoder().encode(csv),
    dataOf: (row) => ({ ...orderData(row), ...(noteLength ? { note: longNote(row, noteLength) } : {}) }),
    goodRows,
    badRows,
  };
}

type Store = ObjectStore & UploadReceiver;

/** Stores `content` at `key` through the store's upload path: a new version of the key. */
const put = (store: Store, key: string, content: Content) =>
  store.receive(key, new Blob([content.bytes]).stream(), {
    maxBytes: content.bytes.byteLength,
    contentType: 'application/octet-stream',
  });

/** A canonical JSON of a value, keys sorted, to compare data whatever order its keys came in. */
const canonical = (value: Record<string, unknown>) =>
  JSON.stringify(
    Object.fromEntries(Object.entries(value).sort(([left], [right]) => left.localeCompare(right))),
  );

interface VersionEvents {
  rows: number[];
  deadRows: number[];
  summaries: string[];
}

/**
 * Sorts the sink's events by the version they name and counts those that disagree with it: an id that is
 * not the version's fingerprint and row, data that is not that version's row, or an unknown version.
 */
async function eventsByVersion(
  sink: MemoryEventSink,
  versions: Array<{ info: ObjectInfo; content: Content }>,
) {
  const known = new Map(
    await Promise.all(
      versions.map(
        async ({ info, content }) =>
          [info.version, { content, fingerprint: await fileFingerprint(info, dataset) }] as const,
      ),
    ),
  );
  const byVersion = new Map<string, VersionEvents>(
    versions.map(({ info }) => [info.version, { rows: [], deadRows: [], summaries: [] }]),
  );
  let mixed = 0;
  const parse = (topic: string) => sink.events(topic).map((event) => JSON.parse(event.body));
  for (const event of parse('orders')) {
    const version = known.get(event.objectversion);
    if (
      !version ||
      event.id !== `${version.fingerprint}-${event.rownumber}` ||
      canonical(event.data) !== canonical(version.content.dataOf(event.rownumber))
    ) {
      mixed++;
      continue;
    }
    byVersion.get(event.objectversion)!.rows.push(event.rownumber);
  }
  for (const event of parse('orders.dead-letter')) {
    const version = known.get(event.objectversion);
    if (!version || event.id !== `${version.fingerprint}-${event.data.row}-rejected`) mixed++;
    else byVersion.get(event.objectversion)!.deadRows.push(event.data.row);
  }
  for (const event of parse('dropgate.files')) {
    const version = known.get(event.objectversion);
    if (!version || !event.id.startsWith(`${version.fingerprint}-file`)) mixed++;
    else byVersion.get(event.objectversion)!.summaries.push(event.type);
  }
  return { byVersion, mixed };
}

const sorted = (rows: number[]) => [...new Set(rows)].sort((left, right) => left - right);

let pools: IngestPools;
const directories: string[] = [];
const outcomes: string[] = [];
let mixedEvents = 0;

beforeAll(() => {
  // The thread pools run dist/.
  buildDist();
  pools = createIngestPools(2);
});
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});
afterAll(async () => {
  await pools.close();
  if (outcomes.length === 5) {
    reportFigures(
      `object overwritten mid-ingest, 5 ways: ${outcomes.join('; ')}; ${mixedEvents} events of mixed ` +
        `versions, the new version ingested whole 5 of 5`,
    );
  }
});

async function localStore(): Promise<Store> {
  const directory = await makeTemporaryDirectory('dropgate-faults-overwrite-');
  directories.push(directory);
  return createLocalObjectStore({
    directory: join(directory, 'bucket'),
    temporaryDirectory: join(directory, 'tmp'),
    baseUrl: 'http://localhost',
    signingSecret: 'overwrite-test-signing-secret-0123456789',
  });
}

/**
 * Lands version 1 and lets the gateway ingest it while `overwrite` (wired into the store's or the sink's
 * hooks by `hooksFor`) replaces it by version 2; then lands version 2. Returns both versions' records and
 * events.
 */
async function ingestWhileOverwritten(options: {
  store: Store;
  key: string;
  first: Content;
  second: Content;
  /** Where the overwrite happens: store read hooks, or the first publish of version 1's events. */
  hooks: (overwrite: () => Promise<void>) => { reads?: ReadHooks; onFirstPublish?: boolean };
  /** Land version 1 only after the overwrite (a notification that comes late). */
  notifyLate?: boolean;
}) {
  const { store, key, first, second } = options;
  const v1 = await put(store, key, first);
  let v2: ObjectInfo | undefined;
  const overwrite = async () => {
    v2 ??= await put(store, key, second);
  };
  const wiring = options.hooks(overwrite);
  const sink = createMemoryEventSink({
    async inject({ topic }) {
      if (wiring.onFirstPublish && topic === 'orders') await overwrite();
    },
  });
  const ledger: Ledger = createMemoryLedger();
  const gateway = createGateway({
    store: wiring.reads ? interceptReads(store, wiring.reads) : store,
    sink,
    ledger,
    datasets: [dataset],
    controlTopic: 'dropgate.files',
    owner: 'overwrite-test',
    uploads: { maxBytes: 1 << 30, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { segmentPool: pools.segmentPool, rowGroupPool: pools.rowGroupPool },
  });
  const land = async (info: ObjectInfo) => {
    const [outcome] = await gateway.accept(
      { landings: [{ bucket: info.bucket, key, version: info.version, kind: 'finalized', via: 'test' }] },
      'inline',
    );
    return outcome!;
  };
  if (options.notifyLate) await overwrite();
  const landed = await land(v1);
  expect(v2, 'version 1 was ingested before the overwrite came').toBeDefined();
  const landedSecond = await land(v2!);
  expect(landedSecond.status).toBe('ingested');

  const versions = [
    { info: v1, content: first },
    { info: v2!, content: second },
  ];
  const { byVersion, mixed } = await eventsByVersion(sink, versions);
  mixedEvents += mixed;
  expect(mixed).toBe(0);
  const ref = (info: ObjectInfo) => ({ bucket: info.bucket, key, version: info.version });
  const [first1, second2] = [byVersion.get(v1.version)!, byVersion.get(v2!.version)!];
  // The new version, whole, once.
  expect(sorted(second2.rows)).toEqual(second.goodRows);
  expect(sorted(second2.deadRows)).toEqual(second.badRows);
  expect(second2.summaries).toEqual(['FileIngested']);
  expect(await ledger.get(ref(v2!))).toMatchObject({ state: 'ingested' });
  return { landed, record: (await ledger.get(ref(v1)))!, events: first1 };
}

describe('an object overwritten mid-ingest', () => {
  it('local store, CSV parsed on threads, replaced after 2 chunks were read: the old version is ingested whole', async () => {
    const store = await localStore();
    const first = csvContent(40_000, 50);
    let chunks = 0;
    const { landed, record, events } = await ingestWhileOverwritten({
      store,
      key: CSV_KEY,
      first,
      second: csvContent(30_000, 0, 40),
      hooks: (overwrite) => ({
        reads: {
          afterChunk: async (_key, chunk) => {
            chunks = Math.max(chunks, chunk);
            if (chunk === 2) await overwrite();
          },
        },
      }),
    });
    expect(landed.status).toBe('ingested');
    expect(record).toMatchObject({ state: 'ingested', outcome: { rowsPublished: first.goodRows.length } });
    expect(sorted(events.rows)).toEqual(first.goodRows);
    expect(sorted(events.deadRows)).toEqual(first.badRows);
    expect(events.summaries).toEqual(['FileIngested']);
    expect(chunks).toBeGreaterThan(2);
    outcomes.push(
      `local CSV replaced after 2 of ${chunks} chunks read: old version ingested whole (${count(events.rows.length)} events)`,
    );
  });

  it('local store, replaced between the claim and the first read: the old version is rejected, nothing of it published', async () => {
    const store = await localStore();
    let overwritten = false;
    const { landed, record, events } = await ingestWhileOverwritten({
      store,
      key: CSV_KEY,
      first: csvContent(20_000, 50),
      second: csvContent(10_000, 0, 40),
      hooks: (overwrite) => ({
        reads: {
          beforeRead: async () => {
            if (!overwritten) await overwrite();
            overwritten = true;
          },
        },
      }),
    });
    expect(landed.status).toBe('rejected');
    expect(record).toMatchObject({ state: 'rejected', outcome: { error: { code: 'OBJECT_VERSION_GONE' } } });
    expect(events).toEqual({ rows: [], deadRows: [], summaries: ['FileRejected'] });
    outcomes.push('local, replaced between claim and read: rejected OBJECT_VERSION_GONE, 0 events');
  });

  it('local store, notified only after it was replaced: the old version is closed as superseded', async () => {
    const store = await localStore();
    const { landed, record, events } = await ingestWhileOverwritten({
      store,
      key: CSV_KEY,
      first: csvContent(10_000, 50),
      second: csvContent(10_000, 0, 40),
      hooks: () => ({}),
      notifyLate: true,
    });
    expect(landed.status).toBe('superseded');
    expect(record).toMatchObject({ state: 'rejected', outcome: { error: { code: 'OBJECT_VERSION_GONE' } } });
    expect(events).toEqual({ rows: [], deadRows: [], summaries: [] });
    outcomes.push('local, notified after the overwrite: superseded, rejected OBJECT_VERSION_GONE, 0 events');
  });

  it('memory store, replaced after 2 chunks were read: the old version is ingested whole', async () => {
    const store = createMemoryObjectStore();
    const first = csvContent(40_000, 50);
    const { landed, record, events } = await ingestWhileOverwritten({
      store,
      key: CSV_KEY,
      first,
      second: csvContent(30_000, 0, 40),
      hooks: (overwrite) => ({
        reads: { afterChunk: async (_key, chunk) => (chunk === 2 ? overwrite() : undefined) },
      }),
    });
    expect(landed.status).toBe('ingested');
    expect(record).toMatchObject({ state: 'ingested' });
    expect(sorted(events.rows)).toEqual(first.goodRows);
    expect(sorted(events.deadRows)).toEqual(first.badRows);
    outcomes.push(
      `memory CSV replaced after 2 chunks: old version ingested whole (${count(events.rows.length)} events)`,
    );
  });

  it('local store, Parquet on threads, replaced once its first rows were out: rejected where it stopped, none of the new version in it', async () => {
    const store = await localStore();
    const directory = await makeTemporaryDirectory('dropgate-faults-parquet-');
    directories.push(directory);
    const first = await ordersParquet(directory, 32_768, 2_048, 'v1');
    const { landed, record, events } = await ingestWhileOverwritten({
      store,
      key: PARQUET_KEY,
      first,
      second: await ordersParquet(directory, 10_000, 2_048, 'v2'),
      hooks: () => ({ onFirstPublish: true }),
    });
    expect(landed.status).toBe('rejected');
    expect(record).toMatchObject({ state: 'rejected', outcome: { error: { code: 'OBJECT_VERSION_GONE' } } });
    // A prefix of the file, each row once, and the summary says where it stopped.
    const rows = sorted(events.rows);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(first.goodRows.length);
    expect(rows).toEqual(first.goodRows.slice(0, rows.length));
    expect(events.summaries).toEqual(['FileRejected']);
    outcomes.push(
      `local Parquet replaced once its first rows were out: rejected OBJECT_VERSION_GONE after ${count(rows.length)} of ${count(first.goodRows.length)} rows, all of the old version`,
    );
  });
});
