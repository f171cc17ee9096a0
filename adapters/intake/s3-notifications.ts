/**
 * S3 bucket notifications as landings, whatever envelope they arrive in: S3's own `Records[]` (straight to
 * SQS, or through SNS with raw message delivery), an SNS `Notification` wrapping it, an EventBridge
 * `Object Created` / `Object Deleted` event, and the `s3:TestEvent` S3 sends when notifications are set up.
 * Shared by the `sqs` and `sns-https` intakes. Web APIs only.
 */
import { s3ObjectVersion } from '../object-store/s3-object-version.js';
import { DropgateError } from '../errors.js';
import type { IntakeResult, Landing } from '../ports.js';

/**
 * The version token of an S3 object version, as Dropgate's `s3` store must name it too: the version id
 * when the bucket is versioned (S3 says `null` for objects written while versioning was off or suspended,
 * which names no single version), else the ETag without its double quotes (S3's `GetObject`/`HeadObject`
 * quote it; notifications do not).
 */
export function s3VersionToken(object: {
  versionId?: string | null;
  eTag?: string | null;
}): string | undefined {
  const { versionId, eTag } = object;
  if (!eTag && (!versionId || versionId === 'null')) return undefined;
  // The s3 store's own token for the same object, so a notified version and `stat` agree.
  return s3ObjectVersion({ versionId: versionId ?? null, etag: eTag ?? null });
}

/**
 * A key as S3 writes it into `Records[].s3.object.key`: form-encoded, so `+` is a space and `%2B` a plus
 * (`red+flower+%281%29.csv` is `red flower (1).csv`).
 */
export function decodeS3Key(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new DropgateError('BAD_REQUEST', `the object key ${JSON.stringify(encoded)} is not URL-encoded`, {
      context: { key: encoded },
    });
  }
}

/**
 * Compares two S3 sequencers of one key: negative when `a` is older. S3 documents the order as the
 * strings' order once the shorter is right-padded with zeros.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const left = a.toUpperCase().padEnd(width, '0');
  const right = b.toUpperCase().padEnd(width, '0');
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * The landings one notification message names. For a key named more than once in the message (two
 * uploads in one batch), only its newest record by sequencer is kept: an older version is superseded
 * before it could be read. A message naming nothing to ingest (a test event, a restore, a tagging) is
 * `ignored` with the reason. `body` is the message's JSON text, or the value already decoded from it.
 * Throws BAD_REQUEST naming the field for a message of none of these shapes.
 */
export function parseS3Notification(body: unknown, via: string): IntakeResult {
  const message = typeof body === 'string' ? parseJson(body) : body;
  if (!isObject(message)) throw badRequest('the notification is not a JSON object');
  if (message.Type === 'Notification' && typeof message.Message === 'string') {
    // SNS without raw message delivery: the S3 (or EventBridge) JSON is the envelope's Message string.
    return parseS3Notification(parseJson(message.Message, 'the SNS Message'), via);
  }
  if (message.Type === 'SubscriptionConfirmation' || message.Type === 'UnsubscribeConfirmation') {
    return { ignored: `an SNS ${message.Type} carries no object` };
  }
  if (message.Event === 's3:TestEvent') return { ignored: 'an S3 test event' };
  if (Array.isArray(message.Records)) return fromRecords(message.Records, via);
  if (message.source === 'aws.s3' && typeof message['detail-type'] === 'string') {
    return fromEventBridge(message, via);
  }
  throw badRequest(
    'the message is no S3 notification: expected S3 "Records", an SNS "Notification", an EventBridge ' +
      'event from "aws.s3", or an "s3:TestEvent"',
  );
}

function fromRecords(records: unknown[], via: string): IntakeResult {
  const landings: Landing[] = [];
  const skipped: string[] = [];
  records.forEach((record, index) => {
    const field = (path: string) => `Records[${index}].${path}`;
    if (!isObject(record)) throw badRequest(`${field('')} is not an object`);
    const eventName = String(record.eventName ?? '').replace(/^s3:/, '');
    const kind = eventName.startsWith('ObjectCreated:')
      ? 'finalized'
      : eventName.startsWith('ObjectRemoved:')
        ? 'deleted'
        : undefined;
    if (!kind) {
      skipped.push(eventName || '(no eventName)');
      return;
    }
    const s3 = isObject(record.s3) ? record.s3 : undefined;
    const bucket = isObject(s3?.bucket) ? s3.bucket.name : undefined;
    const object = isObject(s3?.object) ? s3.object : undefined;
    if (typeof bucket !== 'string' || bucket === '')
      throw badRequest(`${field('s3.bucket.name')} is missing`);
    if (typeof object?.key !== 'string' || object.key === '')
      throw badRequest(`${field('s3.object.key')} is missing`);
    const version = kind === 'finalized' ? s3VersionToken(strings(object, 'versionId', 'eTag')) : undefined;
    landings.push({
      bucket,
      key: decodeS3Key(object.key),
      ...(version ? { version } : {}),
      kind,
      via,
      ...(typeof record.eventTime === 'string' ? { eventTime: record.eventTime } : {}),
      ...(typeof object.sequencer === 'string' ? { sequencer: object.sequencer } : {}),
    });
  });
  if (landings.length === 0) {
    return { ignored: `no object created or removed (events: ${skipped.join(', ') || 'none'})` };
  }
  return { landings: newestPerKey(landings) };
}

function fromEventBridge(event: Record<string, unknown>, via: string): IntakeResult {
  const type = event['detail-type'] as string;
  const kind = type === 'Object Created' ? 'finalized' : type === 'Object Deleted' ? 'deleted' : undefined;
  if (!kind) return { ignored: `an EventBridge "${type}" event is not ingested` };
  const detail = isObject(event.detail) ? event.detail : undefined;
  const bucket = isObject(detail?.bucket) ? detail.bucket.name : undefined;
  const object = isObject(detail?.object) ? detail.object : undefined;
  if (typeof bucket !== 'string' || bucket === '') throw badRequest('detail.bucket.name is missing');
  if (typeof object?.key !== 'string' || object.key === '') throw badRequest('detail.object.key is missing');
  const { 'version-id': versionId, etag: eTag } = strings(object, 'version-id', 'etag');
  const version = kind === 'finalized' ? s3VersionToken({ versionId, eTag }) : undefined;
  return {
    landings: [
      {
        bucket,
        // EventBridge carries the key as it is: not form-encoded, unlike S3's own notifications.
        key: object.key,
        ...(version ? { version } : {}),
        kind,
        via,
        ...(typeof event.time === 'string' ? { eventTime: event.time } : {}),
        ...(typeof object.sequencer === 'string' ? { sequencer: object.sequencer } : {}),
      },
    ],
  };
}

/** Of the landings of one key, the newest by sequencer (all of them where a sequencer is missing). */
function newestPerKey(landings: Landing[]): Landing[] {
  const newest = new Map<string, Landing>();
  const kept: Landing[] = [];
  for (const landing of landings) {
    if (landing.sequencer === undefined) {
      kept.push(landing);
      continue;
    }
    const id = `${landing.bucket}\n${landing.key}`;
    const seen = newest.get(id);
    if (!seen || compareSequencers(seen.sequencer!, landing.sequencer) < 0) newest.set(id, landing);
  }
  return [...kept, ...newest.values()];
}

/**
 * Remembers, per key, the newest sequencer this process handled, so a notification older than one
 * already handled is known superseded before it reaches the ledger. Bounded: the oldest keys are
 * forgotten first, and a forgotten key is still safe (the gateway reads only the store's current version).
 */
export function createSequencerWatermark(maxKeys = 10_000) {
  const newest = new Map<string, string>();
  const id = (landing: Landing) => `${landing.bucket}\n${landing.key}`;
  return {
    /** Whether a newer notification of the landing's key was already handled here. */
    isStale(landing: Landing): boolean {
      const seen = newest.get(id(landing));
      return (
        landing.sequencer !== undefined &&
        seen !== undefined &&
        compareSequencers(landing.sequencer, seen) < 0
      );
    },
    /** Records a landing once its outcome is settled. */
    handled(landing: Landing): void {
      if (landing.sequencer === undefined) return;
      const key = id(landing);
      const seen = newest.get(key);
      if (seen !== undefined && compareSequencers(landing.sequencer, seen) <= 0) return;
      newest.delete(key);
      newest.set(key, landing.sequencer);
      if (newest.size > maxKeys) newest.delete(newest.keys().next().value!);
    },
  };
}

function strings<K extends string>(
  object: Record<string, unknown>,
  ...names: K[]
): Record<K, string | undefined> {
  return Object.fromEntries(
    names.map((name) => [name, typeof object[name] === 'string' ? object[name] : undefined]),
  ) as Record<K, string | undefined>;
}

function parseJson(text: string, what = 'the message body'): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`${what} is not JSON`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badRequest(message: string): DropgateError {
  return new DropgateError('BAD_REQUEST', `S3 notification refused: ${message}`);
}
