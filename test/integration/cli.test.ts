/** The `dropgate` command as a user runs it: `node bin/dropgate.js ...` in a fresh directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { idCounts, readTopic, type FileSummaryData } from './support/events.js';
import { ORDERS_HEADER, orderData, orderLine, ordersFile } from './support/orders-csv.js';
import { BIN, PACKAGE_ROOT, buildDist, cleanEnvironment } from './support/child-gateway.js';
import { makeTemporaryDirectory } from './support/test-gateway.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { CONTROL_SCHEMAS } from '../../schemas/control-schemas.js';
import type { RowSchema } from '../../schemas/dataset.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnvironment(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one JSON line `ingest` and `replay` print. */
function summaryLine(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.split('\n').filter((line) => line.length > 0);
  expect(lines, result.stdout + result.stderr).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

// The command runs the compiled CLI: build it from the current sources.
beforeAll(buildDist);

let directory: string;

beforeEach(async () => {
  directory = await makeTemporaryDirectory('dropgate-cli-');
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const dataDir = () => join(directory, '.dropgate');

describe('dropgate ingest', () => {
  // One file through four runs, each a node process: ingested, a duplicate, forced, changed.
  it('publishes a local file with one JSON summary line; unchanged it is a duplicate, forced it keeps its ids, changed it is ingested again', async () => {
    const { csv, goodRows, badRows } = ordersFile(12, 5);
    const path = join(directory, 'orders.csv');
    await writeFile(path, csv);

    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory);

    expect(result.code, result.stderr).toBe(0);
    expect(summaryLine(result)).toEqual({
      objectKey: path.slice(1),
      dataset: 'orders',
      schemaVersion: 2,
      rowsRead: 12,
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
      state: 'ingested',
    });
    expect(result.stderr).toBe('');
    const events = await readTopic(dataDir(), 'orders');
    expect(events.map((event) => event.data)).toEqual(goodRows.map(orderData));
    const deadLetters = await readTopic<{ row: number; line: number }>(dataDir(), 'orders.dead-letter');
    expect(deadLetters.map((event) => [event.data.row, event.data.line])).toEqual([
      [5, 6],
      [10, 11],
    ]);

    const second = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryLine(second)).toMatchObject({
      objectKey: path.slice(1),
      state: 'duplicate',
      rowsRead: 12,
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
    });
    expect(await readTopic(dataDir(), 'orders')).toHaveLength(goodRows.length);

    const forced = await runCli(['ingest', 'orders.csv', '--dataset', 'orders', '--force'], directory);
    expect(forced.code, forced.stderr).toBe(0);
    expect(summaryLine(forced)).toMatchObject({ state: 'ingested', rowsPublished: goodRows.length });
    const counts = idCounts(await readTopic(dataDir(), 'orders'));
    expect(counts.size).toBe(goodRows.length);
    expect([...counts.values()].every((count) => count === 2)).toBe(true);

    await writeFile(path, ordersFile(3).csv);
    const changed = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory);
    expect(summaryLine(changed)).toMatchObject({ state: 'ingested', rowsPublished: 3 });
    // The four cases it replaces had 30 s each.
  }, 120_000);

  it('accepts an absolute path and a gzip file', async () => {
    const { gzipSync } = await import('node:zlib');
    const path = join(directory, 'orders.csv.gz');
    await writeFile(path, gzipSync(ordersFile(4).csv));

    const result = await runCli(['ingest', path, '--dataset', 'orders'], directory);

    expect(result.code, result.stderr).toBe(0);
    expect(summaryLine(result)).toMatchObject({
      objectKey: path.slice(1),
      state: 'ingested',
      rowsPublished: 4,
    });
  });

  it('rejects a file missing a required column, exiting non-zero', async () => {
    const header = ORDERS_HEADER.replace(',currency', '');
    const row = orderLine(1).replace(',EUR', '');
    await writeFile(join(directory, 'orders.csv'), `${header}\n${row}\n`);

    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory);

    expect(result.code).not.toBe(0);
    expect(result.code).not.toBe(1);
    const line = summaryLine(result);
    expect(line).toMatchObject({ state: 'rejected', dataset: 'orders', rowsPublished: 0 });
    expect((line.error as { message: string }).message).toContain('currency');
    expect(await readTopic(dataDir(), 'orders')).toEqual([]);
    const summaries = await readTopic(dataDir(), 'dropgate.files');
    expect(summaries.map((summary) => summary.type)).toEqual(['FileRejected']);
  });

  it('fails with a message for a file that does not exist or a dataset that does not', async () => {
    const missing = await runCli(['ingest', 'nope.csv', '--dataset', 'orders'], directory);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(directory, 'nope.csv'));

    await writeFile(join(directory, 'orders.csv'), ordersFile(1).csv);
    const unknown = await runCli(['ingest', 'orders.csv', '--dataset', 'invoices'], directory);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('invoices');
    expect(unknown.stderr).toContain('orders');
  });

  it('names an unknown option and prints usage, exit 64, without a stack trace', async () => {
    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders', '--frobnicate'], directory);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("'--frobnicate'");
    expect(result.stderr).toContain('usage:');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints usage and exits 64 without a dataset', async () => {
    const result = await runCli(['ingest', 'orders.csv'], directory);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('usage:');
    expect(result.stdout).toBe('');
  });
});

describe('dropgate replay', () => {
  const key = 'vendors/acme/orders/x.csv';

  beforeEach(async () => {
    const path = join(dataDir(), 'bucket', ...key.split('/'));
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, ordersFile(5, 5).csv);
  });

  it('ingests an object in the bucket, and again under the same ids each time it is run', async () => {
    const first = await runCli(['replay', key], directory);
    expect(first.code, first.stderr).toBe(0);
    expect(summaryLine(first)).toEqual({
      objectKey: key,
      dataset: 'orders',
      schemaVersion: 2,
      rowsRead: 5,
      rowsPublished: 4,
      rowsRejected: 1,
      state: 'ingested',
    });

    const second = await runCli(['replay', key], directory);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryLine(second)).toMatchObject({ state: 'ingested', rowsPublished: 4 });

    const events = await readTopic(dataDir(), 'orders');
    expect(events.every((event) => event.subject === key)).toBe(true);
    const counts = idCounts(events);
    expect(counts.size).toBe(4);
    expect([...counts.values()].every((count) => count === 2)).toBe(true);
    const summaries = await readTopic<FileSummaryData>(dataDir(), 'dropgate.files');
    expect(summaries).toHaveLength(2);
    expect(summaries[0]!.id).not.toBe(summaries[1]!.id);
  });

  it('fails for a key no dataset covers', async () => {
    const result = await runCli(['replay', 'vendors/acme/invoices/x.csv'], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('vendors/acme/invoices/x.csv');
  });

  it('reports a key the bucket does not hold as missing, exiting 4', async () => {
    const result = await runCli(['replay', 'vendors/acme/orders/gone.csv'], directory);
    expect(result.code).toBe(4);
    expect(summaryLine(result)).toMatchObject({
      objectKey: 'vendors/acme/orders/gone.csv',
      state: 'missing',
    });
  });
});

describe('dropgate replay --prefix', () => {
  beforeEach(async () => {
    for (const name of ['a.csv', 'b.csv']) {
      const path = join(dataDir(), 'bucket', 'vendors', 'acme', 'orders', name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, ordersFile(3).csv);
    }
  });

  it('says what it would replay with --dry-run, then ingests every object under the prefix', async () => {
    const dry = await runCli(['replay', '--prefix', 'vendors/acme/', '--dry-run'], directory);
    expect(dry.code, dry.stderr).toBe(0);
    expect(summaryLine(dry)).toEqual({
      prefix: 'vendors/acme/',
      dryRun: true,
      scanned: 2,
      matched: 2,
      replayed: 0,
      new: 2,
      skipped: { noDataset: 0, outsideRange: 0, inProgress: 0 },
    });
    expect(await readTopic(dataDir(), 'dropgate.files')).toHaveLength(0);

    const first = await runCli(['replay', '--prefix', 'vendors/acme/'], directory);
    expect(summaryLine(first)).toMatchObject({ dryRun: false, new: 2, replayed: 0 });
    const second = await runCli(
      [
        'replay',
        '--prefix',
        'vendors/',
        '--since',
        '2000-01-01T00:00:00Z',
        '--until',
        '2999-01-01T00:00:00Z',
      ],
      directory,
    );
    expect(second.code, second.stderr).toBe(0);
    expect(summaryLine(second)).toMatchObject({ new: 0, replayed: 2 });
    const summaries = await readTopic<FileSummaryData>(dataDir(), 'dropgate.files');
    expect(summaries.map((summary) => [summary.data.objectKey, summary.data.replay]).sort()).toEqual([
      ['vendors/acme/orders/a.csv', 0],
      ['vendors/acme/orders/a.csv', 1],
      ['vendors/acme/orders/b.csv', 0],
      ['vendors/acme/orders/b.csv', 1],
    ]);
  });

  it('refuses a key and --prefix together, and a range that ends before it starts', async () => {
    const both = await runCli(['replay', 'vendors/acme/orders/a.csv', '--prefix', 'vendors/'], directory);
    expect(both.code).toBe(64);
    expect(both.stderr).toContain('not both');
    const backwards = await runCli(
      ['replay', '--prefix', '', '--since', '2024-02-01T00:00:00Z', '--until', '2024-01-01T00:00:00Z'],
      directory,
    );
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toContain('must be before until');
    expect(await readTopic(dataDir(), 'dropgate.files')).toHaveLength(0);
  });
});

describe('dropgate backfill', () => {
  beforeEach(async () => {
    for (const name of ['a.csv', 'b.csv']) {
      const path = join(dataDir(), 'bucket', 'vendors', 'acme', 'orders', name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, ordersFile(4).csv);
    }
  });

  it('says what it would record with --dry-run, then records and ingests each object once', async () => {
    const dry = await runCli(['backfill', '--prefix', 'vendors/', '--dry-run'], directory);
    expect(dry.code, dry.stderr).toBe(0);
    expect(summaryLine(dry)).toEqual({
      prefix: 'vendors/',
      dryRun: true,
      scanned: 2,
      recorded: 2,
      known: 0,
      unmatched: 0,
      older: 0,
    });
    expect(await readTopic(dataDir(), 'dropgate.files')).toHaveLength(0);

    const real = await runCli(['backfill'], directory);
    expect(real.code, real.stderr).toBe(0);
    expect(summaryLine(real)).toMatchObject({ dryRun: false, scanned: 2, recorded: 2 });
    const summaries = await readTopic<FileSummaryData>(dataDir(), 'dropgate.files');
    expect(summaries.map((summary) => summary.data.objectKey).sort()).toEqual([
      'vendors/acme/orders/a.csv',
      'vendors/acme/orders/b.csv',
    ]);

    const again = await runCli(['backfill'], directory);
    expect(summaryLine(again)).toMatchObject({ recorded: 0, known: 2 });
    expect(await readTopic(dataDir(), 'dropgate.files')).toHaveLength(2);
  });

  it('names a --since that is not a date-time, exiting 1', async () => {
    const result = await runCli(['backfill', '--since', 'last week'], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('since: last week is not an RFC 3339 date-time');
  });
});

describe('configuration', () => {
  const ordersDataset = {
    name: 'orders',
    match: 'vendors/*/orders/**',
    schema: join(PACKAGE_ROOT, 'schemas/orders/v1.json'),
    eventType: 'OrderReceived',
    topic: 'orders',
    deadLetterTopic: 'orders.dead-letter',
  };

  const ingestWith = async (config: Record<string, unknown>, rows = 1) => {
    await writeFile(join(directory, 'dropgate.config.json'), JSON.stringify(config));
    await writeFile(join(directory, 'orders.csv'), ordersFile(rows).csv);
    return runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory);
  };

  // 15,000 rows: over the 1 MiB from which a CSV file is parsed on threads.
  it.each([0, 1, 3])(
    'ingests a file of 15,000 rows with ingestThreads %i, the adapters chosen explicitly as the embedded defaults',
    async (threads) => {
      const result = await ingestWith(
        {
          store: { type: 'local' },
          sink: { type: 'local' },
          ledger: { type: 'local' },
          intake: [{ type: 'local-upload', mode: 'inline' }],
          ingestThreads: threads,
          datasets: [ordersDataset],
        },
        15_000,
      );
      expect(result.stderr).toBe('');
      expect(summaryLine(result)).toMatchObject({
        rowsRead: 15_000,
        rowsPublished: 15_000,
        state: 'ingested',
      });
    },
  );

  it('names the field of a bad config file and exits 1', async () => {
    const result = await ingestWith({ datasets: [{ ...ordersDataset, topic: 'my orders' }] });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('datasets.0.topic');
    expect(result.stderr).toContain(join(directory, 'dropgate.config.json'));
    expect(result.stdout).toBe('');
  });

  it('refuses one API key given to two vendors, naming both and not the key', async () => {
    await writeFile(join(directory, 'orders.csv'), ordersFile(1).csv);
    const key = 'shared-key-0123456789abcdef';
    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory, {
      DROPGATE_VENDOR_KEYS: `acme=${key},globex=${key}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DROPGATE_VENDOR_KEYS');
    expect(result.stderr).toContain('vendors acme and globex');
    expect(result.stderr).not.toContain(key);
  });

  it('names a bad environment variable', async () => {
    await writeFile(join(directory, 'orders.csv'), ordersFile(1).csv);
    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory, {
      DROPGATE_ADMIN_TOKEN: 'short',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DROPGATE_ADMIN_TOKEN');
  });

  it('resolves --config’s relative schema and data paths from the config file’s directory', async () => {
    await mkdir(join(directory, 'conf/schemas/returns'), { recursive: true });
    await writeFile(
      join(directory, 'conf/schemas/returns/v2.json'),
      JSON.stringify({
        type: 'object',
        required: ['return_id', 'quantity'],
        properties: { return_id: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } },
        additionalProperties: false,
      }),
    );
    await writeFile(
      join(directory, 'conf/custom.json'),
      JSON.stringify({
        dataDir: 'state',
        datasets: [
          {
            name: 'returns',
            match: 'returns/**',
            schema: 'schemas/returns/v2.json',
            eventType: 'ReturnReceived',
            topic: 'returns',
            deadLetterTopic: 'returns.rejected',
          },
        ],
      }),
    );
    await writeFile(join(directory, 'returns.csv'), 'return_id,quantity\nR-1,2\nR-2,0\n');

    const result = await runCli(
      ['ingest', 'returns.csv', '--dataset', 'returns', '--config', 'conf/custom.json'],
      directory,
    );

    expect(result.code, result.stderr).toBe(0);
    expect(summaryLine(result)).toMatchObject({
      dataset: 'returns',
      schemaVersion: 2,
      rowsRead: 2,
      rowsPublished: 1,
      rowsRejected: 1,
      state: 'ingested',
    });
    const events = await readTopic(join(directory, 'conf/state'), 'returns');
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['ReturnReceived', { return_id: 'R-1', quantity: 2 }],
    ]);
    expect(await readTopic(join(directory, 'conf/state'), 'returns.rejected')).toHaveLength(1);
  });

  it('reads the config named by DROPGATE_CONFIG', async () => {
    await mkdir(join(directory, 'elsewhere'));
    await writeFile(
      join(directory, 'elsewhere/dropgate.json'),
      JSON.stringify({ dataDir: 'data', datasets: [{ ...ordersDataset, topic: 'orders.v1' }] }),
    );
    await writeFile(join(directory, 'orders.csv'), ordersFile(2).csv);

    const result = await runCli(['ingest', 'orders.csv', '--dataset', 'orders'], directory, {
      DROPGATE_CONFIG: 'elsewhere/dropgate.json',
    });

    expect(result.code, result.stderr).toBe(0);
    expect(await readTopic(join(directory, 'elsewhere/data'), 'orders.v1')).toHaveLength(2);
  });
});

describe('dropgate serve', () => {
  let server: ChildProcess | undefined;

  afterAll(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
  });

  /** Resolves with everything printed once `pattern` has appeared on stdout. */
  function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${output}`)), timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (pattern.test(output)) {
          clearTimeout(timer);
          resolve(output);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${output}`)));
    });
  }

  it('prints its URL and local credentials, serves uploads, and stops on SIGTERM', async () => {
    server = spawn(process.execPath, [BIN, 'serve'], {
      cwd: directory,
      env: cleanEnvironment({ PORT: '0' }),
    });
    let stdout = '';
    server.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const banner = await waitForOutput(server, /admin token \(local use\): \S+\n/);

    const url = /listening on (http:\/\/\S+)/.exec(banner)?.[1];
    const vendorKey = /vendor "acme" API key \(local use\): (\S+)/.exec(banner)?.[1];
    const adminToken = /admin token \(local use\): (\S+)/.exec(banner)?.[1];
    // Credentials it made up itself: it serves this machine only.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe('http://127.0.0.1:0');
    expect(banner).toContain(`data directory: ${dataDir()}`);
    expect(vendorKey).toBeDefined();
    expect(adminToken).toBeDefined();

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    // A vendor uploads with the printed key; the operator watches with the printed token.
    const grantResponse = await fetch(`${url}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${vendorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'orders', filename: 'orders.csv' }),
    });
    expect(grantResponse.status).toBe(201);
    const grant = (await grantResponse.json()) as {
      objectKey: string;
      uploadUrl: string;
      headers: Record<string, string>;
    };
    const put = await fetch(grant.uploadUrl, {
      method: 'PUT',
      headers: grant.headers,
      body: ordersFile(7).csv,
    });
    expect(put.status).toBe(201);
    let state: unknown;
    for (let attempt = 0; attempt < 100 && state !== 'ingested'; attempt++) {
      const status = await fetch(`${url}/admin/files/${grant.objectKey}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      state = status.status === 200 ? ((await status.json()) as { state: string }).state : undefined;
      if (state !== 'ingested') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(state).toBe('ingested');

    const exited = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000)),
    ]);
    expect(code, stderr).toBe(0);

    // The JSON log lines on stdout never carry the credentials or the upload URL's signature.
    const logLines = stdout.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    const signature = new URL(grant.uploadUrl).searchParams.get('signature')!;
    for (const secret of [vendorKey!, adminToken!, signature]) {
      expect(logLines.join('\n')).not.toContain(secret);
    }

    // With the server stopped, the operator replays the served upload from the command line.
    const replay = await runCli(['replay', grant.objectKey], directory);
    expect(replay.code, replay.stderr).toBe(0);
    expect(summaryLine(replay)).toMatchObject({
      objectKey: grant.objectKey,
      state: 'ingested',
      rowsPublished: 7,
    });
    const counts = idCounts(await readTopic(dataDir(), 'orders'));
    expect(counts.size).toBe(7);
    expect([...counts.values()].every((count) => count === 2)).toBe(true);
  });

  // Three serve processes in one case: one holding the data directory, one refused, one restarted.
  it('exits non-zero at once, naming the holder, while the data directory is in use, and keeps the generated credentials across restarts', async () => {
    const start = async () => {
      const child = spawn(process.execPath, [BIN, 'serve'], {
        cwd: directory,
        env: cleanEnvironment({ PORT: '0' }),
      });
      server = child;
      const banner = await waitForOutput(child, /admin token \(local use\): \S+\n/);
      const credentials = /API key \(local use\): (\S+)[\s\S]*admin token \(local use\): (\S+)/
        .exec(banner)!
        .slice(1);
      return { child, credentials };
    };
    const stop = async (child: ChildProcess) => {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    };

    const first = await start();
    try {
      const second = await runCli(['serve'], directory, { PORT: '0' });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`pid ${first.child.pid}`);
      expect(second.stdout).not.toContain('listening');
    } finally {
      await stop(first.child);
    }
    const restarted = await start();
    await stop(restarted.child);
    expect(restarted.credentials).toEqual(first.credentials);
    // The two cases it replaces had 30 s each.
  }, 60_000);
});

describe('dropgate schemas check', () => {
  /** Dropgate's own event schemas are checked with every config's datasets. */
  const CONTROL_VERDICTS = [
    '_dropgate/file-summary (v1) under FULL_TRANSITIVE: compatible',
    '_dropgate/dead-letter (v1) under FULL_TRANSITIVE: compatible',
  ];
  const ordersFrom = (schema: string, compatibility?: string) => ({
    datasets: [
      {
        name: 'orders',
        match: 'vendors/*/orders/**',
        schema,
        ...(compatibility ? { compatibility } : {}),
        eventType: 'OrderReceived',
        topic: 'orders',
        deadLetterTopic: 'orders.dead-letter',
      },
    ],
  });

  it('passes the repository’s orders v1 -> v2 (an added optional column) under BACKWARD', async () => {
    await writeFile(
      join(directory, 'dropgate.config.json'),
      JSON.stringify(ordersFrom(join(PACKAGE_ROOT, 'schemas/orders'))),
    );
    const result = await runCli(['schemas', 'check'], directory);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      ['orders (v1, v2) under BACKWARD: compatible', ...CONTROL_VERDICTS, ''].join('\n'),
    );
  });

  it('refuses an event type not named in the past tense, naming the field', async () => {
    const config = ordersFrom(join(PACKAGE_ROOT, 'schemas/orders'));
    config.datasets[0]!.eventType = 'ReceiveOrder';
    await writeFile(join(directory, 'dropgate.config.json'), JSON.stringify(config));
    const result = await runCli(['schemas', 'check'], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'datasets.0.eventType: "ReceiveOrder" is not named in the past tense ("Order")',
    );
  });

  it('fails a breaking v3 with findings naming dataset, versions, pointer and rule, exiting 1', async () => {
    await mkdir(join(directory, 'orders'));
    for (const [from, to] of [
      [join(PACKAGE_ROOT, 'schemas/orders/v1.json'), 'v1.json'],
      [join(PACKAGE_ROOT, 'schemas/orders/v2.json'), 'v2.json'],
      [join(PACKAGE_ROOT, 'test/fixtures/schemas/orders/v3.json'), 'v3.json'],
    ] as const) {
      await writeFile(join(directory, 'orders', to), await readFile(from));
    }
    await writeFile(join(directory, 'dropgate.config.json'), JSON.stringify(ordersFrom('orders')));

    const result = await runCli(['schemas', 'check'], directory);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      'orders (v1, v2, v3) under BACKWARD: 2 breaking change(s)',
      '  orders v2 -> v3 breaks BACKWARD: consumers on v3 cannot read every v2 event: /required ' +
        '[required-field-added] v3 requires channel (with no default), in v2 it is optional',
      '  orders v2 -> v3 breaks BACKWARD: consumers on v3 cannot read every v2 event: /properties/note ' +
        '[removed-field] note is in v2 but not in v3, which allows no other properties (removed or renamed)',
      ...CONTROL_VERDICTS,
      '',
    ]);
  });

  it('holds each dataset to its own mode: FORWARD refuses v2’s added column (v1 consumers allow no other)', async () => {
    await writeFile(
      join(directory, 'dropgate.config.json'),
      JSON.stringify(ordersFrom(join(PACKAGE_ROOT, 'schemas/orders'), 'FORWARD')),
    );
    const result = await runCli(['schemas', 'check'], directory);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'orders v1 -> v2 breaks FORWARD: consumers on v1 cannot read every v2 event: /properties/channel [additional-properties]',
    );
  });
});

describe('dropgate catalog', () => {
  /** The JSON of each example event: Markdown's blocks after "Example event:", the HTML's example blocks. */
  const markdownExamples = (markdown: string) =>
    [...markdown.matchAll(/Example event:\n\n```json\n([\s\S]*?)\n```/g)].map((match) =>
      JSON.parse(match[1]!),
    );
  const htmlExamples = (html: string) =>
    [...html.matchAll(/<pre class="example"[^>]*><code>([\s\S]*?)<\/code><\/pre>/g)].map((match) =>
      JSON.parse(
        match[1]!
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&'),
      ),
    );

  // One CLI run (about 3 s of CPU) and two dozen schema compilations: on a loaded machine that passes 30 s.
  it(
    'writes Markdown and one self-contained HTML page: every event type, version, diff, topic, owner and a valid example',
    { timeout: 90_000 },
    async () => {
      await mkdir(join(directory, 'orders'));
      for (const [from, to] of [
        ['schemas/orders/v1.json', 'v1.json'],
        ['schemas/orders/v2.json', 'v2.json'],
        ['test/fixtures/schemas/orders/v3.json', 'v3.json'],
      ] as const) {
        await writeFile(join(directory, 'orders', to), await readFile(join(PACKAGE_ROOT, from)));
      }
      await writeFile(
        join(directory, 'dropgate.config.json'),
        JSON.stringify({
          controlTopic: 'files.control',
          schemaBaseUrl: 'https://dropgate.example.com/schemas',
          datasets: [
            {
              name: 'orders',
              match: 'vendors/*/orders/**',
              schema: 'orders',
              owner: 'order-platform@example.com',
              eventType: 'OrderReceived',
              topic: 'orders.events',
              deadLetterTopic: 'orders.rejected',
            },
          ],
        }),
      );

      const result = await runCli(['catalog', '--out', 'site'], directory);

      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      const markdown = await readFile(join(directory, 'site/event-catalog.md'), 'utf8');
      const html = await readFile(join(directory, 'site/event-catalog.html'), 'utf8');
      for (const text of [markdown, html]) {
        for (const heading of [
          'OrderReceived v1',
          'OrderReceived v2',
          'OrderReceived v3',
          'FileIngested v1',
        ]) {
          expect(text).toContain(heading);
        }
        expect(text).toContain('FileRejected v1');
        expect(text).toContain('RowRejected v1');
        expect(text).toContain('+ channel: optional, type [');
        expect(text).toContain('- note: optional');
        const arrow = text === html ? '-&gt;' : '->';
        expect(text).toContain(`~ channel: optional ${arrow} required`);
        expect(text).toContain(`orders v2 ${arrow} v3 breaks BACKWARD`);
        for (const topic of [
          'orders.events',
          'orders.rejected',
          'files.control',
          'order-platform@example.com',
        ]) {
          expect(text).toContain(topic);
        }
      }
      // Self-contained: nothing is fetched from elsewhere.
      expect(html).not.toMatch(/<(script|link|img)\b|@import|url\(/);

      const compile = createAjvValidatorFactory();
      const schemaOf = async (event: { dataschema: string }) => {
        const path = event.dataschema.replace('https://dropgate.example.com/schemas/', '');
        const [, name, version] = /^(_dropgate\/[a-z-]+|[a-z]+)\/v(\d+)$/.exec(path)!;
        if (name!.startsWith('_dropgate/')) {
          return CONTROL_SCHEMAS.find((schema) => `_dropgate/${schema.name}` === name)!.versions.get(
            Number(version),
          )!;
        }
        return JSON.parse(await readFile(join(directory, name!, `v${version}.json`), 'utf8')) as RowSchema;
      };
      for (const examples of [markdownExamples(markdown), htmlExamples(html)]) {
        expect(examples.map((event) => `${event.type} v${event.dataschema.split('/v').at(-1)}`)).toEqual([
          'OrderReceived v1',
          'OrderReceived v2',
          'OrderReceived v3',
          'FileIngested v1',
          'FileRejected v1',
          'RowRejected v1',
        ]);
        for (const event of examples) {
          expect(event).toMatchObject({
            specversion: '1.0',
            datacontenttype: 'application/json',
            dataset: 'orders',
          });
          expect(event.subject).toMatch(/^vendors\/acme\/orders\//);
          const validate = compile(await schemaOf(event), event.dataschema);
          expect(validate(event.data), JSON.stringify(event)).toBeNull();
        }
      }
    },
  );
});
