/** A ledger in memory: the test double for every ledger, held to the same contract suite. */
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
  Ledger,
  RegisterRequest,
  UnfinishedQuery,
} from '../../ports.js';
import {
  applyCheckpoint,
  applyFinish,
  applyRenew,
  decideClaim,
  decideRegister,
  isUnfinished,
  type HolderAlive,
} from '../ledger-rules.js';
import { pageOfHistory, planHistory } from '../ledger-history.js';

export function createMemoryLedger(options: { now?: () => number; holderAlive?: HolderAlive } = {}): Ledger {
  const now = options.now ?? Date.now;
  const records = new Map<string, FileRecord>();
  const latest = new Map<string, string>();
  const id = (ref: FileVersionRef) => JSON.stringify([ref.bucket, ref.key, ref.version]);
  const copy = (record: FileRecord | undefined) => (record ? structuredClone(record) : undefined);
  const store = (ref: FileVersionRef, existing: FileRecord | undefined, record: FileRecord) => {
    records.set(id(ref), record);
    if (!existing) latest.set(JSON.stringify([ref.bucket, ref.key]), ref.version);
  };

  return {
    async register(ref: FileVersionRef, request: RegisterRequest) {
      const existing = records.get(id(ref));
      const result = decideRegister(existing, ref, request, now(), options.holderAlive);
      if (result.changed) store(ref, existing, result.record);
      return structuredClone(result);
    },
    async claim(ref: FileVersionRef, request: ClaimRequest) {
      const existing = records.get(id(ref));
      const result = decideClaim(existing, ref, request, now(), options.holderAlive);
      if (result.claimed) store(ref, existing, result.record);
      return structuredClone(result);
    },
    async renew(ref: FileVersionRef, owner: string, leaseMs: number) {
      records.set(id(ref), applyRenew(records.get(id(ref)), ref, owner, leaseMs, now()));
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
    async unfinished(query: UnfinishedQuery) {
      const limit = query.limit ?? 100;
      const ids = [...records.keys()]
        .filter((key) => (query.cursor === undefined || key > query.cursor) && isUnfinishedIn(key))
        .sort();
      const page = ids.slice(0, limit);
      return {
        records: page.map((key) => structuredClone(records.get(key)!)),
        ...(ids.length > limit ? { cursor: page[page.length - 1]! } : {}),
      };
      function isUnfinishedIn(key: string) {
        const record = records.get(key)!;
        return record.bucket === query.bucket && isUnfinished(record);
      }
    },
    async history(query: HistoryQuery) {
      return structuredClone(pageOfHistory(records.values(), planHistory(query)));
    },
  };
}
