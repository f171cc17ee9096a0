/** What the config's validation says about a field: its path, and the problem in words for people. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';
import { loadConfig, packageRoot } from '../../app/node/load-config.js';
import { wireAdapters } from '../../app/node/wire.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

describe('config validation messages', () => {
  it('say a required field is missing, not what JavaScript received', () => {
    const { topic: _, ...withoutTopic } = dataset;
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [withoutTopic] }, 'config file x.json'),
    ).toThrow('config file x.json is invalid:\n  datasets.0.topic: is missing (must be a string)');
  });

  it('name the field and what it must be for a value of the wrong type', () => {
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [{ ...dataset, csv: { header: 'yes' } }] }, 'config'),
    ).toThrow('datasets.0.csv.header: Invalid input: expected boolean, received string');
  });

  it('name a record’s bad key as a problem of the record, not as a path ending in a dot', () => {
    expect(() =>
      parseOrExplain(
        configFileSchema,
        { datasets: [{ ...dataset, aliases: { order_id: ['OrderID'], '': ['x'] } }] },
        'config',
      ),
    ).toThrow(
      'datasets.0.aliases: key "" is not allowed (Too small: expected string to have >=1 characters)',
    );
  });

  it('quote a record key that would not read as one segment of the path', () => {
    expect(() =>
      parseOrExplain(
        configFileSchema,
        { datasets: [{ ...dataset, aliases: { order_id: ['OrderID'], 'order id': 'OrderID' } }] },
        'config',
      ),
    ).toThrow('datasets.0.aliases["order id"]: Invalid input: expected array, received string');
  });

  it('bound a dataset’s key glob, instead of failing to compile it at start', () => {
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [{ ...dataset, match: '*'.repeat(70_000) }] }, 'config'),
    ).toThrow('datasets.0.match: must be at most 4,096 characters');
  });

  it('read a config file and schema files saved with a byte order mark', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'dropgate-bom-'));
    try {
      const schema = await readFile(join(packageRoot, 'schemas/orders/v1.json'), 'utf8');
      await writeFile(join(directory, 'v1.json'), `\uFEFF${schema}`);
      await writeFile(
        join(directory, 'dropgate.config.json'),
        `\uFEFF${JSON.stringify({ datasets: [{ ...dataset, schema: 'v1.json' }] })}`,
      );
      const config = await loadConfig({ env: {}, cwd: directory });
      expect(config.datasets.map((compiled) => compiled.name)).toEqual(['orders']);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('name scheduledBackfill on Node, where no cron trigger runs it, and what to do instead', async () => {
    const file = parseOrExplain(
      configFileSchema,
      { datasets: [dataset], scheduledBackfill: { prefix: 'vendors/' } },
      'config',
    );
    expect(file.scheduledBackfill).toEqual({ prefix: 'vendors/', limit: 1_000 });
    await expect(
      wireAdapters({ file, dataDir: '.', publicUrl: 'http://localhost', signingSecret: 'x'.repeat(32) }),
    ).rejects.toThrow(
      /^scheduledBackfill: runs on Cloudflare Workers only .* schedule POST \/admin\/backfill/,
    );
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [dataset], scheduledBackfill: { limit: 0 } }, 'config'),
    ).toThrow('scheduledBackfill.limit: ');
  });
});

/**
 * What `dropgate` prints on stderr for a bad config file, before it exits 1: the message `loadConfig`
 * refuses it with (test/integration/cli.test.ts runs the command for one such file).
 */
describe('a config file loaded from disk', () => {
  const ordersDataset = { ...dataset, schema: join(packageRoot, 'schemas/orders/v1.json') };
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'dropgate-config-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  const refusalOf = async (config: unknown) => {
    const text = typeof config === 'string' ? config : JSON.stringify(config);
    await writeFile(join(directory, 'dropgate.config.json'), text);
    return loadConfig({ env: {}, cwd: directory }).then(
      () => expect.fail('the config was accepted'),
      (error: unknown) => (error as Error).message,
    );
  };

  it.each([
    [{ store: { type: 'ftp' } }, 'store.type: must be one of: local'],
    [{ store: { type: 'gcs' } }, 'store.bucket: is missing'],
    [{ store: { type: 'gcs', bucket: 'gs://drop' } }, 'store.bucket: must be a GCS bucket name'],
    [{ sink: { type: 'kafka' } }, 'sink.type: must be one of: local'],
    [{ ledger: { type: 'redis' } }, 'ledger.type: must be one of: local'],
    [
      { intake: [{ type: 'ftp' }] },
      'intake.0.type: must be one of: local-upload, gcs-pubsub-push, gcs-pubsub-pull, eventarc, sqs, sns-https, r2-queue',
    ],
    [{ intake: [{ type: 'local-upload', mode: 'sometimes' }] }, 'intake.0.mode'],
    [
      { intake: [{ type: 'local-upload' }, { type: 'local-upload' }] },
      'intake: each intake type may appear once',
    ],
    [{ store: { type: 'local', bucket: 'x' } }, 'store: Unrecognized key: "bucket"'],
    [{ ingestThreads: -1 }, 'ingestThreads'],
  ])('names the field at fault in %j', async (fields, message) => {
    expect(await refusalOf({ ...fields, datasets: [ordersDataset] })).toContain(message);
  });

  it('names the dataset whose schema file is missing', async () => {
    const message = await refusalOf({ datasets: [{ ...ordersDataset, schema: 'schemas/none/v1.json' }] });
    expect(message).toContain('datasets.0.schema');
    expect(message).toContain('schemas/none/v1.json');
  });

  it('says when the config file is not JSON', async () => {
    expect(await refusalOf('{ "datasets": [')).toContain('not valid JSON');
  });
});
