/**
 * The ingestion core runs unchanged under workerd, without Node compatibility: the product's worker
 * bundle builds and serves /healthz, and a test Worker (harness.ts) runs the core inside workerd: every
 * CSV fixture (windows-1252 decoded by workerd's own TextDecoder), every Parquet variant, EventBytesWriter.
 * Each run must give exactly what the same run gives on Node, with iconv-lite and ajv compiled at run time.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import iconv from 'iconv-lite';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { iconvTextDecoding } from '../../app/node/iconv-text-decoding.js';
import type { RowSchema } from '../../schemas/dataset.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { standaloneValidatorModule } from '../../schemas/standalone-validator.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { loadCsvFixtures, type CsvFixture } from '../support/csv-fixtures.js';
import {
  PARQUET_VARIANTS,
  TABULAR_SCHEMA,
  expectedRows,
  writeParquetVariants,
} from '../support/parquet-fixtures.js';
import { freePort } from '../support/google-emulators.js';
import { checkEventBytes, harnessDataset, runHarness, type HarnessFile } from './run-harness.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const wrangler = join(root, 'node_modules/.bin/wrangler');
const outdir = join(root, '.wrangler/test');
/** wrangler names the bundle after the entry module (app/worker/index.ts). */
const productScript = 'index.js';
const configs = { harness: join(root, 'test/workerd/wrangler.toml'), product: join(root, 'wrangler.toml') };

async function bundle(config: string, out: string): Promise<string> {
  await run(wrangler, ['deploy', '--dry-run', '--config', config, '--outdir', out], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  return out;
}

/** What a wrangler.toml asks of workerd, so Miniflare runs each bundle as it would be deployed. */
async function compatibilityOf(config: string) {
  const text = await readFile(config, 'utf8');
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(text)?.[1] ?? '';
  return {
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(text)![1]!,
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((match) => match[1]!),
  };
}

const csv = [
  '\ufefforder_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note',
  'A-1,c1,S1,2,9.99,EUR,2026-11-24T10:00:00Z,2026-11-30,yes,"multi',
  'line, ""quoted"" note — café €"',
  'A-2,c2,S2,0,1,eur,2026-11-24T10:00:00Z,,,',
  'A-3,c3,S3,1,1.5,USD,2026-11-24T10:00:00Z,,false,日本語',
  'A-4,c4,S4,1',
  '',
].join('\r\n');

type HarnessRun = Awaited<ReturnType<typeof runHarness>>;

/** A run with the runtime's own words for a corrupt gzip stream, in parentheses, left out: they differ. */
function comparable(run: HarnessRun): HarnessRun {
  const summaries = run.topics['dropgate.files'] as
    Array<{ data: { error?: { message: string } } }> | undefined;
  for (const summary of summaries ?? []) {
    const error = summary.data.error;
    if (error?.message.startsWith('gzip data is corrupt'))
      error.message = error.message.replace(/ \(.*\)$/s, '');
  }
  return run;
}

const csvFixtures = loadCsvFixtures();
const ownSchema = (fixture: CsvFixture) => (fixture.expected.dataset?.schema ? fixture.name : undefined);
type Event = { rownumber: number; data: Record<string, unknown> };

describe('core under workerd', () => {
  let harness: Miniflare;
  let product: Miniflare;
  let ordersV1: RowSchema;
  /** The schemas the harness has precompiled validators for, by validator name. */
  const schemas = new Map<string, RowSchema>();
  const compile = createAjvValidatorFactory();
  const parquetFiles = new Map<string, Uint8Array>();

  beforeAll(async () => {
    ordersV1 = JSON.parse(await readFile(join(root, 'schemas/orders/v1.json'), 'utf8'));
    schemas.set('orders/v1', ordersV1).set('tabular', TABULAR_SCHEMA);
    for (const fixture of csvFixtures) {
      const name = ownSchema(fixture);
      if (name) schemas.set(name, fixture.expected.dataset!.schema!);
    }
    const generated = join(root, 'test/workerd/generated');
    await mkdir(generated, { recursive: true });
    const modules = [...schemas].map(([name, schema], index) => ({
      name,
      file: `validator-${index}.js`,
      schema,
    }));
    for (const { file, schema } of modules) {
      await writeFile(
        join(generated, file),
        standaloneValidatorModule(schema, '../../../schemas/rfc3339-formats.ts'),
      );
    }
    await writeFile(
      join(generated, 'validators.js'),
      [
        ...modules.map(({ file }, index) => `import v${index} from './${file}';`),
        `export default { ${modules.map(({ name }, index) => `${JSON.stringify(name)}: v${index}`).join(', ')} };`,
        '',
      ].join('\n'),
    );
    const [harnessDir, productDir] = await Promise.all([
      bundle(configs.harness, join(outdir, 'harness')),
      bundle(configs.product, join(outdir, 'product')),
    ]);
    harness = new Miniflare({
      modules: true,
      ...(await compatibilityOf(configs.harness)),
      scriptPath: join(harnessDir, 'harness.js'),
    });
    product = new Miniflare({
      modules: true,
      ...(await compatibilityOf(configs.product)),
      scriptPath: join(productDir, productScript),
    });

    const directory = await mkdtemp(join(tmpdir(), 'dropgate-workerd-'));
    try {
      for (const { variant, bytes } of await writeParquetVariants(directory))
        parquetFiles.set(variant.name, bytes);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([harness?.dispose(), product?.dispose()]);
  });

  /**
   * Runs one file inside workerd (cut into segments when `segmentBytes` is given) and with the sequential
   * parser on Node, with the same inputs; returns both runs' events.
   */
  async function ingestInBoth(file: Omit<HarnessFile, 'updated'>) {
    const request: HarnessFile = { ...file, updated: '2026-11-24T12:00:00.000Z' };
    const parameters = new URLSearchParams({
      key: request.key,
      updated: request.updated,
      dataset: JSON.stringify(request.dataset),
      ...(request.chunkSize === undefined ? {} : { chunkSize: String(request.chunkSize) }),
      ...(request.segmentBytes === undefined ? {} : { segmentBytes: String(request.segmentBytes) }),
    });
    const response = await harness.dispatchFetch(`http://localhost/ingest?${parameters}`, {
      method: 'POST',
      body: request.bytes,
    });
    expect(response.status).toBe(200);
    const inWorkerd = (await response.json()) as HarnessRun;
    const { segmentBytes: _, ...sequential } = request;
    const onNode = await runHarness(
      {
        ingestFile,
        textDecoding: iconvTextDecoding,
        validate: compile(schemas.get(request.dataset.validator)!, request.dataset.validator),
      },
      sequential,
    );
    return { inWorkerd: comparable(inWorkerd), onNode: comparable(onNode) };
  }

  test('neither Worker asks for Node compatibility, at a date where workerd refuses node: imports cleanly', async () => {
    for (const config of Object.values(configs)) {
      const { compatibilityDate, compatibilityFlags } = await compatibilityOf(config);
      expect(compatibilityFlags).toEqual([]);
      expect(compatibilityDate >= '2026-04-01').toBe(true);
    }
  });

  test('the product worker bundle compiles no WebAssembly at run time (Workers forbid it)', async () => {
    const bundled = await readFile(join(outdir, 'product', productScript), 'utf8');
    expect(bundled).toContain('parquetMetadataAsync');
    expect(bundled).not.toMatch(/new WebAssembly\.Module|WebAssembly\.(compile|instantiate)\(/);
  });

  test('the product worker bundle holds no iconv-lite: Workers decode legacy encodings with TextDecoder', async () => {
    const bundled = await readFile(join(outdir, 'product', productScript), 'utf8');
    expect(bundled).not.toContain('iconv-lite');
    expect(bundled).not.toMatch(/\bBuffer\.from\(/);
  });

  test('the product worker bundle starts, and without its bindings names the first one missing', async () => {
    // With every binding, the product serves the app: test/workerd/edge-path.test.ts.
    const response = await product.dispatchFetch('http://localhost/healthz');
    expect(response.status).toBe(503);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(
      'binding BUCKET (R2) is missing: add [[r2_buckets]] binding = "BUCKET" bucket_name = "dropgate-uploads" to wrangler.toml',
    );
  });

  test('a CSV ingested inside workerd yields exactly the events Node yields', async () => {
    const { inWorkerd, onNode } = await ingestInBoth({
      key: 'vendors/acme/orders/2026-11-24/batch.csv',
      bytes: new TextEncoder().encode(csv),
      dataset: harnessDataset(ordersV1),
    });

    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd).toEqual(onNode);
    const rows = inWorkerd.topics.orders as Event[];
    expect(rows.map((event) => event.rownumber)).toEqual([1, 3]);
    expect(rows[0]!.data.note).toBe('multi\r\nline, "quoted" note — café €');
    expect(rows[1]!.data.note).toBe('日本語');
    const dead = inWorkerd.topics['orders.dead-letter'] as Array<{
      data: { line: number; errors: unknown[] };
    }>;
    expect(dead.map((event) => event.data.line)).toEqual([4, 6]);
  });

  test('a CSV cut into segments inside workerd yields exactly the events the sequential parser on Node yields', async () => {
    const { inWorkerd, onNode } = await ingestInBoth({
      key: 'vendors/acme/orders/2026-11-24/batch.csv',
      bytes: new TextEncoder().encode(csv),
      dataset: harnessDataset(ordersV1),
      segmentBytes: 16,
    });
    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd.segments).toBeGreaterThan(3);
    expect({ ...inWorkerd, segments: 0 }).toEqual(onNode);
  });

  describe.each(csvFixtures.map((fixture) => [fixture.file, fixture] as const))(
    'CSV fixture %s inside workerd',
    (_file, fixture) => {
      const dataset = () =>
        harnessDataset(fixture.expected.dataset?.schema ?? ordersV1, {
          ...(fixture.expected.dataset?.csv ? { csv: fixture.expected.dataset.csv } : {}),
          validator: ownSchema(fixture) ?? 'orders/v1',
        });
      const key = `vendors/acme/orders/${fixture.file}`;

      test('read in 5-byte chunks, yields the events Node yields, and the expected ones', async () => {
        const { inWorkerd, onNode } = await ingestInBoth({
          key,
          bytes: fixture.bytes,
          dataset: dataset(),
          chunkSize: 5,
        });
        expect(inWorkerd).toEqual(onNode);
        expect(inWorkerd.status).toBe(fixture.expected.state);
        const events = (inWorkerd.topics.orders ?? []) as Event[];
        expect(events.map((event) => ({ row: event.rownumber, data: event.data }))).toEqual(
          fixture.expected.events,
        );
      });

      test('cut in 40-byte segments, yields the events the sequential parser on Node yields', async () => {
        const { inWorkerd, onNode } = await ingestInBoth({
          key,
          bytes: fixture.bytes,
          dataset: dataset(),
          chunkSize: 7,
          segmentBytes: 40,
        });
        expect({ ...inWorkerd, segments: 0 }).toEqual(onNode);
      });
    },
  );

  test("a windows-1252 file is decoded by workerd's TextDecoder: 0x80 is €, 0x93/0x94 are curly quotes", async () => {
    const fixture = csvFixtures.find((candidate) => candidate.name === 'windows-1252')!;
    expect(fixture.bytes).toContain(0x80);
    const { inWorkerd } = await ingestInBoth({
      key: `vendors/acme/orders/${fixture.file}`,
      bytes: fixture.bytes,
      dataset: harnessDataset(ordersV1, { csv: { encoding: 'windows-1252' } }),
    });
    const rows = inWorkerd.topics.orders as Event[];
    expect(rows.map((event) => event.data.sku)).toEqual(['CAFÉ-€', 'SKU-£', 'SKU-3']);
    expect(rows[1]!.data.note).toBe('“curly quotes” – and a dash');
  });

  /** `bytes` in `encoding`, decoded byte by byte inside workerd by the Workers TextDecoding. */
  async function decodeInWorkerd(encoding: string, bytes: Uint8Array) {
    const response = await harness.dispatchFetch(`http://localhost/decode?encoding=${encoding}`, {
      method: 'POST',
      body: bytes,
    });
    return (await response.json()) as { supported: boolean; text?: string };
  }

  test.each(['windows-1252', 'windows-1250', 'windows-1251', 'koi8-r', 'iso-8859-2', 'ibm866'])(
    "workerd's TextDecoder decodes every byte of %s as iconv-lite does, but those the code page leaves undefined",
    async (encoding) => {
      const bytes = Uint8Array.from({ length: 256 }, (_, index) => index);
      const { supported, text } = await decodeInWorkerd(encoding, bytes);
      expect(supported).toBe(true);
      const inWorkerd = [...text!];
      const onNode = [...iconv.decode(Buffer.from(bytes), encoding)];
      expect(inWorkerd).toHaveLength(256);
      const differing = onNode.flatMap((character, byte) => (character === inWorkerd[byte] ? [] : [byte]));
      // iconv-lite gives U+FFFD for a byte the code page leaves undefined; WHATWG gives the C1 control.
      expect(differing.filter((byte) => onNode[byte] !== '\ufffd')).toEqual([]);
      for (const byte of differing) expect(inWorkerd[byte]!.codePointAt(0)).toBe(byte);
    },
  );

  test.each([
    ['shift_jis', '注文,東京都,ｶﾀｶﾅ,①'],
    ['gbk', '订单,北京市,中文'],
    ['big5', '訂單,臺北市,繁體'],
    ['euc-kr', '주문,서울,한국어'],
  ])("workerd's TextDecoder decodes %s cut byte by byte as iconv-lite encodes it", async (encoding, text) => {
    const { supported, text: decoded } = await decodeInWorkerd(
      encoding,
      new Uint8Array(iconv.encode(text, encoding)),
    );
    expect(supported).toBe(true);
    expect(decoded).toBe(text);
  });

  test('the Workers TextDecoding does not claim encodings workerd cannot decode', async () => {
    expect(await decodeInWorkerd('cp437', new Uint8Array([0x80]))).toEqual({ supported: false });
  });

  test('EventBytesWriter writes 2,000 random values and 2,000 numbers inside workerd as JSON.stringify does', async () => {
    const response = await harness.dispatchFetch('http://localhost/event-bytes?seed=20261126&count=2000');
    const inWorkerd = (await response.json()) as ReturnType<typeof checkEventBytes>;
    expect(inWorkerd).toEqual({ checked: 4000, mismatches: [] });
    expect(checkEventBytes(20261126, 2000)).toEqual(inWorkerd);
  });

  test('a Parquet file read by range reads inside workerd yields exactly the events Node yields', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'dropgate-workerd-'));
    const path = join(directory, 'orders.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(`
      COPY (SELECT 'ORD-' || i AS order_id, 'c' || i AS customer_id, 'SKU' AS sku, (i % 3)::INTEGER AS quantity,
                   (i * 1.25)::DECIMAL(10, 2) AS unit_price, 'EUR' AS currency,
                   TIMESTAMP '2026-11-24 10:00:00.123456' + INTERVAL (i) MINUTE AS ordered_at,
                   CASE WHEN i % 2 = 0 THEN DATE '2026-12-01' END AS ship_by, i % 2 = 0 AS gift, 'café' AS note
            FROM range(500) t(i))
      TO '${path}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100)`);
    connection.closeSync();
    instance.closeSync();
    const bytes = new Uint8Array(await readFile(path));
    await rm(directory, { recursive: true, force: true });

    const { inWorkerd, onNode } = await ingestInBoth({
      key: 'vendors/acme/orders/2026-11-24/orders.parquet',
      bytes,
      dataset: harnessDataset(ordersV1),
    });

    expect(inWorkerd.status).toBe('ingested');
    expect(inWorkerd).toEqual(onNode);
    const rows = inWorkerd.topics.orders as Event[];
    // Quantity 0 (every third row) breaks the schema's minimum: those rows are dead letters.
    expect(rows).toHaveLength(500 - 167);
    expect(rows[0]!.data).toEqual({
      order_id: 'ORD-1',
      customer_id: 'c1',
      sku: 'SKU',
      quantity: 1,
      unit_price: 1.25,
      currency: 'EUR',
      ordered_at: '2026-11-24T10:01:00.123456Z',
      ship_by: null,
      gift: false,
      note: 'café',
    });
    expect((inWorkerd.topics['orders.dead-letter'] as unknown[]).length).toBe(167);
  });

  test.each(PARQUET_VARIANTS.map((variant) => [variant.name, variant] as const))(
    'the Parquet variant %s inside workerd yields exactly the events Node yields',
    async (name, variant) => {
      const { inWorkerd, onNode } = await ingestInBoth({
        key: `vendors/acme/tabular/${name}.parquet`,
        bytes: parquetFiles.get(name)!,
        dataset: harnessDataset(TABULAR_SCHEMA, {
          name: 'tabular',
          match: 'vendors/*/tabular/**',
          topic: 'tabular',
          deadLetterTopic: 'tabular.dead-letter',
          validator: 'tabular',
        }),
      });
      expect(inWorkerd.status).toBe('ingested');
      expect(inWorkerd).toEqual(onNode);
      const rows = inWorkerd.topics.tabular as Event[];
      expect(rows.map((event) => event.data)).toEqual(expectedRows(variant));
    },
  );
});

/**
 * The README's laptop walkthrough, as written there: one `wrangler dev` runs the product Worker and the
 * laptop companion (app/worker/laptop) on local bindings; a vendor asks Dropgate for an upload URL and
 * PUTs the file to it (the companion's stand-in of R2's S3 API checks the signature and puts the object in
 * the local bucket), R2's notification reaches the local notification queue, Dropgate's queue handler
 * ingests the file, and its events are read back from the output queues. In this file, after the describe
 * above, so its build step and the bundle's never write .wrangler/generated at once.
 */
describe('wrangler dev on a laptop', () => {
  const admin = 'local-admin-token-0123456789';
  const vendorKey = 'local-vendor-key-0123456789';
  let dev: ChildProcess | undefined;
  let output = '';
  let state: string;

  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      dev.kill('SIGTERM');
      await new Promise((resolve) => dev!.once('exit', resolve));
    }
    if (state) await rm(state, { recursive: true, force: true });
  });

  test("a vendor's presigned upload is notified, ingested, and its events read back from the queues", async () => {
    if (existsSync(join(root, '.dev.vars'))) {
      throw new Error(
        'this test runs wrangler dev in the repository, where a .dev.vars would replace the secrets it ' +
          'gives the Worker (the README passes them in the environment instead): move .dev.vars aside',
      );
    }
    state = await mkdtemp(join(tmpdir(), 'dropgate-wrangler-dev-'));
    const [port, inspectorPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    // As the README: the secrets in the environment, which CLOUDFLARE_INCLUDE_PROCESS_ENV hands to both
    // Workers (--var would reach the first only); the S3 credentials are the companion's own [vars].
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CI: 'true',
      CLOUDFLARE_INCLUDE_PROCESS_ENV: 'true',
      DROPGATE_ADMIN_TOKEN: admin,
      DROPGATE_VENDOR_KEYS: `acme=${vendorKey}`,
      R2_ACCOUNT_ID: 'local',
      R2_ACCESS_KEY_ID: 'local',
      R2_SECRET_ACCESS_KEY: 'local-laptop-secret',
      R2_S3_ENDPOINT: `${base}/laptop/s3`,
    };
    dev = spawn(
      wrangler,
      [
        'dev',
        '-c',
        'app/worker/laptop/wrangler.toml',
        '-c',
        'wrangler.toml',
        '--persist-to',
        state,
        '--local',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--inspector-port',
        String(inspectorPort),
        '--show-interactive-dev-session=false',
      ],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const until = async <T>(what: string, read: () => Promise<T | undefined>): Promise<T> => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const value = await read().catch(() => undefined);
        if (value !== undefined) return value;
        if (dev!.exitCode !== null) throw new Error(`wrangler dev exited with ${dev!.exitCode}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`${what} within 90 s; wrangler dev said:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    await until('wrangler dev did not serve /healthz', async () =>
      (await fetch(`${base}/healthz`)).ok ? true : undefined,
    );
    const headers = { authorization: `Bearer ${admin}` };
    expect((await fetch(`${base}/admin/files`)).status).toBe(401);

    const grant = (await (
      await fetch(`${base}/v1/uploads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${vendorKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dataset: 'orders', filename: 'batch-1.csv' }),
      })
    ).json()) as { objectKey: string; uploadUrl: string; headers: Record<string, string> };
    expect(grant.uploadUrl.startsWith(`${base}/laptop/s3/dropgate-uploads/vendors/acme/orders/`)).toBe(true);
    const body = await readFile(join(root, 'test/fixtures/csv/bad-rows.csv'));
    // The content type is signed: another one is refused, as R2 refuses it; so is a tampered signature.
    const refused = await fetch(grant.uploadUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('SignatureDoesNotMatch');
    const tampered = grant.uploadUrl.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_, digit: string) => `X-Amz-Signature=${digit === '0' ? '1' : '0'}`,
    );
    expect((await fetch(tampered, { method: 'PUT', headers: grant.headers, body })).status).toBe(403);
    // A URL signed long ago is expired (checked before the signature, as R2 does), another key id unknown,
    // another bucket not served.
    const refusal = async (url: string) => {
      const response = await fetch(url, { method: 'PUT', headers: grant.headers, body });
      return `${response.status} ${await response.text()}`;
    };
    const signedAt = new URL(grant.uploadUrl).searchParams.get('X-Amz-Date')!;
    expect(await refusal(grant.uploadUrl.replace(signedAt, '20200101T000000Z'))).toMatch(
      /^403 .*<Code>AccessDenied<\/Code><Message>Request has expired/,
    );
    expect(
      await refusal(grant.uploadUrl.replace('X-Amz-Credential=local', 'X-Amz-Credential=other')),
    ).toMatch(/^403 .*<Code>InvalidAccessKeyId<\/Code>/);
    expect(await refusal(grant.uploadUrl.replace('/dropgate-uploads/', '/another-bucket/'))).toMatch(
      /^404 .*<Code>NoSuchBucket<\/Code>/,
    );
    const uploaded = await fetch(grant.uploadUrl, { method: 'PUT', headers: grant.headers, body });
    expect(uploaded.status).toBe(200);
    const key = grant.objectKey;

    const file = await until('the uploaded file was not ingested', async () => {
      const response = await fetch(`${base}/admin/files/${key}`, { headers });
      const record = response.ok ? ((await response.json()) as Record<string, unknown>) : undefined;
      return record?.state === 'ingested' ? record : undefined;
    });
    // bad-rows.csv: 11 rows, 3 valid, 8 rejected with their line numbers.
    expect(file).toMatchObject({ via: 'r2-queue' });
    expect((file.versions as unknown[])[0]).toMatchObject({
      state: 'ingested',
      rowsPublished: 3,
      rowsRejected: 8,
    });

    type Messages = { messages: Array<{ id: string; rownumber?: number; data: Record<string, unknown> }> };
    const events = (queue: string, count: number) =>
      until(`queue ${queue} did not deliver ${count} messages`, async () => {
        const { messages } = (await (await fetch(`${base}/laptop/events?queue=${queue}`)).json()) as Messages;
        return messages.length >= count ? messages : undefined;
      });
    const rows = await events('dropgate-orders', 3);
    expect(rows.map((event) => event.rownumber!).sort((a, b) => a - b)).toEqual([1, 7, 11]);
    expect(rows.find((event) => event.rownumber === 1)!.data).toMatchObject({
      order_id: 'R-1',
      currency: 'USD',
    });
    const dead = await events('dropgate-orders-dead-letter', 8);
    expect(dead.map((event) => event.data.line)).toContainEqual(5);
    const [summary] = await events('dropgate-files', 1);
    expect(summary!.data).toMatchObject({ objectKey: key, rowsPublished: 3, rowsRejected: 8 });

    // A notification sent again for the same object (POST /laptop/notify, as for an object put with
    // wrangler r2 object put) is a known duplicate: acknowledged, nothing published again.
    expect(
      (await fetch(`${base}/laptop/notify?key=${encodeURIComponent(key)}`, { method: 'POST' })).status,
    ).toBe(202);
    const replay = await fetch(`${base}/admin/replay`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ objectKey: key }),
    });
    expect(replay.status).toBe(202);
    await until('the replay did not publish the rows again', async () => {
      const { messages } = (await (
        await fetch(`${base}/laptop/events?queue=dropgate-orders`)
      ).json()) as Messages;
      return messages.length >= 6 ? true : undefined;
    });
    const metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    expect(metrics).toContain('dropgate_rows_total{dataset="orders",outcome="published"} 6');
  }, 180_000);
});
