/**
 * 100 duplicate notifications of one object version, through a real gateway (local store, ledger and
 * sink): some at once while the version is being ingested, through background and inline intakes, some
 * after it finished. The version is ingested once: one attempt, one FileIngested summary, and exactly one
 * event per row, not one more.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Landing, LandingOutcome } from '../../adapters/ports.js';
import { readTopic, type FileSummaryData } from '../integration/support/events.js';
import { ordersFile } from '../integration/support/orders-csv.js';
import { startTestGateway, upload, type TestGateway } from '../integration/support/test-gateway.js';
import { count, reportFigures } from './support/figures.js';

const ROWS = 50_000;
const BAD_EVERY = 50;

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('duplicate notifications', () => {
  it('ingest one version once, however many arrive and whenever', async () => {
    gateway = await startTestGateway();
    const { gateway: core } = gateway.running;
    const { csv, goodRows, badRows } = ordersFile(ROWS, BAD_EVERY);
    const stored = await upload(gateway, 'duplicates.csv', csv);
    expect(stored.ingestion).toBe('pending');
    const record = (await core.fileStatus(stored.objectKey))!;
    const landing: Landing = {
      bucket: record.bucket,
      key: stored.objectKey,
      version: stored.version,
      kind: 'finalized',
      via: 'duplicate-notifications',
    };
    const notify = async (mode: 'background' | 'inline') => {
      const outcomes = await core.accept({ landings: [landing] }, mode);
      expect(outcomes).toHaveLength(1);
      return outcomes[0]!;
    };
    const times = (n: number, mode: 'background' | 'inline') =>
      Promise.all(Array.from({ length: n }, () => notify(mode)));

    // While the upload's own landing is being ingested: 40 background and 20 inline notifications at once.
    const during = await Promise.all([times(40, 'background'), times(20, 'inline')]);
    const stateDuring = (await core.fileStatus(stored.objectKey))!.state;
    await core.idle();
    expect((await core.fileStatus(stored.objectKey))!.state).toBe('ingested');
    // After it finished: 30 at once, then 10 one by one.
    const after = [...(await times(30, 'background'))];
    for (let index = 0; index < 10; index++)
      after.push(await notify(index % 2 === 0 ? 'inline' : 'background'));
    await core.idle();

    const outcomes: LandingOutcome[] = [...during.flat(), ...after];
    expect(outcomes).toHaveLength(100);
    // The inline ones found the version leased: they arrived while it was being ingested.
    expect(stateDuring).not.toBe('ingested');
    expect(during[1].map((outcome) => outcome.status)).toEqual(Array(20).fill('in-progress'));
    expect(during[0].every((outcome) => outcome.status === 'pending' && outcome.ack)).toBe(true);
    expect(after.every((outcome) => outcome.status === 'duplicate' && outcome.ack)).toBe(true);

    const final = (await core.fileStatus(stored.objectKey))!;
    expect(final).toMatchObject({
      state: 'ingested',
      attempts: 1,
      replays: 0,
      outcome: { rowsRead: ROWS, rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
    const events = await readTopic(gateway.dataDir, 'orders');
    const deadLetters = await readTopic(gateway.dataDir, 'orders.dead-letter');
    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries.map((summary) => summary.type)).toEqual(['FileIngested']);
    expect(summaries[0]!.data).toMatchObject({ attempt: 1, rowsPublished: goodRows.length });
    // Blocks in flight may land out of order; each row exactly once is what counts.
    expect(events.map((event) => event.rownumber!).sort((a, b) => a - b)).toEqual(goodRows);
    expect(deadLetters).toHaveLength(badRows.length);
    const finishedLogs = gateway.logs.filter((line) => line.includes('"file finished"'));
    expect(finishedLogs).toHaveLength(1);

    const statuses = new Map<string, number>();
    for (const { status } of outcomes) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const extra = events.length - goodRows.length + deadLetters.length - badRows.length;
    reportFigures(
      `100 duplicate notifications of one version (60 at once while it was ingested, 40 after it ` +
        `finished; 70 background, 30 inline): ${finishedLogs.length} ingestion, ${final.attempts} attempt, ` +
        `${summaries.length} FileIngested, ${count(events.length)} events for ${count(goodRows.length)} rows ` +
        `and ${count(deadLetters.length)} dead letters for ${count(badRows.length)} bad rows (${extra} extra); ` +
        `answered ${[...statuses].map(([status, n]) => `${status} ${n}`).join(', ')}`,
    );
  });
});
