/**
 * `kill -9` at 20 points of one multi-block file, each time a new `dropgate serve` over the same data
 * directory: no row is lost, no row is published under two ids, every restart resumes from the checkpoint
 * the killed process left in the ledger (never from row 0), and resumes within seconds.
 *
 * Checkpoints are written at most once a second, and a gateway publishes tens of megabytes a second, so a
 * file that outlived 20 unhurried checkpoints would be huge. Instead each process, once it has published
 * past its kill point, is held still with SIGSTOP until its next checkpoint is due (a second after its
 * first new event at the latest), then let go (SIGCONT): it writes the checkpoint with the next block
 * that is durable, and is killed a few milliseconds later, wherever it is (blocks in flight, a batch half
 * written, a sync). Each kill thus moves the checkpoint on by a few blocks, and 20 of them fit a file of a
 * few tens of megabytes.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent, DeadLetterData, FileSummaryData } from '../support/cloud-events.js';
import {
  buildDist,
  killHard,
  serveChild,
  stopChildGateways,
  type ChildGateway,
} from '../integration/support/child-gateway.js';
import { ledgerRecord, lineAfter, sleep, waitFor } from '../integration/support/data-dir.js';
import { longNote, ordersFile } from '../integration/support/orders-csv.js';
import { makeTemporaryDirectory, upload } from '../integration/support/test-gateway.js';
import { count, reportFigures, seconds, seededRandom } from './support/figures.js';

const KILLS = 20;
const ROWS = 28_000;
const BAD_EVERY = 97;
/** About 1 KiB a row, so a block (a 256 KiB segment of the file) holds a few hundred rows. */
const NOTE_LENGTH = 900;

beforeAll(buildDist);

const directories: string[] = [];
afterEach(async () => {
  await stopChildGateways();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** The length of the file's whole lines: a torn last line, which the next process cuts off, excluded. */
async function wholeLinesLength(path: string): Promise<number> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return 0;
  try {
    const { size } = await handle.stat();
    const chunk = Buffer.alloc(64 << 10);
    for (let end = size; end > 0;) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline >= 0) return start + newline + 1;
      end = start;
    }
    return 0;
  } finally {
    await handle.close();
  }
}

/** The row of the last whole event at or after `offset` in a topic's file; 0 when there is none. */
async function lastRow(path: string, offset: number): Promise<number> {
  const end = await wholeLinesLength(path);
  if (end <= offset) return 0;
  const handle = await open(path, 'r');
  try {
    const start = Math.max(offset, end - (16 << 10));
    const tail = Buffer.alloc(end - start);
    await handle.read(tail, 0, tail.length, start);
    const match = /"rownumber":(\d+)[^\n]*\n$/.exec(tail.toString('utf8'));
    return match ? Number(match[1]) : 0;
  } finally {
    await handle.close();
  }
}

/** Every whole line of a topic's file, parsed, with the offset it starts at. */
async function linesOf<T>(path: string): Promise<Array<{ offset: number; event: CloudEvent<T> }>> {
  const text = await readFile(path).catch(() => Buffer.alloc(0));
  const lines: Array<{ offset: number; event: CloudEvent<T> }> = [];
  for (let offset = 0; offset < text.length;) {
    const end = text.indexOf(0x0a, offset);
    if (end < 0) break;
    lines.push({ offset, event: JSON.parse(text.toString('utf8', offset, end)) as CloudEvent<T> });
    offset = end + 1;
  }
  return lines;
}

interface Life {
  /** The checkpoint row this process resumed from (0 for the first). */
  resumedFrom: number;
  /** Where this process's events start in each topic's file. */
  from: { orders: number; dead: number };
  /** Restart to its first new event (for a restarted process). */
  resumeMs?: number;
}

describe('kill -9 mid-file', () => {
  it(`loses no row and changes no id over ${KILLS} kills, each restart resuming from its checkpoint`, async () => {
    const started = Date.now();
    const directory = await makeTemporaryDirectory('dropgate-faults-kill-');
    directories.push(directory);
    const dataDir = join(directory, '.dropgate');
    const paths = {
      orders: join(dataDir, 'events', 'orders.ndjson'),
      dead: join(dataDir, 'events', 'orders.dead-letter.ndjson'),
      files: join(dataDir, 'events', 'dropgate.files.ndjson'),
    };
    const { csv, goodRows, badRows } = ordersFile(ROWS, BAD_EVERY, { noteLength: NOTE_LENGTH });
    const killDelay = seededRandom(KILLS);

    const lives: Life[] = [];
    let gateway: ChildGateway = await serveChild(directory);
    let spawnedAt = 0;
    let life: Life = { resumedFrom: 0, from: { orders: 0, dead: 0 } };
    // Answered while the file is being ingested; awaited at the first kill.
    const uploaded = upload(gateway, 'kill-9.csv', csv);
    uploaded.catch(() => undefined);
    const progressed = async () =>
      (await lineAfter(paths.orders, life.from.orders)) || (await lineAfter(paths.dead, life.from.dead))
        ? true
        : undefined;

    for (let kill = 1; kill <= KILLS; kill++) {
      await waitFor(`the first new event of process ${kill}`, progressed);
      // The attempt started before its first event: its next checkpoint is due a second after this, at most.
      const due = Date.now() + 1_050;
      if (kill > 1) life.resumeMs = Date.now() - spawnedAt;
      // Kill points spread over the first 70% of the file: the process runs free from the checkpoint to
      // the kill, longer when this test is short of CPU, and must still find the file unfinished then.
      const target = Math.round((kill * ROWS * 0.7) / KILLS);
      await waitFor(`process ${kill} to publish row ${target}`, async () =>
        (await lastRow(paths.orders, life.from.orders)) >= target ? true : undefined,
      );
      // Held still until its next checkpoint is due.
      gateway.child.kill('SIGSTOP');
      await sleep(due - Date.now());
      gateway.child.kill('SIGCONT');
      const resumedFrom = life.resumedFrom;
      await waitFor(`a checkpoint past row ${resumedFrom} from process ${kill}`, async () => {
        const record = await ledgerRecord(dataDir);
        expect(record?.state, `the file finished before kill ${kill}`).not.toBe('ingested');
        return (record?.checkpoint?.row ?? 0) > resumedFrom ? record : undefined;
      });
      await sleep(Math.floor(killDelay() * 10));
      await killHard(gateway.child);
      if (kill === 1) expect((await uploaded).ingestion).toBe('pending');
      lives.push(life);

      const left = (await ledgerRecord(dataDir))!;
      expect(left, `the file's record after kill ${kill}`).toMatchObject({ state: 'processing' });
      const checkpoint = left.checkpoint!.row;
      life = {
        resumedFrom: checkpoint,
        from: { orders: await wholeLinesLength(paths.orders), dead: await wholeLinesLength(paths.dead) },
      };
      spawnedAt = Date.now();
      gateway = await serveChild(directory);
      // The log goes to stderr and the banner to stdout: the line may reach this test after the banner.
      const restarted = gateway;
      const resuming = await waitFor(
        'the restarted gateway to log that it resumes the file',
        async () => logLines(restarted.output()).find((line) => line.message === 'resuming unfinished file'),
        10_000,
      ).catch(() => undefined);
      expect(resuming, gateway.output()).toMatchObject({
        state: 'processing',
        checkpoint: { row: checkpoint },
      });
    }

    // The last process runs undisturbed to the end.
    await waitFor('the first new event of the last process', progressed);
    life.resumeMs = Date.now() - spawnedAt;
    lives.push(life);
    const finished = await waitFor(
      'the file to be ingested',
      async () => {
        const record = await ledgerRecord(dataDir);
        return record?.state === 'ingested' ? record : undefined;
      },
      60_000,
    );
    await killHard(gateway.child);

    const orders = await linesOf<Record<string, unknown>>(paths.orders);
    const dead = await linesOf<DeadLetterData>(paths.dead);
    const summaries = (await linesOf<FileSummaryData>(paths.files)).map(({ event }) => event);
    const fingerprint = orders[0]!.event.id.replace(/-\d+$/, '');

    // Each row under one id only, the row's own, and each row's data as the file has it.
    const idsOfRow = new Map<number, Set<string>>();
    const idsChanged = new Set<number>();
    for (const { event } of [...orders, ...dead]) {
      const row = event.rownumber ?? (event.data as unknown as DeadLetterData).row;
      const ids = idsOfRow.get(row) ?? new Set<string>();
      ids.add(event.id);
      idsOfRow.set(row, ids);
      if (ids.size > 1) idsChanged.add(row);
    }
    for (const { event } of orders) {
      expect(event.id).toBe(`${fingerprint}-${event.rownumber}`);
      expect(event.data.note).toBe(longNote(event.rownumber!, NOTE_LENGTH));
    }
    for (const { event } of dead) expect(event.id).toBe(`${fingerprint}-${event.data.row}-rejected`);
    const published = new Set(orders.map(({ event }) => event.rownumber!));
    const deadLettered = new Set(dead.map(({ event }) => event.data.row));
    const lost = goodRows.filter((row) => !published.has(row));
    const deadLost = badRows.filter((row) => !deadLettered.has(row));
    expect(lost).toEqual([]);
    expect(deadLost).toEqual([]);
    expect([...idsChanged]).toEqual([]);
    expect(published.size).toBe(goodRows.length);
    expect(deadLettered.size).toBe(badRows.length);

    // Each process published only rows after the checkpoint it resumed from, starting right after it.
    lives.forEach((current, index) => {
      const next = lives[index + 1];
      const within = (offset: number, topic: 'orders' | 'dead') =>
        offset >= current.from[topic] && (next === undefined || offset < next.from[topic]);
      const rows = [
        ...orders.filter(({ offset }) => within(offset, 'orders')).map(({ event }) => event.rownumber!),
        ...dead.filter(({ offset }) => within(offset, 'dead')).map(({ event }) => event.data.row),
      ];
      expect(Math.min(...rows), `process ${index + 1}`).toBe(current.resumedFrom + 1);
    });
    const resumedFrom = lives.slice(1).map(({ resumedFrom }) => resumedFrom);
    expect(Math.min(...resumedFrom)).toBeGreaterThan(0);
    // Checkpoints only move forward.
    expect(resumedFrom).toEqual([...resumedFrom].sort((left, right) => left - right));

    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      type: 'FileIngested',
      data: {
        resumedFromRow: lives.at(-1)!.resumedFrom,
        attempt: KILLS + 1,
        rowsRead: ROWS,
        rowsPublished: goodRows.length,
        rowsRejected: badRows.length,
      },
    });
    expect(finished).toMatchObject({
      attempts: KILLS + 1,
      outcome: { rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });

    const resumes = lives.slice(1).map(({ resumeMs }) => resumeMs!);
    for (const resumeMs of resumes) expect(resumeMs).toBeLessThan(10_000);
    const sorted = [...resumes].sort((left, right) => left - right);
    const megabytes = csv.length / 2 ** 20;
    reportFigures(
      `kill -9 x${KILLS} over ${count(ROWS)} rows (${megabytes.toFixed(0)} MiB CSV, child gateways): ` +
        `${lost.length + deadLost.length} rows lost, ${idsChanged.size} ids changed; restarts resumed from ` +
        `checkpoints ${count(resumedFrom[0]!)}..${count(resumedFrom.at(-1)!)} (the ledger's each time, never row 0), ` +
        `${count(orders.length + dead.length - published.size - deadLettered.size)} rows published again under ` +
        `the same ids; resume (restart to first new event) median ${seconds(sorted[sorted.length >> 1]!)}, ` +
        `slowest ${seconds(sorted.at(-1)!)}; case ${seconds(Date.now() - started)}`,
    );
  }, 180_000);
});

/** The whole JSON log lines of a child's output (a line still being written is left out). */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .slice(0, output.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
