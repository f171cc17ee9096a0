/**
 * The ledger's state machine as pure functions, so every ledger (memory, local files, a cloud database
 * inside a transaction) decides registrations, claims, checkpoints and outcomes identically.
 */
import { DropgateError } from '../errors.js';
import type {
  Checkpoint,
  ClaimRequest,
  ClaimResult,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  RegisterRequest,
  RegisterResult,
} from '../ports.js';

/**
 * Whether a lease's holder may still be alive. A ledger that knows more than the clock (the local one
 * holds its directory's lock, so owners from before it opened are gone) says so here.
 */
export type HolderAlive = (owner: string) => boolean;

const everyHolderMayBeAlive: HolderAlive = () => true;

export function hasLiveLease(record: FileRecord, now: number, alive: HolderAlive = everyHolderMayBeAlive) {
  return (
    record.state === 'processing' &&
    record.leaseUntil !== null &&
    Date.parse(record.leaseUntil) > now &&
    record.owner !== null &&
    alive(record.owner)
  );
}

export function decideRegister(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  request: RegisterRequest,
  now: number,
  alive: HolderAlive = everyHolderMayBeAlive,
): RegisterResult {
  if (!existing) {
    const record: FileRecord = {
      ...ref,
      dataset: request.dataset,
      state: 'pending',
      attempts: 0,
      replays: 0,
      replayRequested: request.request === 'replay',
      checkpoint: null,
      owner: null,
      leaseUntil: null,
      via: request.via,
      firstSeenAt: new Date(now).toISOString(),
      startedAt: null,
      finishedAt: null,
      outcome: null,
    };
    return { record, changed: true };
  }
  if (request.request === 'ingest' || existing.replayRequested) return { record: existing, changed: false };
  if (hasLiveLease(existing, now, alive)) {
    throw new DropgateError(
      'CONFLICT',
      `${ref.key} is being ingested right now (lease held by ${existing.owner}); replay it once it finishes`,
      { context: { ...ref } },
    );
  }
  // A replay of a version left processing by a dead owner, failed, or finished: start over once claimed.
  const record: FileRecord = {
    ...existing,
    dataset: request.dataset,
    state: 'pending',
    replayRequested: true,
    owner: null,
    leaseUntil: null,
  };
  return { record, changed: true };
}

export function decideClaim(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  request: ClaimRequest,
  now: number,
  alive: HolderAlive = everyHolderMayBeAlive,
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
      replayRequested: false,
      checkpoint: null,
      ...lease,
      via: null,
      firstSeenAt: at,
      startedAt: at,
      finishedAt: null,
      outcome: null,
    };
    return { claimed: true, record };
  }
  if (hasLiveLease(existing, now, alive)) return { claimed: false, record: existing, reason: 'in-progress' };
  const finished = existing.state === 'ingested' || existing.state === 'rejected';
  if (finished && request.mode === 'notification')
    return { claimed: false, record: existing, reason: 'duplicate' };
  // A replay starts over, whether asked for now or recorded as pending; a resumed attempt (crashed, failed
  // or first started) carries on from its checkpoint.
  const replay = (finished && request.mode === 'replay') || existing.replayRequested;
  const record: FileRecord = {
    ...existing,
    dataset: request.dataset,
    state: 'processing',
    attempts: existing.attempts + 1,
    replays: existing.replays + (replay ? 1 : 0),
    replayRequested: false,
    checkpoint: replay ? null : existing.checkpoint,
    ...lease,
    startedAt: at,
    finishedAt: null,
  };
  return { claimed: true, record };
}

export function applyRenew(
  existing: FileRecord | undefined,
  ref: FileVersionRef,
  owner: string,
  leaseMs: number,
  now: number,
): FileRecord {
  return { ...holding(existing, ref, owner), leaseUntil: new Date(now + leaseMs).toISOString() };
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
  return record.state === 'pending' || record.state === 'processing' || record.state === 'failed';
}
