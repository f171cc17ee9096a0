/** What the Durable Object ledger and its client say to each other: one JSON request per Ledger call. */
import type { SerializedError } from '../../errors.js';
import type { Ledger } from '../../ports.js';

export type LedgerMethod = keyof Ledger;

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
] as const satisfies readonly LedgerMethod[];

/** A call: the method's arguments as JSON, and the caller's clock, which leases are measured by. */
export interface LedgerCall {
  method: LedgerMethod;
  args: unknown[];
  now: number;
}

export type LedgerAnswer = { result: unknown } | { error: SerializedError };
