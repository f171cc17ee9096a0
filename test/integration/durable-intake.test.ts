/**
 * An upload answered 201 is never lost: its landing is in the ledger before the answer, so a gateway
 * stopped (cleanly, or with `kill -9`) right after the 201s ingests every file once restarted, each
 * exactly once; and a file cut off mid-way resumes from its checkpoint within seconds of the restart,
 * not after the dead process's lease runs out.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { idCounts, readTopic, type FileSummaryData } from './support/events.js';
import { ledgerRecord, lineAfter, sleep, waitFor } from './support/data-dir.js';
import { ordersFile } from './support/orders-csv.js';
import { buildDist, killHard, serveChild, stopChildGateways } from './support/child-gateway.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  loadTestConfig,
  makeTemporaryDirectory,
  putUpload,
  startIn,
  type UploadGrant,
} from './support/test-gateway.js';

const FILES = 8;
const ROWS = 3_000;

// The child gateways run the compiled code: build it from the current sources.
beforeAll(buildDist);

const directories: string[] = [];
afterEach(async () => {
  await stopChildGateways();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function temporaryDirectory(): Promise<string> {
  const directory = await makeTemporaryDirectory('dropgate-durable-');
  directories.push(directory);
  return directory;
}

/** A gateway's base URL and how to reach it, in-process or as a child process. */
interface Endpoint {
  url: string;
}

async function grantAndPut(endpoint: Endpoint, filename: string, csv: string) {
  const response = await fetch(`${endpoint.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${VENDOR_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ dataset: 'orders', filename }),
  });
  expect(response.status).toBe(201);
  const grant = (await response.json()) as UploadGrant;
  const stored = await putUpload(grant, csv);
  expect(stored.status, JSON.stringify(stored.body)).toBe(201);
  expect(stored.body).toMatchObject({ ingestion: 'pending' });
  return grant.objectKey;
}

/** Uploads FILES files at once and resolves with their keys once every upload was answered 201. */
async function uploadMany(endpoint: Endpoint): Promise<string[]> {
  const { csv } = ordersFile(ROWS, 50);
  return Promise.all(
    Array.from({ length: FILES }, (_, index) => grantAndPut(endpoint, `batch-${index}.csv`, csv)),
  );
}

async function fileState(endpoint: Endpoint, key: string) {
  const response = await fetch(`${endpoint.url}/admin/files/${key}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined;
}

async function waitUntilIngested(endpoint: Endpoint, keys: string[], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (const key of keys) {
    for (;;) {
      const record = await fileState(endpoint, key);
      if (record?.state === 'ingested') break;
      if (Date.now() > deadline) throw new Error(`${key} is ${JSON.stringify(record)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Every file's rows are out once by id, and each file was summarized exactly once. */
async function expectEachIngestedOnce(dataDir: string, keys: string[]) {
  const { goodRows, badRows } = ordersFile(ROWS, 50);
  const events = await readTopic(dataDir, 'orders');
  const ids = idCounts(events);
  for (const key of keys) {
    expect(new Set(events.filter((event) => event.subject === key).map((event) => event.id)).size).toBe(
      goodRows.length,
    );
  }
  expect(ids.size).toBe(keys.length * goodRows.length);
  const summaries = await readTopic<FileSummaryData>(dataDir, 'dropgate.files');
  expect(summaries.map((summary) => summary.subject).sort()).toEqual([...keys].sort());
  for (const summary of summaries) {
    expect(summary.data).toMatchObject({
      state: 'ingested',
      rowsPublished: goodRows.length,
      rowsRejected: badRows.length,
    });
  }
}

describe('uploads answered 201 survive the gateway stopping', () => {
  it('are all ingested, exactly once each, after a clean stop right after the 201s', async () => {
    const directory = await temporaryDirectory();
    const config = await loadTestConfig(directory);
    const first = await startIn(directory, config);
    const keys = await uploadMany(first);
    await first.running.close();
    // Most files were still waiting: the stop left them recorded, not queued in memory only.
    const logsBefore = first.logs.filter((line) => line.includes('"file finished"')).length;
    expect(logsBefore).toBeLessThan(FILES);

    const second = await startIn(directory, config);
    try {
      await second.running.gateway.idle();
      await waitUntilIngested(second, keys);
      expect(second.logs.join('\n')).toContain('resuming unfinished file');
      await expectEachIngestedOnce(config.dataDir, keys);
    } finally {
      await second.running.close();
    }
  });

  it('are all ingested, exactly once each, after kill -9 right after the 201s', async () => {
    const directory = await temporaryDirectory();
    const first = await serveChild(directory);
    const keys = await uploadMany(first);
    await killHard(first.child);

    const second = await serveChild(directory);
    await waitUntilIngested(second, keys);
    await expectEachIngestedOnce(join(directory, '.dropgate'), keys);
  });

  it('resumes a file cut off by kill -9 from its checkpoint within seconds of the restart', async () => {
    const directory = await temporaryDirectory();
    const first = await serveChild(directory);
    const { csv, goodRows } = ordersFile(200_000);
    const key = await grantAndPut(first, 'big.csv', csv);
    const dataDir = join(directory, '.dropgate');
    // Part of the file must be durable (a checkpoint) when the gateway is killed, and the file unfinished.
    // Checkpoints are written at most once a second, and an unloaded machine ingests the whole file in
    // about that time; so once the first event is out, the gateway is held still (SIGSTOP) until its next
    // checkpoint is due, then let go: it checkpoints with the next durable block and is killed at once.
    await waitFor('the first event', async () =>
      (await lineAfter(join(dataDir, 'events', 'orders.ndjson'), 0)) ? true : undefined,
    );
    const due = Date.now() + 1_050;
    first.child.kill('SIGSTOP');
    await sleep(due - Date.now());
    first.child.kill('SIGCONT');
    const checkpointRow = await waitFor('a checkpoint', async () => {
      const record = await ledgerRecord(dataDir);
      expect(record?.state, 'the file finished before it could be interrupted').not.toBe('ingested');
      return record?.checkpoint?.row || undefined;
    });
    await killHard(first.child);

    const restarted = Date.now();
    const second = await serveChild(directory);
    // The dead process's lease is 60 s long; taking it over must not wait for it.
    await waitUntilIngested(second, [key], 30_000);
    expect(Date.now() - restarted).toBeLessThan(30_000);

    const summaries = await readTopic<FileSummaryData>(dataDir, 'dropgate.files');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.data.resumedFromRow).toBeGreaterThanOrEqual(checkpointRow);
    expect(summaries[0]!.data).toMatchObject({ rowsPublished: goodRows.length, attempt: 2 });
    const ids = idCounts(await readTopic(dataDir, 'orders'));
    expect(ids.size).toBe(goodRows.length);
    expect(second.output()).toContain('resuming unfinished file');
  });
});
