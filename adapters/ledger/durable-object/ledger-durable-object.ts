/**
 * The ledger as a Durable Object with SQLite storage, one object per bucket. Every call runs to the end
 * without yielding (SQLite calls are synchronous in a Durable Object), so each decision of ledger-rules.ts
 * reads and writes one consistent state: claims are atomic without transactions of our own.
 */
import { DropgateError, serializeError } from '../../errors.js';
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
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
} from '../ledger-rules.js';
import { historyCursor, planHistory, type HistoryPosition } from '../ledger-history.js';
import { LEDGER_METHODS, type LedgerAnswer, type LedgerCall } from './ledger-protocol.js';

/** The SQLite API of a Durable Object's storage (`ctx.storage.sql`), as much of it as the ledger uses. */
export interface SqlStorageLike {
  exec(query: string, ...bindings: Array<string | number | null>): { toArray(): Record<string, unknown>[] };
}

export interface DurableObjectStateLike {
  storage: { sql: SqlStorageLike };
}

/** The record's fields as the history index names them (the same expressions, so SQLite uses it). */
const FIRST_SEEN = `json_extract(record, '$.firstSeenAt')`;
const KEY = `json_extract(record, '$.key')`;
const VERSION = `json_extract(record, '$.version')`;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS records (
     id TEXT PRIMARY KEY, bucket TEXT NOT NULL, unfinished INTEGER NOT NULL, record TEXT NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS records_unfinished ON records (bucket, unfinished, id)',
  // The history's order, over the record's own fields: rows written before the history existed are in it.
  `CREATE INDEX IF NOT EXISTS records_history ON records (bucket, ${FIRST_SEEN} DESC, ${KEY}, ${VERSION})`,
  `CREATE TABLE IF NOT EXISTS latest (
     bucket TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (bucket, key))`,
  // ListingCursors: a walk's place in the listing; no row, the walk starts from the beginning.
  `CREATE TABLE IF NOT EXISTS cursors (
     bucket TEXT NOT NULL, name TEXT NOT NULL, cursor TEXT NOT NULL, PRIMARY KEY (bucket, name))`,
];

const idOf = (ref: FileVersionRef) => JSON.stringify([ref.bucket, ref.key, ref.version]);

/** Bound as the class wrangler.toml names (`class_name = "LedgerDurableObject"`, a `new_sqlite_classes` migration). */
export class LedgerDurableObject {
  private readonly sql: SqlStorageLike;

  constructor(state: DurableObjectStateLike, _env: unknown) {
    this.sql = state.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  async fetch(request: Request): Promise<Response> {
    let call: LedgerCall;
    try {
      call = (await request.json()) as LedgerCall;
      if (!(LEDGER_METHODS as readonly string[]).includes(call.method) || !Array.isArray(call.args))
        throw new Error(`unknown ledger method ${String(call.method)}`);
    } catch (error) {
      const refused = new DropgateError('BAD_REQUEST', `not a ledger call: ${(error as Error).message}`);
      return Response.json({ error: serializeError(refused) } satisfies LedgerAnswer, { status: 400 });
    }
    try {
      return Response.json({ result: this.run(call) ?? null } satisfies LedgerAnswer);
    } catch (error) {
      return Response.json({ error: serializeError(error) } satisfies LedgerAnswer, { status: 409 });
    }
  }

  private run({ method, args, now }: LedgerCall): unknown {
    const ref = args[0] as FileVersionRef;
    switch (method) {
      case 'register': {
        const existing = this.read(ref);
        const result = decideRegister(existing, ref, args[1] as RegisterRequest, now);
        if (result.changed) this.write(result.record, existing === undefined);
        return result;
      }
      case 'claim': {
        const existing = this.read(ref);
        const result = decideClaim(existing, ref, args[1] as ClaimRequest, now);
        if (result.claimed) this.write(result.record, existing === undefined);
        return result;
      }
      case 'renew':
        this.write(applyRenew(this.read(ref), ref, args[1] as string, args[2] as number, now), false);
        return undefined;
      case 'checkpoint': {
        const [, owner, checkpoint, leaseMs] = args as [unknown, string, Checkpoint, number];
        this.write(applyCheckpoint(this.read(ref), ref, owner, checkpoint, leaseMs, now), false);
        return undefined;
      }
      case 'finish': {
        const record = applyFinish(this.read(ref), ref, args[1] as string, args[2] as FileOutcome, now);
        this.write(record, false);
        return record;
      }
      case 'get':
        return this.read(ref);
      case 'latest': {
        const [bucket, key] = args as [string, string];
        const [row] = this.sql
          .exec('SELECT version FROM latest WHERE bucket = ? AND key = ?', bucket, key)
          .toArray();
        return row ? this.read({ bucket, key, version: String(row.version) }) : undefined;
      }
      case 'unfinished':
        return this.unfinished(args[0] as UnfinishedQuery);
      case 'history':
        return this.history(args[0] as HistoryQuery);
      case 'readCursor':
        return this.cursor(args[0] as string, args[1] as string);
      case 'saveCursor': {
        const [bucket, name, previous, next] = args as [string, string, string | null, string | null];
        // Compared and replaced in one call: two overlapping steps cannot both move the cursor.
        if ((this.cursor(bucket, name) ?? null) !== previous) return false;
        if (next === null) this.sql.exec('DELETE FROM cursors WHERE bucket = ? AND name = ?', bucket, name);
        else
          this.sql.exec(
            'INSERT OR REPLACE INTO cursors (bucket, name, cursor) VALUES (?, ?, ?)',
            bucket,
            name,
            next,
          );
        return true;
      }
    }
  }

  private cursor(bucket: string, name: string): string | undefined {
    const [row] = this.sql
      .exec('SELECT cursor FROM cursors WHERE bucket = ? AND name = ?', bucket, name)
      .toArray();
    return row ? String(row.cursor) : undefined;
  }

  private read(ref: FileVersionRef): FileRecord | undefined {
    const [row] = this.sql.exec('SELECT record FROM records WHERE id = ?', idOf(ref)).toArray();
    return row ? (JSON.parse(String(row.record)) as FileRecord) : undefined;
  }

  private write(record: FileRecord, first: boolean) {
    this.sql.exec(
      'INSERT OR REPLACE INTO records (id, bucket, unfinished, record) VALUES (?, ?, ?, ?)',
      idOf(record),
      record.bucket,
      isUnfinished(record) ? 1 : 0,
      JSON.stringify(record),
    );
    // The per-key index names the most recently first-seen version, so it moves only on a new record.
    if (first) {
      this.sql.exec(
        'INSERT OR REPLACE INTO latest (bucket, key, version) VALUES (?, ?, ?)',
        record.bucket,
        record.key,
        record.version,
      );
    }
  }

  private unfinished(query: UnfinishedQuery): { records: FileRecord[]; cursor?: string } {
    const limit = query.limit ?? 100;
    const rows = this.sql
      .exec(
        'SELECT id, record FROM records WHERE bucket = ? AND unfinished = 1 AND id > ? ORDER BY id LIMIT ?',
        query.bucket,
        query.cursor ?? '',
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const records = page.map((row) => JSON.parse(String(row.record)) as FileRecord);
    return rows.length > limit ? { records, cursor: String(page[page.length - 1]!.id) } : { records };
  }

  /**
   * One page read along the history index from the cursor on: SQLite reads the page's rows and those the
   * filters leave out on the way, never the rows before the cursor.
   */
  private history(query: HistoryQuery): { records: FileRecord[]; cursor?: string } {
    const { filter, limit, after } = planHistory(query);
    const conditions = ['bucket = ?'];
    const bindings: Array<string | number> = [filter.bucket];
    const where = (condition: string, ...values: Array<string | number>) => {
      conditions.push(condition);
      bindings.push(...values);
    };
    // substr counts characters, as spread does: a plain comparison, where LIKE would read % and _.
    if (filter.prefix !== '') where(`substr(${KEY}, 1, ?) = ?`, [...filter.prefix].length, filter.prefix);
    if (filter.dataset !== undefined) where(`json_extract(record, '$.dataset') = ?`, filter.dataset);
    if (filter.state !== undefined) where(`json_extract(record, '$.state') = ?`, filter.state);
    if (filter.since !== undefined) where(`${FIRST_SEEN} >= ?`, filter.since);
    if (filter.until !== undefined) where(`${FIRST_SEEN} < ?`, filter.until);
    if (after) {
      where(
        `(${FIRST_SEEN} < ? OR (${FIRST_SEEN} = ? AND (${KEY} > ? OR (${KEY} = ? AND ${VERSION} > ?))))`,
        after.firstSeenAt,
        after.firstSeenAt,
        after.key,
        after.key,
        after.version,
      );
    }
    const rows = this.sql
      .exec(
        `SELECT record FROM records WHERE ${conditions.join(' AND ')}
         ORDER BY ${FIRST_SEEN} DESC, ${KEY}, ${VERSION} LIMIT ?`,
        ...bindings,
        limit + 1,
      )
      .toArray();
    const records = rows.slice(0, limit).map((row) => JSON.parse(String(row.record)) as FileRecord);
    const last: HistoryPosition | undefined = records[records.length - 1];
    return rows.length > limit && last ? { records, cursor: historyCursor(filter, last) } : { records };
  }
}
