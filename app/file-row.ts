/** One ledger record as the load history shows it: counts, first errors, timings and progress in one row. */
import type { FileRecord, FileState, RowError } from '../adapters/ports.js';

export interface FileRow {
  key: string;
  version: string;
  dataset: string;
  state: FileState;
  /** Ingestion attempts, replays included. */
  attempts: number;
  replays: number;
  /** A replay was asked for and has not started yet. */
  replayRequested: boolean;
  /** The channel that first reported the version. */
  via: string | null;
  /** The schema version of the finished (or failed) attempt; null before one ended. */
  schemaVersion: number | null;
  /** Finished: the file's counts. Unfinished: the rows durably handled so far (the checkpoint). */
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
  /** The first bad rows (at most ten), with the line of the file each was read from. */
  firstErrors: RowError[];
  /** Why a file was rejected (a problem with the file itself) or why its last attempt failed. */
  error: { code: string; message: string } | null;
  firstSeenAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** From the latest attempt's start to its end; null while it runs. */
  durationMs: number | null;
  /** While `processing`: how far the attempt got (rows durably handled). */
  progress: Progress | null;
}

export interface Progress {
  rows: number;
  published: number;
  rejected: number;
  /**
   * Rows of the file when an earlier attempt read it whole (a replay of the same version), so the page
   * can show a fraction; null when unknown (a file's first attempt: its row count is known only at the end).
   */
  expectedRows: number | null;
}

export function fileRow(record: FileRecord): FileRow {
  const { checkpoint, outcome } = record;
  const finished = record.state === 'ingested' || record.state === 'rejected';
  const counts = finished
    ? {
        rowsRead: outcome!.rowsRead,
        rowsPublished: outcome!.rowsPublished,
        rowsRejected: outcome!.rowsRejected,
      }
    : {
        rowsRead: checkpoint?.row ?? 0,
        rowsPublished: checkpoint?.published ?? 0,
        rowsRejected: checkpoint?.rejected ?? 0,
      };
  // An unfinished attempt's errors are in its checkpoint; a finished file's only in its outcome.
  const firstErrors = (finished ? outcome?.firstErrors : checkpoint?.firstErrors) ?? [];
  const ended = finished || record.state === 'failed';
  const durationMs =
    ended && record.startedAt && record.finishedAt
      ? Date.parse(record.finishedAt) - Date.parse(record.startedAt)
      : null;
  return {
    key: record.key,
    version: record.version,
    dataset: record.dataset,
    state: record.state,
    attempts: record.attempts,
    replays: record.replays,
    replayRequested: record.replayRequested,
    via: record.via,
    // A running attempt's checkpoint names the version it stamps; a finished file has only its outcome.
    schemaVersion: checkpoint?.schemaVersion ?? outcome?.schemaVersion ?? null,
    ...counts,
    firstErrors,
    // A new attempt under way makes the last one's error history; only an ended attempt's error stands.
    error: ended ? (outcome?.error ?? null) : null,
    firstSeenAt: record.firstSeenAt,
    startedAt: record.startedAt,
    finishedAt: ended ? record.finishedAt : null,
    durationMs,
    progress:
      record.state === 'processing'
        ? {
            rows: checkpoint?.row ?? 0,
            published: checkpoint?.published ?? 0,
            rejected: checkpoint?.rejected ?? 0,
            expectedRows: outcome && outcome.state !== 'failed' ? outcome.rowsRead : null,
          }
        : null,
  };
}
