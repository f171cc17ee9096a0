/** What the Durable Object ledger and its client say to each other: one JSON request per Ledger call. */
import type { SerializedError } from '../../errors.js';
import type { Ledger, ListingCursors } from '../../ports.js';

/** The Ledger's calls, and the listing cursors the object keeps beside the records. */
export type LedgerMethod = keyof Ledger | keyof ListingCursors;

export const LEDGER_METHODS = [
  'register',
  'claim',
  'renew',
  'checkpoint',
  'finish',
  'get',
  'latest',
  'unfinished',
  'history',
  'readCursor',
  'saveCursor',
] as const satisfies readonly LedgerMethod[];

/** A call: the method's arguments as JSON, and the caller's clock, which leases are measured by. */
export interface LedgerCall {
  method: LedgerMethod;
  args: unknown[];
  now: number;
}

export type LedgerAnswer = { result: unknown } | { error: SerializedError };
