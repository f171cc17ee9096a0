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

/** A URL a vendor can `PUT` one object to, without credentials of its own. */
export interface SignedUpload {
  url: string;
  method: 'PUT';
  /** Headers the uploader must send exactly as given. */
  headers: Record<string, string>;
  key: string;
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
  createUploadUrl(request: UploadUrlRequest): Promise<SignedUpload>;
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
  /** Small string attributes a sink may carry natively (Pub/Sub attributes, SQS message attributes). */
  attributes?: Record<string, string>;
}

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

export type FileState = 'processing' | 'ingested' | 'rejected' | 'failed';

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
}

export interface FileOutcome {
  state: Exclude<FileState, 'processing'>;
  dataset: string;
  schemaVersion: number;
  rowsRead: number;
  rowsPublished: number;
  rowsRejected: number;
  error?: { code: string; message: string };
}

export interface FileRecord extends FileVersionRef {
  state: FileState;
  dataset: string;
  /** Ingestion attempts of this version, replays included. */
  attempts: number;
  replays: number;
  checkpoint: Checkpoint | null;
  /** Whoever holds the lease while `processing`, and until when. */
  owner: string | null;
  leaseUntil: string | null;
  firstSeenAt: string;
  startedAt: string;
  finishedAt: string | null;
  outcome: FileOutcome | null;
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

/**
 * Durable record of which object versions were ingested, and how far an unfinished one got.
 * `claim` is atomic: of any number of concurrent claims for one version, at most one succeeds while
 * its lease is live. A claim of a version left `processing` with an expired lease, or `failed`,
 * succeeds and returns the checkpoint to resume from.
 */
export interface Ledger {
  claim(ref: FileVersionRef, request: ClaimRequest): Promise<ClaimResult>;
  /** Records progress and extends the lease; fails with `LEASE_LOST` when `owner` no longer holds it. */
  checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number): Promise<void>;
  /** Ends the attempt; fails with `LEASE_LOST` when `owner` no longer holds the lease. */
  finish(ref: FileVersionRef, owner: string, outcome: FileOutcome): Promise<FileRecord>;
  get(ref: FileVersionRef): Promise<FileRecord | undefined>;
  /** The record of the most recently first-seen version of `key`. */
  latest(bucket: string, key: string): Promise<FileRecord | undefined>;
  /** Versions left `processing` or `failed`: what a restarted gateway should resume. */
  unfinished(): Promise<FileRecord[]>;
}
