/** Contracts between the ingestion core and the clouds: object stores, event sinks and ledgers. */

/** What a store knows about one version of one object. */
export interface ObjectInfo {
  bucket: string;
  key: string;
  /** Bytes of the stored object (compressed size when the object is compressed). */
  size: number;
  /**
   * Opaque token naming this exact version of the object (GCS generation, S3 version id or ETag, a local
   * inode and mtime). Two different contents of one key never share a token.
   */
  version: string;
  contentType?: string;
  /** `gzip` when the object is stored compressed with a Content-Encoding. */
  contentEncoding?: string;
  /** When this version was written, RFC 3339. Stable for the life of the version. */
  updated: string;
}

export interface UploadUrlRequest {
  key: string;
  /** Largest body the URL accepts, in bytes. */
  maxBytes: number;
  contentType?: string;
  expiresInSeconds: number;
}

/**
 * How a vendor uploads one object without credentials of its own: a `PUT` of the bare file, or, where the
 * store can bound an upload's size only through a signed form policy (S3's `content-length-range`), a
 * `multipart/form-data` `POST`. Either way the store refuses the upload after `expiresAt`, for any other
 * key, and above the request's `maxBytes`.
 */
export type SignedUpload = SignedPutUpload | SignedPostUpload;

/**
 * The uploader sends `PUT url` with the file's bytes as the whole request body and every entry of
 * `headers` as a request header, name and value exactly as given (header names are lower-case).
 */
export interface SignedPutUpload {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
  /** The object key the upload lands at. */
  key: string;
  /** RFC 3339; the URL is refused from this instant on. */
  expiresAt: string;
}

/**
 * The uploader sends `POST url` with a `multipart/form-data` body: every entry of `fields` as a form
 * field, name and value exactly as given and in the order given, then the file's bytes as one more field
 * named `fileField`. The file comes last because a store may ignore fields after it (S3 does). The
 * object's content type, when the upload is signed for one, is among the `fields`.
 */
export interface SignedPostUpload {
  method: 'POST';
  url: string;
  fields: Record<string, string>;
  /** Name of the form field that carries the file: `file` for S3. */
  fileField: string;
  /** The object key the upload lands at. */
  key: string;
  /** RFC 3339; the URL is refused from this instant on. */
  expiresAt: string;
}

/**
 * One bucket. Reads are pinned to a version: a reader that asks for version V gets V's bytes or an
 * `OBJECT_VERSION_GONE` error, never the bytes of a newer upload to the same key.
 */
export interface ObjectStore {
  readonly bucket: string;
  /** CloudEvents `source` for events derived from this bucket's objects. */
  readonly source: string;
  /** Current version's metadata, or undefined when the key does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Streams the whole of `version`, from its first byte. */
  read(key: string, version: string): Promise<ReadableStream<Uint8Array>>;
  /** Bytes `[start, end)` of `version`; `end` is exclusive and clamped to the object's size. */
  readRange(key: string, version: string, start: number, end: number): Promise<Uint8Array>;
  /**
   * One page of the current version of every object whose key starts with `prefix` (`''` for the whole
   * bucket; a plain string prefix, so `vendors/ac` matches `vendors/acme/a.csv`), in ascending order of
   * the keys' UTF-8 bytes: the order of S3 and GCS listings, which is code point order and differs from
   * JavaScript's `<` only where a key holds a character above U+FFFF. A page holds at most `limit`
   * objects; it may hold fewer, even none, and still carry a `cursor`: only a page without one ends the
   * listing. Keys strictly increase across the pages of one listing, so none appears twice; an object
   * written or deleted while the listing runs may or may not appear. Each object carries `key`, `size`,
   * `version` and `updated` as `stat` gives them; `contentType` and `contentEncoding` may be left out
   * (S3 listings do not carry them). Fails BAD_REQUEST for a `limit` that is not an integer in 1-1000.
   */
  list(prefix: string, options?: ListOptions): Promise<ObjectPage>;
  /**
   * Copies `version` of `key` to `toKey`, bytes, content type and encoding alike, replacing whatever
   * `toKey` holds, and answers the copy's metadata. Only while `version` is still `key`'s current version:
   * otherwise (a newer upload replaced it, or the key is gone) it fails OBJECT_VERSION_GONE and `toKey`
   * is left as it was, so a newer upload is never archived in an older one's name.
   */
  copy(key: string, version: string, toKey: string): Promise<ObjectInfo>;
  /**
   * Deletes `key` while `version` is its current version; otherwise (a newer upload replaced it, or the
   * key is gone) fails OBJECT_VERSION_GONE and deletes nothing, so a newer upload is never deleted in an
   * older one's name. Where the store cannot make the check and the delete one request (R2, stand-ins
   * that ignore `If-Match`), an upload between the two is the only way around it.
   */
  delete(key: string, version: string): Promise<void>;
  createUploadUrl(request: UploadUrlRequest): Promise<SignedUpload>;
}

export interface ListOptions {
  /** The `cursor` of the previous page of the same listing (same prefix); opaque. */
  cursor?: string;
  /** Most objects in the page, 1-1000; 1000 when absent. */
  limit?: number;
}

export interface ObjectPage {
  objects: ObjectInfo[];
  /** Present when more objects may follow: pass it as `cursor` for the next page. */
  cursor?: string;
}

/**
 * A store whose signed uploads the gateway serves itself (the local directory, memory), where the cloud
 * stores take uploads directly. `receive` writes the whole body or nothing, and fails with
 * `PAYLOAD_TOO_LARGE` past `maxBytes` without keeping any of it.
 */
export interface UploadReceiver {
  verifyUpload(
    url: URL,
    contentType: string,
  ): Promise<{ key: string; maxBytes: number } | { reason: string }>;
  receive(
    key: string,
    body: ReadableStream<Uint8Array>,
    options: { maxBytes: number; contentType: string },
  ): Promise<ObjectInfo>;
}

/** One event ready for a sink: serialized once by the pipeline, never re-encoded by a sink. */
export interface OutgoingEvent {
  /** Stable across replays: consumers drop duplicates by it. */
  id: string;
  /** The CloudEvents JSON document. */
  body: string;
  /**
   * Small string attributes a sink may carry natively (Pub/Sub attributes, SQS message attributes).
   * `partitionkey` (PARTITION_KEY_ATTRIBUTE) is the event's CloudEvents partition key: a sink that
   * orders by key keeps the events of one key in the order they are published, retries included.
   */
  attributes?: Record<string, string>;
}

/** The attribute naming an event's partition key (the CloudEvents partitioning extension's `partitionkey`). */
export const PARTITION_KEY_ATTRIBUTE = 'partitionkey';

export interface PublishFailure {
  /** Index into the whole batch given to `publish`, however the sink split it. */
  index: number;
  message: string;
  /** Whether publishing the same event again can succeed. */
  retryable: boolean;
}

/** What a caller may rely on from a sink, whatever its destination does inside. */
export interface SinkCapabilities {
  /**
   * Whether the events a `publish` accepts reach the destination in the batch's order, after those of
   * every `publish` that resolved before it was called. An event published again (a retry) comes later
   * all the same. Without it, events may arrive in any order.
   */
  ordered: boolean;
  /**
   * The largest event the sink accepts, in UTF-8 bytes of its body. `publish` reports a larger one as a
   * failure with `retryable: false` and accepts the others.
   */
  maxMessageBytes: number;
}

/**
 * The events of one `publish` call, serialized once by the pipeline: UTF-8 CloudEvents JSON bodies held
 * back to back, each followed by a newline, so an NDJSON sink appends the whole batch in one write and a
 * message sink hands each body on as a view, never re-encoding it.
 */
export interface EventBatch {
  readonly length: number;
  id(index: number): string;
  /** The event's JSON document as UTF-8, without the newline; a view into the batch. */
  body(index: number): Uint8Array;
  attributes(index: number): Readonly<Record<string, string>> | undefined;
  /** Every body followed by a newline, in order. */
  ndjson(): Uint8Array;
  /** The events at `indices`, in that order (a retry of part of a batch). */
  pick(indices: readonly number[]): EventBatch;
  /** Events `[from, to)`, a view of the same bytes (one request of a sink that splits a batch). */
  slice(from: number, to: number): EventBatch;
  /** The events as objects with string bodies; for sinks and tests that keep events, not a hot path. */
  toEvents(): OutgoingEvent[];
}

/**
 * A destination for events, addressed by topic (a Pub/Sub topic, an SQS queue, an NDJSON file).
 * `publish` takes a batch of any size: the sink splits it into requests of its destination's limits
 * (events and bytes per request) and runs up to its own number of them at once. It resolves once every
 * event not listed in `failed` is durably accepted; `failed` names events by their index in the whole
 * batch. It rejects only for faults that fail the whole batch (a missing topic, no permission), and an
 * event it can never accept (larger than `capabilities.maxMessageBytes`, say) is a failure with
 * `retryable: false`. Delivery is at least once: an event may be accepted twice across retries, always
 * with the same id. Once `publish` settles no request of it is still running, and the batch's buffers
 * are the caller's again, to reuse: a sink that keeps events keeps copies.
 */
export interface EventSink {
  readonly capabilities: SinkCapabilities;
  publish(topic: string, events: EventBatch): Promise<{ failed: PublishFailure[] }>;
  close(): Promise<void>;
}

/** Identifies one version of one object: the unit of ingestion, deduplication and replay. */
export interface FileVersionRef {
  bucket: string;
  key: string;
  version: string;
}

/**
 * `pending`: a landing is recorded and nobody has started it yet; `processing`: an owner holds a lease on
 * it; `failed`: the last attempt hit a fault and the next one resumes from its checkpoint; `ingested` and
 * `rejected` are final until a replay.
 */
export type FileState = 'pending' | 'processing' | 'ingested' | 'rejected' | 'failed';

/** A problem of a bad row, as a file summary lists the first ones. */
export interface RowError {
  row: number;
  line: number;
  field: string;
  reason: string;
}

/** How far a file got: every row up to and including `row` is durably published or dead-lettered. */
export interface Checkpoint {
  row: number;
  published: number;
  rejected: number;
  /** The file's first errors among the rows up to `row`, for the summary of an attempt that resumes. */
  firstErrors?: RowError[];
  /** The schema version the rows up to `row` were validated and stamped with; a resumed attempt keeps it. */
  schemaVersion?: number;
}

export interface FileOutcome {
  state: Exclude<FileState, 'processing'>;
  dataset: string;
  schemaVersion: number;
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
  /**
   * The file's first errors (at most ten), kept with a finished file's outcome because its checkpoint,
   * which carried them while it ran, is dropped once it is done; absent on outcomes recorded before.
   */
  firstErrors?: RowError[];
  error?: { code: string; message: string };
}

export interface FileRecord extends FileVersionRef {
  state: FileState;
  dataset: string;
  /** Ingestion attempts of this version, replays included; 0 while it is first `pending`. */
  attempts: number;
  replays: number;
  /** A replay was asked for and has not started yet: the next claim starts over from the first row. */
  replayRequested: boolean;
  checkpoint: Checkpoint | null;
  /** Whoever holds the lease while `processing`, and until when. */
  owner: string | null;
  leaseUntil: string | null;
  /** The channel that first reported the version (`local-upload`, `gcs-pubsub-push`, `cli`, ...). */
  via: string | null;
  firstSeenAt: string;
  /** When the latest attempt started; null while the version has only been recorded. */
  startedAt: string | null;
  finishedAt: string | null;
  outcome: FileOutcome | null;
}

export interface RegisterRequest {
  dataset: string;
  /** The channel the landing came through, for the record. */
  via: string;
  /** `ingest` records a version once; `replay` asks for a finished (or failed) version to start over. */
  request: 'ingest' | 'replay';
}

export interface RegisterResult {
  record: FileRecord;
  /** False when the ledger already knew the version and (for `ingest`) left it as it was. */
  changed: boolean;
}

export interface ClaimRequest {
  dataset: string;
  owner: string;
  leaseMs: number;
  /** `replay` re-ingests a finished version from its first row; `notification` ingests a version once. */
  mode: 'notification' | 'replay';
}

export type ClaimResult =
  | { claimed: true; record: FileRecord }
  | { claimed: false; record: FileRecord; reason: 'duplicate' | 'in-progress' };

export interface UnfinishedQuery {
  bucket: string;
  /** From a previous page's `cursor`. */
  cursor?: string;
  /** Most records in one page (default 100). */
  limit?: number;
}

export interface HistoryQuery {
  bucket: string;
  /** Only keys starting with this (plain string prefix). */
  prefix?: string;
  dataset?: string;
  state?: FileState;
  /** firstSeenAt >= since (RFC 3339). */
  since?: string;
  /** firstSeenAt < until (RFC 3339). */
  until?: string;
  /** From a previous page's `cursor`. */
  cursor?: string;
  /** Most records in one page (default 100, at most 1000). */
  limit?: number;
}

/**
 * Durable record of which object versions landed, which were ingested, and how far an unfinished one got.
 *
 * - `register` records a landing (`pending`) before anyone is told it was received; it is idempotent.
 * - `claim` is atomic: of any number of concurrent claims for one version, at most one succeeds while its
 *   lease is live. A claim of a `pending` version, of one left `processing` with an expired lease, or of a
 *   `failed` one succeeds and returns the checkpoint to resume from (none for a replay).
 * - Only the lease holder may `renew`, `checkpoint` or `finish`; anyone else gets `LEASE_LOST`.
 * - A ledger may know that a lease's holder cannot be alive (the local ledger holds its directory's lock,
 *   so leases granted before it opened belong to dead processes) and then treats that lease as expired.
 * - Records are one item per version; `latest` reads a per-key index, never every version of a key.
 */
export interface Ledger {
  register(ref: FileVersionRef, request: RegisterRequest): Promise<RegisterResult>;
  claim(ref: FileVersionRef, request: ClaimRequest): Promise<ClaimResult>;
  /** Extends the lease; fails with `LEASE_LOST` when `owner` no longer holds it. */
  renew(ref: FileVersionRef, owner: string, leaseMs: number): Promise<void>;
  /** Records progress and extends the lease; fails with `LEASE_LOST` when `owner` no longer holds it. */
  checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number): Promise<void>;
  /** Ends the attempt; fails with `LEASE_LOST` when `owner` no longer holds the lease. */
  finish(ref: FileVersionRef, owner: string, outcome: FileOutcome): Promise<FileRecord>;
  get(ref: FileVersionRef): Promise<FileRecord | undefined>;
  /** The record of the most recently first-seen version of `key`. */
  latest(bucket: string, key: string): Promise<FileRecord | undefined>;
  /**
   * One page of the bucket's `pending`, `processing` and `failed` versions: what a restarted gateway or
   * another instance must finish. Pages follow a stable order; `cursor` is absent on the last page. A
   * version that becomes unfinished while paging may or may not appear.
   */
  unfinished(query: UnfinishedQuery): Promise<{ records: FileRecord[]; cursor?: string }>;
  /**
   * One page of the bucket's records, one per object version, newest first (firstSeenAt descending, then
   * key and version ascending), filtered by the query. A page may hold fewer than `limit` records, even
   * none, and still carry a `cursor`; only a page without one ends the history. Each record appears once
   * across the pages of one history.
   * Keys and versions compare by their UTF-8 bytes, as in `ObjectStore.list`. Fails BAD_REQUEST, naming
   * the field, for a `limit` that is not an integer in 1-1000, a `since` or `until` that is not an RFC 3339
   * instant, an unknown `state`, and a `cursor` not handed out by a page of a history with the same
   * bucket and filters.
   */
  history(query: HistoryQuery): Promise<{ records: FileRecord[]; cursor?: string }>;
}

/**
 * Where a walk through a bucket's listing, one bounded step per invocation (the Worker's scheduled
 * backfill), keeps its place between invocations, which share no memory: one cursor per name.
 */
export interface ListingCursors {
  /** The cursor saved under `name`; undefined: the walk starts from the beginning. */
  readCursor(bucket: string, name: string): Promise<string | undefined>;
  /**
   * Saves `next` under `name` (undefined: the walk ended, the next starts over) if the saved cursor is
   * still `previous`; false, saving nothing, when another step moved it meanwhile.
   */
  saveCursor(
    bucket: string,
    name: string,
    previous: string | undefined,
    next: string | undefined,
  ): Promise<boolean>;
}

/** A bucket's word that an object version landed (or went), whatever cloud and channel it came through. */
export interface Landing {
  bucket: string;
  key: string;
  /** The version the provider names (GCS generation, S3 version id or ETag, R2 etag); absent: current. */
  version?: string;
  kind: 'finalized' | 'deleted';
  /** The intake it came through: `local-upload`, `gcs-pubsub-push`, `sqs`, ... */
  via: string;
  /** When the provider says the event happened, RFC 3339. */
  eventTime?: string;
  /**
   * Orders the landings of one key, where the provider gives an order (S3's `sequencer`: hexadecimal,
   * compared as strings after right-padding the shorter with zeros); meaningless across keys.
   */
  sequencer?: string;
}

/** What an intake made of one inbound message or request. */
export type IntakeResult =
  | { landings: Landing[]; reply?: Record<string, unknown> }
  | { ignored: string; reply?: Record<string, unknown> };

/** What became of one landing. `ack` is true when the landing needs nothing more from its sender. */
export interface LandingOutcome {
  landing: Landing;
  status:
    | 'pending'
    | 'ingested'
    | 'rejected'
    | 'duplicate'
    | 'ignored'
    | 'missing'
    | 'superseded'
    | 'in-progress'
    | 'failed';
  ack: boolean;
  /** For `ignored`, `in-progress` and `failed`: why. */
  reason?: string;
  /** Seconds after which a redelivery may succeed (a lease held elsewhere, a fault's backoff). */
  retryAfterSeconds?: number;
}

/**
 * How an intake's messages are handled: `background` acknowledges once each landing is recorded in the
 * ledger and ingests afterwards (a process that keeps running: the local gateway, a queue consumer that
 * holds its message); `inline` ingests within the request and acknowledges once the events are durable,
 * the file was rejected or it is a known duplicate (Cloud Run throttles CPU outside a request).
 */
export type IntakeMode = 'background' | 'inline';

/**
 * An inbound HTTP channel for landings: a provider's request in, landings (or a reason to ignore it) out,
 * and the answer that acknowledges it or asks for a redelivery. `receive` authenticates the request and
 * throws a DropgateError (`UNAUTHORIZED`, `FORBIDDEN`, `BAD_REQUEST`, ...) for one it refuses.
 */
export interface HttpIntake {
  readonly type: string;
  readonly method: 'POST' | 'PUT';
  /** Hono route pattern, e.g. `/v1/local-uploads/*`. */
  readonly path: string;
  readonly mode: IntakeMode;
  receive(request: Request): Promise<IntakeResult>;
  /** The HTTP answer: a 2xx exactly when every outcome is acknowledged. */
  respond(result: IntakeResult, outcomes: LandingOutcome[]): Response;
}

/**
 * A channel whose notifications arrive as messages on a queue (SQS, Cloudflare Queues). Each message is
 * parsed on its own and its landings are ingested `inline`; the message is then settled from their
 * outcomes (adapters/intake/queue-messages.ts): deleted only when every outcome is `ack`, otherwise left
 * for redelivery after `retryAfterSeconds`, so the queue's own redrive policy dead-letters a message that
 * keeps failing. `parse` throws a DropgateError `BAD_REQUEST` naming what is wrong with a body it cannot
 * read; such a message is left for redelivery too, and so reaches the dead-letter queue, never dropped.
 */
export interface QueueIntake {
  readonly type: string;
  /** One message's body: a string (SQS), or the value a queue already decoded (Cloudflare Queues' JSON). */
  parse(body: unknown): IntakeResult;
}

/** What a queue consumer does with one message once its landings are handled. */
export type MessageSettlement =
  { settle: 'ack' } | { settle: 'retry'; retryAfterSeconds: number; reason: string };

/**
 * A queue intake that pulls its messages itself (SQS long polling) inside a running gateway; a runtime
 * that pushes batches to a handler (a Workers `queue()` handler) calls the shared settlement instead.
 */
export interface QueueConsumer extends QueueIntake {
  /** Starts receiving; each message's landings go to `accept` (the gateway's, inline). */
  start(accept: (result: IntakeResult) => Promise<LandingOutcome[]>): void;
  /**
   * Stops receiving and waits for the messages in flight (the gateway's shutdown stops their ingestions at
   * the next block); a message still unsettled after the grace period is abandoned: made visible again
   * for redelivery, never deleted unless its events were durable.
   */
  stop(): Promise<void>;
}
