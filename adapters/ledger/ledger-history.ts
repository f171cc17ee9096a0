/**
 * What every ledger's `history` shares: the query checked and normalized, the order of records, and the
 * cursor, so a page means the same on every ledger and a cursor from one query is refused by another.
 */
import { DropgateError } from '../errors.js';
import { compareKeys } from '../object-store/listing.js';
import { fromBase64Url, toBase64Url } from '../object-store/upload-signature.js';
import type { FileRecord, FileState, HistoryQuery } from '../ports.js';

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
const STATES: readonly FileState[] = ['pending', 'processing', 'ingested', 'rejected', 'failed'];

/** A record's place in the history's order. */
export interface HistoryPosition {
  firstSeenAt: string;
  key: string;
  version: string;
}

/**
 * A query's filters, checked. `since` and `until` are written as the ledgers write `firstSeenAt`
 * (`toISOString`, milliseconds, UTC), so the bounds compare as strings with the stored instants.
 */
export interface HistoryFilter {
  bucket: string;
  prefix: string;
  dataset?: string;
  state?: FileState;
  since?: string;
  until?: string;
}

export interface HistoryPlan {
  filter: HistoryFilter;
  limit: number;
  /** The last record of the previous page: this page starts after it. */
  after?: HistoryPosition;
}

export interface HistoryPage {
  records: FileRecord[];
  cursor?: string;
}

/** The query checked: BAD_REQUEST naming the field for a bad limit, state, instant or cursor. */
export function planHistory(query: HistoryQuery): HistoryPlan {
  const limit = query.limit ?? DEFAULT_HISTORY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new DropgateError(
      'BAD_REQUEST',
      `history limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}, not ${String(limit)}`,
      { context: { limit } },
    );
  }
  if (query.state !== undefined && !STATES.includes(query.state)) {
    throw new DropgateError(
      'BAD_REQUEST',
      `history state must be one of ${STATES.join(', ')}, not ${JSON.stringify(query.state)}`,
      { context: { state: query.state } },
    );
  }
  const filter: HistoryFilter = {
    bucket: query.bucket,
    prefix: query.prefix ?? '',
    ...(query.dataset !== undefined ? { dataset: query.dataset } : {}),
    ...(query.state !== undefined ? { state: query.state } : {}),
    ...(query.since !== undefined ? { since: instant('since', query.since) } : {}),
    ...(query.until !== undefined ? { until: instant('until', query.until) } : {}),
  };
  return {
    filter,
    limit,
    ...(query.cursor !== undefined ? { after: positionOf(query.cursor, filter) } : {}),
  };
}

/** Newest first-seen first, then key and version ascending by their UTF-8 bytes. */
export function compareHistory(left: HistoryPosition, right: HistoryPosition): number {
  if (left.firstSeenAt !== right.firstSeenAt) return left.firstSeenAt > right.firstSeenAt ? -1 : 1;
  return compareKeys(left.key, right.key) || compareKeys(left.version, right.version);
}

export function matchesHistory(record: FileRecord, filter: HistoryFilter): boolean {
  return (
    record.bucket === filter.bucket &&
    record.key.startsWith(filter.prefix) &&
    (filter.dataset === undefined || record.dataset === filter.dataset) &&
    (filter.state === undefined || record.state === filter.state) &&
    (filter.since === undefined || record.firstSeenAt >= filter.since) &&
    (filter.until === undefined || record.firstSeenAt < filter.until)
  );
}

/**
 * A page from every record a ledger holds (the memory and local ledgers, which have no index to ask):
 * those of the query after its cursor, in order, at most `limit`.
 */
export function pageOfHistory(records: Iterable<FileRecord>, plan: HistoryPlan): HistoryPage {
  const { after } = plan;
  const matching = [...records]
    .filter((record) => matchesHistory(record, plan.filter) && (!after || compareHistory(record, after) > 0))
    .sort(compareHistory);
  const page = matching.slice(0, plan.limit);
  return matching.length > plan.limit
    ? { records: page, cursor: historyCursor(plan.filter, page[page.length - 1]!) }
    : { records: page };
}

/**
 * The cursor of a page that ended at `last`: its position, and a fingerprint of the filters, so a cursor
 * passed with other filters is refused instead of silently skipping or repeating records.
 */
export function historyCursor(filter: HistoryFilter, last: HistoryPosition): string {
  const text = JSON.stringify([fingerprint(filter), last.firstSeenAt, last.key, last.version]);
  return toBase64Url(new TextEncoder().encode(text));
}

function positionOf(cursor: string, filter: HistoryFilter): HistoryPosition {
  const refuse = (reason: string) =>
    new DropgateError('BAD_REQUEST', `history cursor ${reason}`, { context: { cursor } });
  let fields: unknown;
  try {
    const bytes = fromBase64Url(cursor);
    fields = bytes && JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    fields = undefined;
  }
  if (
    !Array.isArray(fields) ||
    fields.length !== 4 ||
    !fields.every((field) => typeof field === 'string') ||
    !ISO_INSTANT.test(fields[1] as string)
  ) {
    throw refuse('is not one a history page handed out');
  }
  const [print, firstSeenAt, key, version] = fields as string[];
  if (print !== fingerprint(filter)) {
    throw refuse(
      'belongs to a history of another bucket or other filters (prefix, dataset, state, since, until): ' +
        'start again without a cursor',
    );
  }
  return { firstSeenAt: firstSeenAt!, key: key!, version: version! };
}

/** FNV-1a over the filters: short, and a clash between two queries' filters is vanishingly rare. */
function fingerprint(filter: HistoryFilter): string {
  const text = JSON.stringify([
    filter.bucket,
    filter.prefix,
    filter.dataset ?? null,
    filter.state ?? null,
    filter.since ?? null,
    filter.until ?? null,
  ]);
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const RFC_3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 instant as `toISOString` writes it. A fraction finer than a millisecond rounds up: stored
 * instants have whole milliseconds, so `>= since` and `< until` keep their meaning.
 */
function instant(field: 'since' | 'until', text: string): string {
  const match = RFC_3339.exec(text);
  const [, date, time, fraction = '', zone = ''] = match ?? [];
  const milliseconds = Date.parse(
    `${date}T${time}.${fraction.slice(0, 3).padEnd(3, '0')}${zone.toUpperCase()}`,
  );
  if (!match || Number.isNaN(milliseconds)) {
    throw new DropgateError(
      'BAD_REQUEST',
      `history ${field} must be an RFC 3339 instant such as 2026-12-01T00:00:00Z, not ${JSON.stringify(text)}`,
      { context: { [field]: text } },
    );
  }
  const finer = /[1-9]/.test(fraction.slice(3)) ? 1 : 0;
  return new Date(milliseconds + finer).toISOString();
}
