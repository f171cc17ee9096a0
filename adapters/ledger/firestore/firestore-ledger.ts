/**
 * A ledger in Firestore (native mode), shared by every instance of a deployment. One document per object
 * version in `<prefix>versions`, named by a hash of bucket, key and version (object keys may hold `/` and
 * run past what a document id allows); one document per key in `<prefix>keys` naming its latest version.
 * Every change reads its version's document, decides with the same rules as every other ledger
 * (ledger-rules.ts), and writes only if the document is still as read, so of concurrent claims on any
 * number of instances at most one wins. A version's document carries `unfinishedIn: <bucket>` exactly while it is pending,
 * processing or failed: `unfinished` pages an equality query on that one field ordered by document id,
 * which Firestore's automatic single-field indexes serve, so no composite index is needed.
 */
import { createHash } from 'node:crypto';
import { FieldPath, FieldValue, Firestore, Timestamp, type DocumentData } from '@google-cloud/firestore';
import { DropgateError } from '../../errors.js';
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
  Ledger,
  RegisterRequest,
  RowError,
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

export interface FirestoreLedgerOptions {
  projectId: string;
  /** The Firestore database; `(default)` when absent. */
  databaseId?: string;
  /** Put in front of the collections' names (`versions`, `keys`), so deployments can share a database. */
  collectionPrefix?: string;
  /**
   * Days a finished (ingested or rejected) version's record is kept, for a Firestore TTL policy on the
   * field `expireAt` to delete it after; absent: records carry no `expireAt` and are kept.
   */
  retentionDays?: number;
  now?: () => number;
}

export interface FirestoreLedger extends Ledger {
  close(): Promise<void>;
}

interface KeyIndex {
  bucket: string;
  key: string;
  latestVersion: string;
}

/** The field that puts a version in its bucket's unfinished listing; absent once the version is finished. */
const UNFINISHED_FIELD = 'unfinishedIn';
/** The field a TTL policy deletes finished records by; only finished records carry it. */
const EXPIRY_FIELD = 'expireAt';
const INTERNAL_FIELDS = [UNFINISHED_FIELD, EXPIRY_FIELD];

/**
 * gRPC status codes after which the same call can succeed: the service was unreachable, overloaded or
 * slow, or aborted the call for contention.
 */
const TRANSIENT_CODES = new Map([
  [4, 'DEADLINE_EXCEEDED'],
  [8, 'RESOURCE_EXHAUSTED'],
  [10, 'ABORTED'],
  [14, 'UNAVAILABLE'],
]);

/**
 * Most documents one history page reads while a prefix filter, which Firestore cannot apply together with
 * the range on `firstSeenAt`, leaves them out; the page then ends short, with a cursor.
 */
const HISTORY_SCAN_BUDGET = 1000;

/** A create of a document that exists, an update of one changed since it was read: a lost race. */
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;

/**
 * Reads and conditional writes of one change before giving up. Each lost race means another write
 * landed, so a change loses this often only to a record rewritten without pause.
 */
const WRITE_ATTEMPTS = 25;

/**
 * Longest text kept of one row error's field or reason and of an outcome's error message. A column name
 * comes from the file itself and may be of any length; capped, a record stays far below Firestore's 1 MiB
 * per document (at most 20 first errors of two capped strings each, at most 4 bytes a character: under 200 KB).
 */
const MAX_TEXT = 1024;
/** The pipeline keeps 10 first errors; a ledger shared with another version of it stays bounded all the same. */
const MAX_FIRST_ERRORS = 20;

/** The streamed calls (reads and queries) with no retry in the transport: the client retries them already. */
const NO_TRANSPORT_RETRIES = {
  retry_codes: { none: [] },
  methods: Object.fromEntries(
    ['BatchGetDocuments', 'RunQuery', 'RunAggregationQuery'].map((method) => [
      method,
      { retry_codes_name: 'none' },
    ]),
  ),
};

const hash = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

export function createFirestoreLedger(options: FirestoreLedgerOptions): FirestoreLedger {
  const now = options.now ?? Date.now;
  const databaseId = options.databaseId ?? '(default)';
  const prefix = options.collectionPrefix ?? '';
  // FIRESTORE_EMULATOR_HOST, when set, points the client at the emulator with no credentials.
  const firestore = new Firestore({
    projectId: options.projectId,
    databaseId,
    ignoreUndefinedProperties: true,
    // The client itself tries a read or query five times (about 8 s of backoff between). Left alone, the
    // transport under it retried each try twice more, so an unreachable Firestore took some 45 s to
    // report; with these, about 10 s.
    gaxServerStreamingRetries: true,
    clientConfig: { interfaces: { 'google.firestore.v1.Firestore': NO_TRANSPORT_RETRIES } },
  });
  const versions = firestore.collection(`${prefix}versions`);
  const keys = firestore.collection(`${prefix}keys`);
  const versionDocument = (ref: FileVersionRef) => versions.doc(hash(ref.bucket, ref.key, ref.version));
  const keyDocument = (bucket: string, key: string) => keys.doc(hash(bucket, key));
  const documentOf = (record: FileRecord) => documentFor(record, options.retentionDays);
  const where = `Firestore database ${databaseId} of project ${options.projectId}`;

  /** Runs a call to Firestore, turning its failures into DropgateErrors that say whether to retry. */
  async function guard<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof DropgateError) throw error;
      const code = (error as { code?: unknown }).code;
      const message = `${operation} failed in ${where}: ${(error as Error).message ?? String(error)}`;
      const transient = typeof code === 'number' ? TRANSIENT_CODES.get(code) : undefined;
      if (transient) {
        throw new DropgateError('LEDGER_UNAVAILABLE', message, {
          cause: error,
          context: { code: transient },
        });
      }
      // A missing role or database is mended by the operator, after which the same call succeeds.
      const hint =
        code === 7 || code === 16
          ? ' (the service account needs roles/datastore.user on the project)'
          : code === 5
            ? ' (does the database exist, in Firestore native mode?)'
            : '';
      throw new DropgateError('INTERNAL', `${message}${hint}`, { cause: error, context: { code } });
    }
  }

  /**
   * Reads the version's record, lets `change` decide, and writes what it returns only if nobody wrote the
   * record in between (a create, or an update conditioned on the update time read); otherwise reads again
   * and decides anew. Compare-and-set rather than a transaction: transactions lock what they read, and
   * claims racing for one version then wait on each other's locks (the emulator resolves such deadlocks
   * by a lock timeout of seconds), where a lost compare-and-set costs one read.
   */
  function update<T>(
    operation: string,
    ref: FileVersionRef,
    change: (existing: FileRecord | undefined) => { record?: FileRecord; result: T },
  ): Promise<T> {
    const document = versionDocument(ref);
    return guard(`${operation} of ${ref.bucket}/${ref.key}@${ref.version}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const snapshot = await document.get();
        const existing = snapshot.exists ? recordOf(snapshot.data()!) : undefined;
        const { record, result } = change(existing);
        if (!record) return result;
        const batch = firestore.batch();
        if (!snapshot.exists) {
          batch.create(document, documentOf(record));
          // The version's first sighting names it the key's latest, in the same atomic write.
          const index: KeyIndex = { bucket: ref.bucket, key: ref.key, latestVersion: ref.version };
          batch.set(keyDocument(ref.bucket, ref.key), index);
        } else {
          const fields = documentOf(record);
          for (const field of INTERNAL_FIELDS) fields[field] ??= FieldValue.delete();
          batch.update(document, fields, { lastUpdateTime: snapshot.updateTime! });
        }
        try {
          await batch.commit();
          return result;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code !== ALREADY_EXISTS && code !== FAILED_PRECONDITION) throw error;
          if (attempt === WRITE_ATTEMPTS) {
            throw new DropgateError(
              'LEDGER_UNAVAILABLE',
              `${operation} of ${ref.bucket}/${ref.key}@${ref.version} lost ${attempt} races for its record in a row`,
              { cause: error },
            );
          }
        }
      }
    });
  }

  async function read(ref: FileVersionRef): Promise<FileRecord | undefined> {
    const snapshot = await versionDocument(ref).get();
    return snapshot.exists ? recordOf(snapshot.data()!) : undefined;
  }

  return {
    register(ref: FileVersionRef, request: RegisterRequest) {
      return update('register', ref, (existing) => {
        const result = decideRegister(existing, ref, request, now());
        return { record: result.changed ? result.record : undefined, result };
      });
    },
    claim(ref: FileVersionRef, request: ClaimRequest) {
      return update('claim', ref, (existing) => {
        const result = decideClaim(existing, ref, request, now());
        return { record: result.claimed ? result.record : undefined, result };
      });
    },
    renew(ref: FileVersionRef, owner: string, leaseMs: number) {
      return update('renew', ref, (existing) => ({
        record: applyRenew(existing, ref, owner, leaseMs, now()),
        result: undefined,
      }));
    },
    checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number) {
      return update('checkpoint', ref, (existing) => ({
        record: applyCheckpoint(existing, ref, owner, checkpoint, leaseMs, now()),
        result: undefined,
      }));
    },
    finish(ref: FileVersionRef, owner: string, outcome: FileOutcome) {
      return update('finish', ref, (existing) => {
        const record = bounded(applyFinish(existing, ref, owner, outcome, now()));
        return { record, result: record };
      });
    },
    get(ref: FileVersionRef) {
      return guard(`reading ${ref.bucket}/${ref.key}@${ref.version}`, () => read(ref));
    },
    latest(bucket: string, key: string) {
      return guard(`reading the latest version of ${bucket}/${key}`, async () => {
        const snapshot = await keyDocument(bucket, key).get();
        if (!snapshot.exists) return undefined;
        const index = snapshot.data() as KeyIndex;
        return read({ bucket, key, version: index.latestVersion });
      });
    },
    async unfinished(query: UnfinishedQuery) {
      const limit = query.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new DropgateError('BAD_REQUEST', `limit must be an integer in 1-1000, not ${limit}`);
      }
      const { cursor } = query;
      if (cursor !== undefined && !/^[0-9a-f]{64}$/.test(cursor)) {
        throw new DropgateError('BAD_REQUEST', 'cursor is not one this ledger handed out');
      }
      return guard(`listing unfinished versions of bucket ${query.bucket}`, async () => {
        // One more than asked for tells whether another page follows.
        let page = versions
          .where(UNFINISHED_FIELD, '==', query.bucket)
          .orderBy(FieldPath.documentId())
          .limit(limit + 1);
        if (cursor !== undefined) page = page.startAfter(cursor);
        const { docs } = await page.get();
        const records = docs.slice(0, limit).map((snapshot) => recordOf(snapshot.data()));
        return docs.length > limit ? { records, cursor: docs[limit - 1]!.id } : { records };
      });
    },
    /**
     * Reads the bucket's documents in the history's order with the equality and time filters applied by
     * Firestore (one composite index per combination, firestore.indexes.json): `limit + 1` documents per
     * query. The key prefix is checked here, reading on until the page is full or HISTORY_SCAN_BUDGET
     * documents were read.
     */
    async history(query: HistoryQuery) {
      const { filter, limit, after } = planHistory(query);
      let ordered = versions.where('bucket', '==', filter.bucket);
      if (filter.dataset !== undefined) ordered = ordered.where('dataset', '==', filter.dataset);
      if (filter.state !== undefined) ordered = ordered.where('state', '==', filter.state);
      if (filter.since !== undefined) ordered = ordered.where('firstSeenAt', '>=', filter.since);
      if (filter.until !== undefined) ordered = ordered.where('firstSeenAt', '<', filter.until);
      ordered = ordered.orderBy('firstSeenAt', 'desc').orderBy('key').orderBy('version');
      // Firestore answers a query whose composite index is missing with FAILED_PRECONDITION (the emulator
      // needs none): the operator creates the indexes, after which the same query succeeds.
      const missingIndex = (error: unknown) =>
        new DropgateError(
          'CONFIG_INVALID',
          `the load history needs composite indexes ${where} lacks: create those of firestore.indexes.json ` +
            `(the README's Firestore section has the commands): ${(error as Error).message}`,
          { cause: error },
        );
      return guard(`reading the history of bucket ${filter.bucket}`, async () => {
        const records: FileRecord[] = [];
        let position: HistoryPosition | undefined = after;
        let read = 0;
        for (;;) {
          const from = position
            ? ordered.startAfter(position.firstSeenAt, position.key, position.version)
            : ordered;
          const { docs } = await from
            .limit(limit + 1)
            .get()
            .catch((error: unknown) => {
              throw (error as { code?: unknown }).code === FAILED_PRECONDITION ? missingIndex(error) : error;
            });
          for (const snapshot of docs) {
            // Another document follows a full page: the page ends here, with a cursor.
            if (records.length === limit) return { records, cursor: historyCursor(filter, position!) };
            const record = recordOf(snapshot.data());
            position = record;
            read++;
            if (record.key.startsWith(filter.prefix)) records.push(record);
          }
          if (docs.length <= limit) return { records };
          if (read >= HISTORY_SCAN_BUDGET) return { records, cursor: historyCursor(filter, position!) };
        }
      });
    },
    close: () => firestore.terminate(),
  };
}

/**
 * The document of a record: its fields, the unfinished listing's field while it is unfinished, and once it
 * is ingested or rejected, when records are kept `retentionDays`, the instant a TTL policy may delete it.
 */
function documentFor(record: FileRecord, retentionDays: number | undefined): DocumentData {
  const document: DocumentData = { ...bounded(record) };
  if (isUnfinished(record)) document[UNFINISHED_FIELD] = record.bucket;
  const finished = record.state === 'ingested' || record.state === 'rejected';
  if (finished && retentionDays !== undefined && record.finishedAt !== null) {
    const expiry = Date.parse(record.finishedAt) + retentionDays * 86_400_000;
    document[EXPIRY_FIELD] = Timestamp.fromMillis(expiry);
  }
  return document;
}

function recordOf(document: DocumentData): FileRecord {
  const record = { ...document };
  for (const field of INTERNAL_FIELDS) delete record[field];
  return record as FileRecord;
}

/** The record with its free texts capped (see MAX_TEXT); unchanged when none is that long. */
function bounded(record: FileRecord): FileRecord {
  const cap = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);
  const boundedErrors = (errors: RowError[]) =>
    errors.slice(0, MAX_FIRST_ERRORS).map((error) => ({
      ...error,
      field: cap(error.field),
      reason: cap(error.reason),
    }));
  const { checkpoint, outcome } = record;
  return {
    ...record,
    checkpoint:
      checkpoint?.firstErrors === undefined
        ? checkpoint
        : { ...checkpoint, firstErrors: boundedErrors(checkpoint.firstErrors) },
    outcome:
      outcome === null
        ? outcome
        : {
            ...outcome,
            ...(outcome.firstErrors ? { firstErrors: boundedErrors(outcome.firstErrors) } : {}),
            ...(outcome.error
              ? { error: { code: outcome.error.code, message: cap(outcome.error.message) } }
              : {}),
          },
  };
}
