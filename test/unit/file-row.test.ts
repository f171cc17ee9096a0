/** A ledger record as one row of the load history, in each state a file goes through. */
import { describe, expect, it } from 'vitest';
import type { FileRecord, RowError } from '../../adapters/ports.js';
import { fileRow } from '../../app/file-row.js';

const errors: RowError[] = [
  { row: 5, line: 6, field: 'quantity', reason: 'must be >= 1' },
  { row: 9, line: 11, field: 'sku', reason: 'required value is empty' },
];

const recorded: FileRecord = {
  bucket: 'uploads',
  key: 'vendors/acme/orders/a.csv',
  version: '1',
  state: 'pending',
  dataset: 'orders',
  attempts: 0,
  replays: 0,
  replayRequested: false,
  checkpoint: null,
  owner: null,
  leaseUntil: null,
  via: 'local-upload',
  firstSeenAt: '2024-05-01T10:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  outcome: null,
};

const ingested: FileRecord = {
  ...recorded,
  state: 'ingested',
  attempts: 1,
  startedAt: '2024-05-01T10:00:01.000Z',
  finishedAt: '2024-05-01T10:00:03.500Z',
  outcome: {
    state: 'ingested',
    dataset: 'orders',
    schemaVersion: 2,
    rowsRead: 40,
    rowsPublished: 38,
    rowsRejected: 2,
    firstErrors: errors,
  },
};

describe('fileRow', () => {
  it('gives a pending file zero counts and no timings', () => {
    expect(fileRow(recorded)).toMatchObject({
      state: 'pending',
      rowsRead: 0,
      rowsPublished: 0,
      rowsRejected: 0,
      firstErrors: [],
      error: null,
      schemaVersion: null,
      startedAt: null,
      durationMs: null,
      progress: null,
    });
  });

  it("gives a finished file its outcome's counts, first errors and duration", () => {
    expect(fileRow(ingested)).toEqual({
      key: 'vendors/acme/orders/a.csv',
      version: '1',
      dataset: 'orders',
      state: 'ingested',
      attempts: 1,
      replays: 0,
      replayRequested: false,
      via: 'local-upload',
      schemaVersion: 2,
      rowsRead: 40,
      rowsPublished: 38,
      rowsRejected: 2,
      firstErrors: errors,
      error: null,
      firstSeenAt: '2024-05-01T10:00:00.000Z',
      startedAt: '2024-05-01T10:00:01.000Z',
      finishedAt: '2024-05-01T10:00:03.500Z',
      durationMs: 2500,
      progress: null,
    });
  });

  it('gives a file ingested before outcomes kept first errors an empty list', () => {
    const { firstErrors: _left, ...older } = ingested.outcome!;
    expect(fileRow({ ...ingested, outcome: older }).firstErrors).toEqual([]);
  });

  it("shows a running file's progress from its checkpoint, without a total on its first attempt", () => {
    const running: FileRecord = {
      ...recorded,
      state: 'processing',
      attempts: 1,
      startedAt: '2024-05-01T10:00:01.000Z',
      owner: 'worker',
      leaseUntil: '2024-05-01T10:01:01.000Z',
      checkpoint: { row: 20, published: 19, rejected: 1, firstErrors: errors.slice(0, 1), schemaVersion: 2 },
    };
    expect(fileRow(running)).toMatchObject({
      rowsRead: 20,
      rowsPublished: 19,
      rowsRejected: 1,
      firstErrors: errors.slice(0, 1),
      schemaVersion: 2,
      finishedAt: null,
      durationMs: null,
      progress: { rows: 20, published: 19, rejected: 1, expectedRows: null },
    });
  });

  it('knows the total of a replay from the attempt that read the whole file, not its stale error', () => {
    const replaying: FileRecord = {
      ...ingested,
      state: 'processing',
      attempts: 2,
      replays: 1,
      startedAt: '2024-05-02T09:00:00.000Z',
      finishedAt: null,
      checkpoint: { row: 10, published: 10, rejected: 0 },
      outcome: { ...ingested.outcome!, error: { code: 'X', message: 'old' } },
    };
    expect(fileRow(replaying)).toMatchObject({
      rowsRead: 10,
      firstErrors: [],
      error: null,
      progress: { rows: 10, expectedRows: 40 },
    });
  });

  it("gives a failed file its checkpoint's counts and errors and the fault that stopped it", () => {
    const failed: FileRecord = {
      ...recorded,
      state: 'failed',
      attempts: 3,
      startedAt: '2024-05-01T10:00:01.000Z',
      finishedAt: '2024-05-01T10:00:02.000Z',
      checkpoint: { row: 12, published: 11, rejected: 1, firstErrors: errors.slice(0, 1) },
      outcome: {
        state: 'failed',
        dataset: 'orders',
        schemaVersion: 2,
        rowsRead: 3,
        rowsPublished: 11,
        rowsRejected: 1,
        error: { code: 'PUBLISH_FAILED', message: 'the sink is down' },
      },
    };
    expect(fileRow(failed)).toMatchObject({
      rowsRead: 12,
      rowsPublished: 11,
      rowsRejected: 1,
      firstErrors: errors.slice(0, 1),
      error: { code: 'PUBLISH_FAILED', message: 'the sink is down' },
      durationMs: 1000,
      progress: null,
    });
  });
});
