/** How versions are named and chosen: `v<N>` key folders, and the config's folder, pin and retired list. */
import { describe, expect, it } from 'vitest';
import { compileDatasets, configFileSchema, environmentSchema, parseOrExplain } from '../../app/config.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { versionNamedByKey, versionOfSchemaFile } from '../../schemas/schema-versions.js';
import { datasetVersionFor } from '../../workers/compiled-dataset.js';
import { webTextDecoding } from '../../workers/text-decoding.js';
import ordersV1 from '../../schemas/orders/v1.json' with { type: 'json' };
import ordersV2 from '../../schemas/orders/v2.json' with { type: 'json' };
import { DropgateError } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink } from '../../adapters/ports.js';
import type { CompiledDataset } from '../../workers/compiled-dataset.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { ordersFile } from '../integration/support/orders-csv.js';

describe('versionNamedByKey', () => {
  it.each([
    ['vendors/acme/orders/v2/2026-11-24/batch.csv', 2],
    ['exports/v1/orders/v12/batch.csv', 12],
    ['vendors/acme/orders/2026-11-24/batch.csv', undefined],
    ['vendors/acme/orders/v2.csv', undefined],
    ['vendors/acme/orders/V2/batch.csv', undefined],
    ['vendors/acme/orders/v02/batch.csv', undefined],
    ['vendors/acme/orders/v0/batch.csv', undefined],
    ['vendors/acme/orders/v2a/batch.csv', undefined],
  ])('%s names %s', (key, version) => {
    expect(versionNamedByKey(key)).toBe(version);
  });

  it('reads N from schema file names only when they are exactly v<N>.json', () => {
    expect(versionOfSchemaFile('schemas/orders/v10.json')).toBe(10);
    expect(versionOfSchemaFile('schemas/orders/v01.json')).toBeUndefined();
    expect(versionOfSchemaFile('schemas/orders/xv1.json')).toBeUndefined();
  });
});

const ORDERS = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

describe('a dataset configured from a folder of versions', () => {
  const files = {
    read: async (path: string) => (path.endsWith('v1.json') ? ordersV1 : ordersV2),
    list: async (path: string) =>
      path === 'schemas/orders' ? ['v2.json', 'v1.json', 'README.md'] : undefined,
  };
  const load = async (overrides: Record<string, unknown>) => {
    const file = parseOrExplain(
      configFileSchema,
      {
        datasets: [
          {
            name: 'orders',
            match: 'vendors/*/orders/**',
            schema: 'schemas/orders',
            eventType: 'OrderReceived',
            topic: 'orders',
            deadLetterTopic: 'orders.dead-letter',
            ...overrides,
          },
        ],
      },
      'the config',
    );
    const [dataset] = await compileDatasets(
      file.datasets,
      files,
      createAjvValidatorFactory(),
      webTextDecoding,
    );
    return dataset!;
  };

  it('follows the latest version, and gives each key the version it names', async () => {
    const dataset = await load({});
    expect(dataset.schemaVersion).toBe(2);
    expect([...dataset.versions!.keys()]).toEqual([1, 2]);
    expect(datasetVersionFor(dataset, 'vendors/a/orders/v1/x.csv').schemaVersion).toBe(1);
    expect(datasetVersionFor(dataset, 'vendors/a/orders/v1/x.csv').schema).toBe(ordersV1);
    expect(datasetVersionFor(dataset, 'vendors/a/orders/x.csv')).toBe(dataset);
  });

  it('refuses a partition key column no version declares, naming the field, and keeps one that does', async () => {
    await expect(load({ partitionKey: { column: 'customer' } })).rejects.toThrow(
      "datasets.0.partitionKey.column: no version of the dataset's schema declares property customer",
    );
    expect((await load({ partitionKey: { column: 'customer_id' } })).partitionKey).toEqual({
      column: 'customer_id',
    });
  });

  it('marks a key naming a retired or unknown version as refused, with the reason', async () => {
    const dataset = await load({ retired: [1] });
    expect(datasetVersionFor(dataset, 'vendors/a/orders/v1/x.csv')).toMatchObject({
      schemaVersion: 1,
      refused: 'version 1 of dataset orders is retired; files must be written for v2',
    });
    expect(datasetVersionFor(dataset, 'vendors/a/orders/v3/x.csv').refused).toBe(
      'dataset orders has no schema version 3; files must be written for v2',
    );
  });

  it.each([
    [{ version: 3 }, 'datasets.0.version: schemas/orders has no version 3'],
    [{ version: 1, retired: [1] }, 'datasets.0.version: version 1 is retired'],
    [{ retired: [1, 2] }, 'datasets.0.retired: every version is retired'],
    [{ retired: [5] }, 'datasets.0.retired: schemas/orders has no version 5'],
    [{ schema: 'schemas/orders/v1.json', version: 1 }, 'datasets.0.version: needs "schema" to name a folder'],
    [{ schema: 'schemas/returns' }, 'datasets.0.schema: schemas/returns is not a folder of schema versions'],
    [
      { schema: 'schemas/orders/v01.json' },
      'must name a folder of schema versions or a schema file v<N>.json',
    ],
    [{ name: 'v2' }, 'datasets.0.name: must not read as a version folder'],
  ])('refuses %j at startup, naming the field', async (overrides, message) => {
    await expect(load(overrides)).rejects.toThrow(message);
  });

  /** A file whose first attempt, under v1, fails after 20 of its 60 rows; then `dataset` resumes it. */
  async function resumeUnder(dataset: CompiledDataset) {
    const store = createMemoryObjectStore();
    const key = 'vendors/acme/orders/2026-11-24/orders.csv';
    store.put(key, ordersFile(60).csv);
    const ledger = createMemoryLedger();
    const healthy = createMemoryEventSink();
    let published = 0;
    const outage: EventSink = {
      capabilities: healthy.capabilities,
      async publish(topic, events) {
        if (topic === 'orders' && ++published > 2)
          throw new DropgateError('PUBLISH_FAILED', 'orders is down');
        return healthy.publish(topic, events);
      },
      close: async () => undefined,
    };
    const deps = {
      store,
      ledger,
      controlTopic: 'dropgate.files',
      retry: { attempts: 1, baseDelayMs: 1 },
      checkpointIntervalMs: 0,
      blockSize: { rows: 10, bytes: 1e9 },
    };
    const request = { key, mode: 'notification' as const };
    const first = await ingestFile(
      { ...deps, sink: outage, owner: 'a' },
      { ...request, dataset: await load({ version: 1 }) },
    );
    expect(first.status).toBe('failed');
    expect(first.status === 'failed' && first.record?.checkpoint).toMatchObject({
      row: 20,
      schemaVersion: 1,
    });

    const second = await ingestFile({ ...deps, sink: healthy, owner: 'b' }, { ...request, dataset });
    return { second, healthy };
  }

  it('resumes a file under the version it started with, though the default moved since', async () => {
    // The operator moves the default to v2 while the file waits: it still finishes under v1.
    const { second, healthy } = await resumeUnder(await load({}));
    expect(second.status).toBe('ingested');
    const versions = new Set(healthy.events('orders').map((event) => JSON.parse(event.body).schemaversion));
    expect([...versions]).toEqual([1]);
    expect(healthy.events('orders')).toHaveLength(60);
  });

  it('fails a resume, rather than mix versions, when the version it started with is gone from the config', async () => {
    const onlyV2 = {
      read: async () => ordersV2,
      list: async (path: string) => (path === 'schemas/orders' ? ['v2.json'] : undefined),
    };
    const file = parseOrExplain(
      configFileSchema,
      { datasets: [{ ...ORDERS, schema: 'schemas/orders' }] },
      'config',
    );
    const [dataset] = await compileDatasets(
      file.datasets,
      onlyV2,
      createAjvValidatorFactory(),
      webTextDecoding,
    );
    const { second, healthy } = await resumeUnder(dataset!);
    expect(second.status).toBe('failed');
    if (second.status !== 'failed') return;
    expect(second.error.code).toBe('CONFIG_INVALID');
    expect(second.error.message).toContain('started under version 1 of dataset orders');
    expect(second.record).toMatchObject({ state: 'failed', checkpoint: { row: 20, schemaVersion: 1 } });
    expect(healthy.events('orders')).toHaveLength(20);
  });

  it('keeps the one-file form as it was: one version, keys not searched', async () => {
    const dataset = await load({ schema: 'schemas/orders/v1.json' });
    expect(dataset.schemaVersion).toBe(1);
    expect(dataset.versions).toBeUndefined();
    expect(datasetVersionFor(dataset, 'vendors/a/orders/v2/x.csv')).toBe(dataset);
  });
});

describe('names that would read as a version folder', () => {
  it('refuses a vendor called v2: its uploads would land under vendors/v2/ and name version 2', () => {
    const parse = (keys: string) =>
      parseOrExplain(environmentSchema, { DROPGATE_VENDOR_KEYS: keys }, 'the environment');
    expect(() => parse('v2=key-of-sixteen-chars')).toThrow('not a version folder such as v2');
    expect(parse('v2x=key-of-sixteen-chars').DROPGATE_VENDOR_KEYS?.get('key-of-sixteen-chars')).toBe('v2x');
  });
});
