/** `dropgate files` as an operator runs it: the load history from the ledger, as a table or JSON lines. */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRow } from '../../app/file-row.js';
import { BIN, buildDist, cleanEnvironment } from './support/child-gateway.js';
import { ordersFile } from './support/orders-csv.js';
import { makeTemporaryDirectory } from './support/test-gateway.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let directory: string;

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: directory, env: cleanEnvironment() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonLines = (result: CliResult) =>
  result.stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as FileRow);

const KEYS = {
  withErrors: 'vendors/acme/orders/with-errors.csv',
  rejected: 'vendors/acme/orders/no-sku.csv',
};

beforeAll(async () => {
  // The command runs the compiled CLI: build it from the current sources.
  buildDist();
  directory = await makeTemporaryDirectory('dropgate-cli-files-');
  const bucket = join(directory, '.dropgate', 'bucket');
  await mkdir(join(bucket, 'vendors', 'acme', 'orders'), { recursive: true });
  await writeFile(join(bucket, KEYS.withErrors), ordersFile(12, 5).csv);
  await writeFile(join(bucket, KEYS.rejected), 'order_id,customer_id\nORD-1,CUST-1\n');
  const backfill = await runCli(['backfill']);
  expect(backfill.code, backfill.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('dropgate files', () => {
  it('prints a table with counts and the first error by line', async () => {
    const result = await runCli(['files']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    // Both were first seen by one backfill, maybe within a millisecond: their order is not asserted here.
    const [rejected, withErrors] = [KEYS.rejected, KEYS.withErrors].map((key) =>
      lines.find((line) => line.startsWith(`${key} `)),
    );
    expect(lines[0]).toMatch(
      /^KEY +VERSION +DATASET +STATE +READ +PUBLISHED +REJECTED +FIRST SEEN +DURATION +FIRST ERROR$/,
    );
    expect(rejected).toMatch(new RegExp(`^${KEYS.rejected} .* rejected +0 +0 +0 .*FILE_UNREADABLE: `));
    expect(withErrors).toMatch(
      new RegExp(`^${KEYS.withErrors} .* ingested +12 +10 +2 .* line 6 quantity: .+ \\(\\+1 more\\)$`),
    );
    expect(lines[3]).toBe('2 file version(s)');
  }, 60_000);

  it('prints JSON lines, the rows of GET /admin/files, filtered by state', async () => {
    const result = await runCli(['files', '--json', '--state', 'ingested']);
    expect(result.code, result.stderr).toBe(0);
    const rows = jsonLines(result);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      key: KEYS.withErrors,
      state: 'ingested',
      via: 'backfill',
      rowsRead: 12,
      rowsPublished: 10,
      rowsRejected: 2,
      firstErrors: [
        { row: 5, line: 6, field: 'quantity' },
        { row: 10, line: 11, field: 'quantity' },
      ],
    });
  }, 60_000);

  it('filters by prefix, and stops at --limit saying more match', async () => {
    const filtered = jsonLines(await runCli(['files', '--json', '--prefix', 'vendors/acme/orders/no-']));
    expect(filtered.map((row) => row.key)).toEqual([KEYS.rejected]);
    const limited = await runCli(['files', '--limit', '1']);
    expect(limited.code, limited.stderr).toBe(0);
    const lines = limited.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('1 file version(s); more match: raise --limit (1)');
  }, 60_000);

  // Each filter's checks are the API's (admin-files.error.test.ts); this is how the command reports one.
  it('exits 64 naming the option of a bad filter', async () => {
    const result = await runCli(['files', '--state', 'done']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(
      '--state: must be one of pending, processing, ingested, rejected, failed',
    );
    expect(result.stdout).toBe('');
  }, 60_000);
});
