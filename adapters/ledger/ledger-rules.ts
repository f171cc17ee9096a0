/**
 * The ledger's state machine as pure functions, so every ledger (memory, local files, a cloud database
 * inside a transaction) decides claims, checkpoints and outcomes identically.
 */
import { DropgateError } from '../errors.js';
import type {
  Checkpoint,
  ClaimRequest,
  ClaimResult,
  FileOutcome,
  FileRecord,
  FileVersionRef,
} from '../ports.js';

export function decideClaim(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  request: ClaimRequest,
  now: number,
): ClaimResult {
  const at = new Date(now).toISOString();
  const lease = { owner: request.owner, leaseUntil: new Date(now + request.leaseMs).toISOString() };
  if (!existing) {
    const record: FileRecord = {
      ...ref,
      dataset: request.dataset,
      state: 'processing',
      attempts: 1,
      replays: 0,
      checkpoint: null,
      ...lease,
      firstSeenAt: at,
      startedAt: at,
      finishedAt: null,
      outcome: null,
    };
    return { claimed: true, record };
  }
  const leaseLive =
    existing.state === 'processing' && existing.leaseUntil !== null && Date.parse(existing.leaseUntil) > now;
  if (leaseLive) return { claimed: false, record: existing, reason: 'in-progress' };
  const finished = existing.state === 'ingested' || existing.state === 'rejected';
  if (finished && request.mode === 'notification')
    return { claimed: false, record: existing, reason: 'duplicate' };
  const replay = finished && request.mode === 'replay';
  const record: FileRecord = {
    ...existing,
    dataset: request.dataset,
    state: 'processing',
    attempts: existing.attempts + 1,
    replays: existing.replays + (replay ? 1 : 0),
    // A replay starts over; a resumed attempt (crashed or failed) carries on from its checkpoint.
    checkpoint: replay ? null : existing.checkpoint,
    ...lease,
    startedAt: at,
    finishedAt: null,
  };
  return { claimed: true, record };
}

export function applyCheckpoint(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  owner: string,
  checkpoint: Checkpoint,
  leaseMs: number,
  now: number,
): FileRecord {
  const record = holding(existing, ref, owner);
  return { ...record, checkpoint: { ...checkpoint }, leaseUntil: new Date(now + leaseMs).toISOString() };
}

export function applyFinish(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  owner: string,
  outcome: FileOutcome,
  now: number,
): FileRecord {
  const record = holding(existing, ref, owner);
  return {
    ...record,
    state: outcome.state,
    // A failed attempt keeps its checkpoint so the next one resumes; a finished file needs none.
    checkpoint: outcome.state === 'failed' ? record.checkpoint : null,
    owner: null,
    leaseUntil: null,
    finishedAt: new Date(now).toISOString(),
    outcome: structuredClone(outcome),
  };
}

function holding(existing: FileRecord | undefined, ref: FileVersionRef, owner: string): FileRecord {
  if (!existing || existing.state !== 'processing' || existing.owner !== owner) {
    throw new DropgateError(
      'LEASE_LOST',
      `${owner} no longer holds ${ref.bucket}/${ref.key}@${ref.version}`,
      {
        context: { ...ref, owner },
      },
    );
  }
  return existing;
}

export function isUnfinished(record: FileRecord): boolean {
  return record.state === 'processing' || record.state === 'failed';
}
