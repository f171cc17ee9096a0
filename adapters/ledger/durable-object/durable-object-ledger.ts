/**
 * Ledger `durable-object`: every call goes to the bucket's LedgerDurableObject through its stub, which
 * decides it alone and in order: strongly consistent, unlike KV, which cannot promise once-only ingestion.
 */
import { DropgateError, deserializeError, describeError } from '../../errors.js';
import type { Ledger, ListingCursors } from '../../ports.js';
import { planHistory } from '../ledger-history.js';
import type { LedgerAnswer, LedgerCall, LedgerMethod } from './ledger-protocol.js';

/** A Durable Object namespace binding (`env.LEDGER`), as much of it as the ledger uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

export interface DurableObjectLedgerOptions {
  namespace: DurableObjectNamespaceLike;
  /** The clock leases are measured by (default Date.now); the object takes it from each call. */
  now?: () => number;
}

export function createDurableObjectLedger(options: DurableObjectLedgerOptions): Ledger & ListingCursors {
  const now = options.now ?? Date.now;
  // A stub is an I/O object of the request that made it: Workers refuse its use from another request,
  // so each call gets its own (cheap: no round trip).
  const stubFor = (bucket: string) => options.namespace.get(options.namespace.idFromName(bucket) as never);

  async function call<T>(bucket: string, method: LedgerMethod, args: unknown[]): Promise<T> {
    let answer: LedgerAnswer;
    try {
      const response = await stubFor(bucket).fetch('https://ledger.dropgate.internal/', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method, args, now: now() } satisfies LedgerCall),
      });
      answer = (await response.json()) as LedgerAnswer;
    } catch (error) {
      // The object did not answer (reset, overloaded, a network fault): the call may be tried again.
      throw new DropgateError(
        'LEDGER_UNAVAILABLE',
        `the ledger did not answer ${method}: ${describeError(error)}`,
        {
          cause: error,
          context: { bucket, method },
        },
      );
    }
    if ('error' in answer) throw deserializeError(answer.error);
    return (answer.result ?? undefined) as T;
  }

  return {
    register: (ref, request) => call(ref.bucket, 'register', [ref, request]),
    claim: (ref, request) => call(ref.bucket, 'claim', [ref, request]),
    renew: (ref, owner, leaseMs) => call(ref.bucket, 'renew', [ref, owner, leaseMs]),
    checkpoint: (ref, owner, checkpoint, leaseMs) =>
      call(ref.bucket, 'checkpoint', [ref, owner, checkpoint, leaseMs]),
    finish: (ref, owner, outcome) => call(ref.bucket, 'finish', [ref, owner, outcome]),
    get: (ref) => call(ref.bucket, 'get', [ref]),
    latest: (bucket, key) => call(bucket, 'latest', [bucket, key]),
    unfinished: (query) => call(query.bucket, 'unfinished', [query]),
    async history(query) {
      // Checked here too: JSON would carry a NaN limit as null, which the object would take for no limit.
      planHistory(query);
      return call(query.bucket, 'history', [query]);
    },
    readCursor: (bucket, name) => call(bucket, 'readCursor', [bucket, name]),
    saveCursor: (bucket, name, previous, next) =>
      call(bucket, 'saveCursor', [bucket, name, previous ?? null, next ?? null]),
  };
}
