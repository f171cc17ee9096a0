/** A ledger in memory: the test double for every ledger, held to the same contract suite. */
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  Ledger,
} from '../../ports.js';
import { applyCheckpoint, applyFinish, decideClaim, isUnfinished } from '../ledger-rules.js';

export function createMemoryLedger(options: { now?: () => number } = {}): Ledger {
  const now = options.now ?? Date.now;
  const records = new Map<string, FileRecord>();
  const latest = new Map<string, string>();
  const id = (ref: FileVersionRef) => JSON.stringify([ref.bucket, ref.key, ref.version]);
  const copy = (record: FileRecord | undefined) => (record ? structuredClone(record) : undefined);

  return {
    async claim(ref: FileVersionRef, request: ClaimRequest) {
      const existing = records.get(id(ref));
      const result = decideClaim(existing, ref, request, now());
      if (result.claimed) {
        records.set(id(ref), result.record);
        if (!existing) latest.set(JSON.stringify([ref.bucket, ref.key]), ref.version);
      }
      return structuredClone(result);
    },
    async checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number) {
      records.set(id(ref), applyCheckpoint(records.get(id(ref)), ref, owner, checkpoint, leaseMs, now()));
    },
    async finish(ref: FileVersionRef, owner: string, outcome: FileOutcome) {
      const record = applyFinish(records.get(id(ref)), ref, owner, outcome, now());
      records.set(id(ref), record);
      return structuredClone(record);
    },
    async get(ref: FileVersionRef) {
      return copy(records.get(id(ref)));
    },
    async latest(bucket: string, key: string) {
      const version = latest.get(JSON.stringify([bucket, key]));
      return version === undefined ? undefined : copy(records.get(id({ bucket, key, version })));
    },
    async unfinished() {
      return [...records.values()].filter(isUnfinished).map((record) => structuredClone(record));
    },
  };
}
