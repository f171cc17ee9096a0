/** What every store's `list` shares: key order by UTF-8 bytes and the bounds of a page. */
import { DropgateError } from '../errors.js';

export const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 1000;

/**
 * Orders keys by their UTF-8 bytes, as S3 and GCS list them. That is code point order; UTF-16 code unit
 * order (JavaScript's `<`) agrees except that it puts characters above U+FFFF, written as surrogates
 * (0xD800-0xDFFF), before those of U+E000-U+FFFF.
 */
export function compareKeys(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a === b) continue;
    const aSurrogate = a >= 0xd800 && a <= 0xdfff;
    const bSurrogate = b >= 0xd800 && b <= 0xdfff;
    if (aSurrogate !== bSurrogate) return aSurrogate ? 1 : -1;
    return a - b;
  }
  return left.length - right.length;
}

/** The page size a `list` call asks for; BAD_REQUEST unless it is an integer in 1-1000. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new DropgateError('BAD_REQUEST', `list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`, {
      context: { limit },
    });
  }
  return limit;
}
