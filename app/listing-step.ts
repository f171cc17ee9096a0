/**
 * One bounded step through a store's listing: whole pages up to a number of objects, and the cursor to go
 * on, so a walk over a bucket of any size fits a request's time limit (backfill, replay by prefix).
 */
import { DropgateError } from '../adapters/errors.js';
import type { ObjectInfo, ObjectStore } from '../adapters/ports.js';

export interface ListingStepRequest {
  prefix: string;
  /** The `cursor` a previous step answered. */
  cursor?: string;
  /** Objects to look at in this step, at least; whole listing pages are taken (default 10,000). */
  limit?: number;
}

const DEFAULT_LIMIT = 10_000;

/** Lists from `cursor` and hands each object to `visit`, in key order, until `limit` objects are seen. */
export async function listingStep(
  store: ObjectStore,
  request: ListingStepRequest,
  visit: (object: ObjectInfo) => Promise<void>,
): Promise<{ scanned: number; cursor?: string }> {
  const limit = request.limit ?? DEFAULT_LIMIT;
  let scanned = 0;
  let cursor = request.cursor;
  do {
    const page = await store.list(request.prefix, {
      ...(cursor === undefined ? {} : { cursor }),
      limit: Math.min(1_000, Math.max(1, limit - scanned)),
    });
    for (const object of page.objects) {
      scanned++;
      await visit(object);
    }
    cursor = page.cursor;
  } while (cursor !== undefined && scanned < limit);
  return cursor === undefined ? { scanned } : { scanned, cursor };
}

/** `value` (RFC 3339) in milliseconds since the epoch; BAD_REQUEST naming `field` when it is not a date. */
export function instant(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new DropgateError('BAD_REQUEST', `${field}: ${value} is not an RFC 3339 date-time`, {
      context: { field },
    });
  }
  return time;
}
