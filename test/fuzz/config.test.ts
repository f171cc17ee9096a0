/**
 * Config files fuzzed through the config loader: valid configs (local, AWS and Google adapters) edited
 * at random places, random JSON, and damaged file text. Each must give a config or a CONFIG_INVALID /
 * SCHEMA_INVALID error naming the field at fault (or the file, for text that is not JSON); never a crash.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { compileDatasets, configFileSchema, parseOrExplain } from '../../app/config.js';
import { iconvTextDecoding } from '../../app/node/iconv-text-decoding.js';
import { loadConfig, packageRoot } from '../../app/node/load-config.js';
import { createAjvValidatorFactory, type ValidatorFactory } from '../../schemas/row-validator.js';
import { mutate, mutationArbitrary } from './support/csv-arbitraries.js';
import { applyEdit, jsonEditArbitrary } from './support/json-mutations.js';
import { runFuzz } from './support/run-fuzz.js';

const TIMEOUT_MS = 240_000;
const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  format: 'auto',
  schema: 'schemas/orders',
  compatibility: 'BACKWARD',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders-dead-letter',
  csv: { delimiter: ';', encoding: 'windows-1252', header: true, quote: '"' },
  drift: 'rescue',
  headers: 'insensitive',
  aliases: { order_id: ['OrderID'] },
  decompression: { maxBytes: 1_000_000, maxRatio: 50 },
};

/** Valid configs to edit: the example's, and ones using the AWS and Google adapters. */
const BASES: unknown[] = [
  {
    dataDir: '.dropgate',
    controlTopic: 'dropgate.files',
    uploads: { maxBytes: 5368709120, expiresInSeconds: 900 },
    resumeIntervalSeconds: 60,
    ingestThreads: 2,
    schemaBaseUrl: 'https://dropgate.example.com/schemas',
    datasets: [
      dataset,
      { ...dataset, name: 'invoices', schema: 'schemas/orders/v1.json', version: undefined },
    ],
  },
  {
    store: { type: 's3', bucket: 'acme-landing', region: 'eu-west-1' },
    sink: { type: 'sqs', region: 'eu-west-1', fifoGroup: 'orders' },
    ledger: { type: 'dynamodb', table: 'dropgate-ledger', region: 'eu-west-1', retentionDays: 90 },
    controlTopic: 'dropgate-files',
    datasets: [{ ...dataset, version: 1, retired: [2] }],
  },
  {
    store: { type: 'gcs', bucket: 'acme-landing' },
    sink: { type: 'pubsub', projectId: 'acme-data-prod' },
    ledger: { type: 'firestore', projectId: 'acme-data-prod' },
    controlTopic: 'dropgate-files',
    datasets: [dataset],
  },
];

/** The schema files configs name, in memory (each schema compiled once: ajv is costly, configs are not). */
let schemas: Map<string, unknown>;
const compileOnce = (() => {
  const compile = createAjvValidatorFactory();
  const compiled = new Map<string, ReturnType<ValidatorFactory>>();
  return ((schema, name) => {
    const key = `${name}\n${JSON.stringify(schema)}`;
    if (!compiled.has(key)) compiled.set(key, compile(schema, name));
    return compiled.get(key)!;
  }) satisfies ValidatorFactory;
})();
let directory: string;

beforeAll(async () => {
  const v1 = JSON.parse(await readFile(join(packageRoot, 'schemas/orders/v1.json'), 'utf8'));
  const v2 = JSON.parse(await readFile(join(packageRoot, 'schemas/orders/v2.json'), 'utf8'));
  schemas = new Map([
    ['schemas/orders/v1.json', v1],
    ['schemas/orders/v2.json', v2],
  ]);
  directory = await mkdtemp(join(tmpdir(), 'dropgate-config-fuzz-'));
  await mkdir(join(directory, 'schemas/orders'), { recursive: true });
  await writeFile(join(directory, 'schemas/orders/v1.json'), JSON.stringify(v1));
  await writeFile(join(directory, 'schemas/orders/v2.json'), JSON.stringify(v2));
  for (const base of BASES) await load(base);
});
afterAll(() => rm(directory, { recursive: true, force: true }));

/** Parses and compiles a config as the loader does, with the schema files in memory. */
async function load(raw: unknown) {
  const file = parseOrExplain(configFileSchema, raw, 'config file x.json');
  return compileDatasets(
    file.datasets,
    {
      read: async (path) => {
        if (!schemas.has(path)) throw new Error(`ENOENT: no such file, open '${path}'`);
        return structuredClone(schemas.get(path));
      },
      list: async (path) => {
        const folder = path.replace(/\/+$/, '');
        if (folder !== 'schemas/orders') return undefined;
        return ['v1.json', 'v2.json'];
      },
    },
    compileOnce,
    iconvTextDecoding,
  );
}

/** Words that mean a message was built from a value that was not there, which tells an operator nothing. */
const UNCLEAR =
  /\bundefined\b|\bNaN\b|\[object Object\]|Cannot read properties|is not a function|is not iterable/;
/** A field path: `(root)`, or dotted names and indices and quoted keys, followed by the problem. */
const FIELD_PATH = /(?:^|\n {2}|: )(?:\(root\)|[A-Za-z_$][\w$]*(?:\.[\w$-]+|\["(?:[^"\\]|\\.)*"\])*): /;

function expectClearConfigError(error: unknown, what: RegExp = FIELD_PATH): void {
  if (!(error instanceof DropgateError)) throw error;
  expect(['CONFIG_INVALID', 'SCHEMA_INVALID']).toContain(error.code);
  expect(error.message).toMatch(what);
  expect(error.message).not.toMatch(UNCLEAR);
}

describe('config fuzzing', () => {
  it(
    'gives a config or names the field at fault, for valid configs edited anywhere and random JSON',
    async () => {
      const edited = fc
        .tuple(fc.constantFrom(...BASES), fc.array(jsonEditArbitrary, { minLength: 1, maxLength: 4 }))
        .map(([base, edits]) => edits.reduce(applyEdit, base));
      await runFuzz(
        'config-edited',
        fc.asyncProperty(
          fc.oneof({ weight: 9, arbitrary: edited }, fc.jsonValue({ maxDepth: 4 })),
          async (raw) => {
            try {
              expect((await load(raw)).length).toBeGreaterThan(0);
            } catch (error) {
              expectClearConfigError(error);
            }
          },
        ),
        { cases: 2_000, seed: 7 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'loads damaged config files from disk, or names the file and what is wrong',
    async () => {
      const texts = fc.oneof(
        fc
          .tuple(fc.constantFrom(...BASES), fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }))
          .map(([base, mutations]) =>
            mutations.reduce(mutate, new TextEncoder().encode(JSON.stringify(base))),
          ),
        fc.uint8Array({ maxLength: 64 }),
      );
      const path = join(directory, 'dropgate.config.json');
      await runFuzz(
        'config-files',
        fc.asyncProperty(texts, async (bytes) => {
          await writeFile(path, bytes);
          try {
            const config = await loadConfig({ cwd: directory, env: {} });
            expect(config.datasets.length).toBeGreaterThan(0);
          } catch (error) {
            expectClearConfigError(error, /config file .*dropgate\.config\.json|^datasets\.\d+\./);
          }
        }),
        { cases: 200, seed: 77 },
      );
    },
    TIMEOUT_MS,
  );
});
