/**
 * The container image's start command, run as the image runs it: its CMD from the Dockerfile under the
 * Node it ships (22), since no Docker daemon runs on these machines. It ingests a file, and on SIGTERM
 * (Cloud Run's stop, with 10 s of grace) it exits cleanly within the grace, leaving a checkpoint the next
 * start resumes from, each row once.
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { node22 } from '../support/node-22.js';
import { BIN, PACKAGE_ROOT, buildDist, serveChild, stopChildGateways } from './support/child-gateway.js';
import { ledgerRecord, lineAfter, waitFor } from './support/data-dir.js';
import { idCounts, readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import { makeTemporaryDirectory, upload } from './support/test-gateway.js';

let startCommand: [string, ...string[]];

beforeAll(async () => {
  buildDist();
  const dockerfile = await readFile(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
  const cmd = [...dockerfile.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1];
  expect(cmd, 'the Dockerfile has an exec-form CMD').toBeDefined();
  const [program, ...args] = JSON.parse(cmd!) as string[];
  expect(program).toBe('node');
  expect(args.slice(-2)).toEqual(['bin/dropgate.js', 'serve']);
  // The image's WORKDIR is the package: its relative path is the package's bin here.
  startCommand = [node22(), ...args.map((arg) => (arg === 'bin/dropgate.js' ? BIN : arg))];
}, 180_000);

const directories: string[] = [];
afterEach(async () => {
  await stopChildGateways();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function temporaryDirectory() {
  const directory = await makeTemporaryDirectory('dropgate-node-22-');
  directories.push(directory);
  return directory;
}

describe('the image start command under Node 22', () => {
  it('runs on Node 22 and ingests a file', async () => {
    const version = spawnSync(startCommand[0], ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(version).toMatch(/^v22\./);
    const directory = await temporaryDirectory();
    const gateway = await serveChild(directory, startCommand);
    const { csv, goodRows, badRows } = ordersFile(5_000, 50);
    await upload(gateway, 'node-22.csv', csv);
    const dataDir = join(directory, '.dropgate');
    const summary = await waitFor('the file summary', async () => {
      const [first] = await readTopic<FileSummaryData>(dataDir, 'dropgate.files');
      return first;
    });
    expect(summary.data).toMatchObject({
      state: 'ingested',
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
    });
    expect(idCounts(await readTopic(dataDir, 'orders')).size).toBe(goodRows.length);
  });

  it('stops within Cloud Run’s 10 s grace on SIGTERM mid-file, and the next start finishes it', async () => {
    const directory = await temporaryDirectory();
    const dataDir = join(directory, '.dropgate');
    const first = await serveChild(directory, startCommand);
    const { csv, goodRows } = ordersFile(300_000);
    await upload(first, 'sigterm.csv', csv);
    await waitFor('the first event', async () =>
      (await lineAfter(join(dataDir, 'events', 'orders.ndjson'), 0)) ? true : undefined,
    );
    const stopped = Date.now();
    const exited = new Promise<number | null>((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopMs = Date.now() - stopped;
    expect(stopMs).toBeLessThan(10_000);
    const left = await ledgerRecord(dataDir);
    expect(left?.state, 'the file finished before SIGTERM reached it').not.toBe('ingested');

    const second = await serveChild(directory, startCommand);
    await waitFor(
      'the file summary',
      async () => (await readTopic<FileSummaryData>(dataDir, 'dropgate.files'))[0],
      60_000,
    );
    const summaries = await readTopic<FileSummaryData>(dataDir, 'dropgate.files');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.data).toMatchObject({ state: 'ingested', rowsPublished: goodRows.length });
    const ids = idCounts(await readTopic(dataDir, 'orders'));
    expect(ids.size).toBe(goodRows.length);
    expect(second.output()).toContain('resuming unfinished file');
  });
});
