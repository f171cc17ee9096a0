/**
 * What the SQS sinks share, whatever sends their requests (the AWS SDK on Node, signed fetch on Workers):
 * SQS's limits, each event one message with its CloudEvents attributes as message attributes, FIFO
 * groups and deduplication ids, packing, SendMessageBatch requests cut to the limits and a few in flight,
 * failed entries and refused requests mapped onto events. Web APIs only.
 */
import { DropgateError, describeError } from '../../errors.js';
import { retryWithBackoff, type RetryPolicy } from '../../retry.js';
import {
  PARTITION_KEY_ATTRIBUTE,
  type EventBatch,
  type EventSink,
  type PublishFailure,
} from '../../ports.js';
import { KeyOrder, keysOf, pausedMessage, publishInKeyOrder, type OrderedCall } from '../key-order.js';
import { publishPacked } from '../packed-events.js';
import { publishInRequests, RequestSlots } from '../publish-in-requests.js';
import { utf8Length } from '../utf8-length.js';

/**
 * SQS counts a message as its body plus, per attribute, the bytes of its name, data type and value, and
 * holds a message and a whole SendMessageBatch request to 1 MiB each (raised from 256 KiB in August 2025).
 */
export const SQS_MAX_REQUEST_BYTES = 1 << 20;
export const SQS_MAX_REQUEST_ENTRIES = 10;
export const SQS_MAX_MESSAGE_ATTRIBUTES = 10;
/**
 * Room kept in every message for its attributes: the largest body the sink promises to take is 1 MiB
 * less this, and attributes that would not fit in it are left off (the body carries them all).
 */
export const SQS_ATTRIBUTE_ROOM = 8 << 10;

/** The largest body the sink takes: what `capabilities.maxMessageBytes` promises. */
const MAX_BODY_BYTES = SQS_MAX_REQUEST_BYTES - SQS_ATTRIBUTE_ROOM;
const STRING = 'String';
/** SQS's characters for a deduplication id: letters, digits and ASCII punctuation, at most 128. */
const DEDUPLICATION_ID = /^[\x21-\x7e]{1,128}$/;
const encoder = new TextEncoder();

/** SQS's shapes, as its JSON protocol names them (the SDK's input and output are the same). */
export interface SqsMessageAttribute {
  DataType: string;
  StringValue: string;
}

export interface SqsBatchEntry {
  Id: string;
  MessageBody: string;
  MessageAttributes: Record<string, SqsMessageAttribute>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

export interface SqsBatchFailure {
  Id?: string;
  SenderFault?: boolean;
  Code?: string;
  Message?: string;
}

/**
 * The two calls the sink makes, over whatever carries them. An error they throw has SQS's error name as
 * `name` (`QueueDoesNotExist`, `AccessDenied`, ...) and, when an answer came, its HTTP status as
 * `$metadata.httpStatusCode` and `$fault` (`client` for a 4xx), as the SDK's errors do.
 */
export interface SqsApi {
  getQueueUrl(queueName: string): Promise<string>;
  sendMessageBatch(request: {
    QueueUrl: string;
    Entries: SqsBatchEntry[];
  }): Promise<{ Failed?: SqsBatchFailure[] }>;
  close(): Promise<void>;
}

export interface SqsApiError {
  name?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

export interface SqsSinkOptions {
  /**
   * MessageGroupId of messages sent to a FIFO queue (a name ending in `.fifo`) that have no partition
   * key. Default: the event's `dataset` attribute, so each dataset's events stay in order, or `dropgate`
   * without one. An event's partition key (attribute `partitionkey`) is its group whatever this says.
   */
  fifoGroup?: string;
  /**
   * Queues whose events go out packed, up to N a message, in the CloudEvents batch format: SQS bills a
   * request per 64 KB, so small events cost far less packed.
   */
  rowsPerMessage?: ReadonlyMap<string, number>;
  /** SendMessageBatch requests of the whole sink in flight at once, whatever the calls (default 8). */
  maxInFlight?: number;
}

export function createSqsSink(api: SqsApi, options: SqsSinkOptions = {}): EventSink {
  const queueUrls = new Map<string, Promise<string>>();
  /** Per queue: a FIFO queue keeps each group's order as SQS receives its messages. */
  const keyOrders = new Map<string, KeyOrder>();
  const maxInFlight = options.maxInFlight ?? 8;
  // The pipeline publishes several blocks at once, each with its dead letters: the limit is the sink's.
  const slots = new RequestSlots(maxInFlight);
  const limits = {
    maxEvents: SQS_MAX_REQUEST_ENTRIES,
    maxBytes: SQS_MAX_REQUEST_BYTES,
    maxMessageBytes: SQS_MAX_REQUEST_BYTES,
    maxInFlight,
  };

  /** The queue's URL: a topic that is a URL names it already; a name is looked up once, then cached. */
  function queueUrlOf(topic: string): Promise<string> {
    if (/^https?:\/\//.test(topic)) return Promise.resolve(topic);
    let url = queueUrls.get(topic);
    if (!url) {
      url = api.getQueueUrl(topic).catch((error: unknown) => {
        queueUrls.delete(topic);
        throw asSinkError(error, topic);
      });
      queueUrls.set(topic, url);
    }
    return url;
  }

  return {
    // Several requests run at once, and a standard queue keeps no order anyway.
    capabilities: { ordered: false, maxMessageBytes: MAX_BODY_BYTES },
    async publish(topic: string, events: EventBatch) {
      const rows = options.rowsPerMessage?.get(topic) ?? 1;
      let order = keyOrders.get(topic);
      if (!order) keyOrders.set(topic, (order = new KeyOrder()));
      return publishInKeyOrder(order, events, (admitted, call) =>
        publishPacked(admitted, rows, MAX_BODY_BYTES, (messages) => publishEach(topic, messages, call)),
      );
    },
    close: () => api.close(),
  };

  /** Each event of the batch as one message; on a FIFO queue, each partition key's in order. */
  async function publishEach(
    topic: string,
    events: EventBatch,
    call: OrderedCall,
  ): Promise<{ failed: PublishFailure[] }> {
    if (events.length === 0) return { failed: [] };
    const queueUrl = await queueUrlOf(topic);
    const fifo = isFifoQueue(queueUrl);
    const messages = encodeMessages(events);
    // Ahead of the requests, so each is built and sent in the batch's order (a FIFO queue's order).
    const deduplicationIds = fifo
      ? await Promise.all(
          Array.from({ length: events.length }, (_, index) => deduplicationIdOf(events.id(index))),
        )
      : [];
    const groups = fifo
      ? await Promise.all(
          Array.from({ length: events.length }, (_, index) =>
            messageGroupOf(events.attributes(index), options.fifoGroup),
          ),
        )
      : [];
    // A body past what the sink promises is never planned into a request; it is refused below instead.
    const eventBytes = (_: EventBatch, index: number) =>
      events.body(index).byteLength > MAX_BODY_BYTES ? Number.MAX_SAFE_INTEGER : messages.bytes[index]!;
    const result = await publishInRequests(
      new PositionedBatch(events, 0),
      { ...limits, eventBytes },
      async (request) => {
        const { from } = request as PositionedBatch;
        // Taken as the request starts: it goes once the earlier requests with its keys have settled.
        const keys = fifo ? keysOf(request) : undefined;
        const turn = keys && keys.size > 0 ? await call.turn(keys) : undefined;
        if (turn?.paused !== undefined) {
          turn.done(true);
          const message = pausedMessage(turn.paused);
          return {
            failed: Array.from({ length: request.length }, (_, index) => ({
              index,
              message,
              retryable: true,
            })),
          };
        }
        const entries: SqsBatchEntry[] = [];
        for (let index = 0; index < request.length; index++) {
          entries.push({
            Id: String(index),
            MessageBody: messages.bodies[from + index]!,
            MessageAttributes: messages.attributes[from + index]!,
            ...(fifo
              ? {
                  MessageGroupId: groups[from + index]!,
                  MessageDeduplicationId: deduplicationIds[from + index]!,
                }
              : {}),
          });
        }
        let answer;
        const release = await slots.acquire();
        try {
          answer = await api.sendMessageBatch({ QueueUrl: queueUrl, Entries: entries });
        } catch (error) {
          turn?.done(true);
          throw asSinkError(error, topic);
        } finally {
          release();
        }
        const failed: PublishFailure[] = (answer.Failed ?? []).map((failure) => ({
          index: Number(failure.Id),
          message: `SQS refused the message: ${failure.Code ?? 'unknown'}: ${failure.Message ?? ''}`,
          // SenderFault: the message itself is wrong, and sending it again fails the same way.
          retryable: failure.SenderFault !== true,
        }));
        turn?.done(failed.some(({ retryable }) => retryable));
        return { failed };
      },
    );
    for (const failure of result.failed) {
      const bytes = events.body(failure.index).byteLength;
      if (bytes > MAX_BODY_BYTES) {
        failure.message =
          `event of ${bytes} bytes is larger than the ${MAX_BODY_BYTES} bytes an SQS message leaves ` +
          `its body (${SQS_MAX_REQUEST_BYTES} bytes a message, attributes included)`;
      }
    }
    return result;
  }
}

/**
 * A batch that knows where it starts in the batch given to `publish`, so each request finds the messages
 * encoded for its events; publishInRequests hands the sender slices of it.
 */
class PositionedBatch implements EventBatch {
  constructor(
    private readonly batch: EventBatch,
    readonly from: number,
  ) {}
  get length() {
    return this.batch.length;
  }
  id(index: number) {
    return this.batch.id(index);
  }
  body(index: number) {
    return this.batch.body(index);
  }
  attributes(index: number) {
    return this.batch.attributes(index);
  }
  ndjson() {
    return this.batch.ndjson();
  }
  pick(indices: readonly number[]) {
    return this.batch.pick(indices);
  }
  slice(from: number, to: number): EventBatch {
    return new PositionedBatch(this.batch.slice(from, to), this.from + from);
  }
  toEvents() {
    return this.batch.toEvents();
  }
}

interface EncodedMessages {
  bodies: string[];
  attributes: Array<Record<string, SqsMessageAttribute>>;
  /** What SQS counts of each message: body and attributes. */
  bytes: number[];
}

/** Each event's body decoded once into the string SQS takes, its attributes, and its size as SQS counts it. */
function encodeMessages(events: EventBatch): EncodedMessages {
  const decoder = new TextDecoder();
  // One decoding of the batch's NDJSON, cut at its newlines (JSON documents as the pipeline writes them
  // have none); a batch whose lines do not match its events is decoded event by event.
  let bodies = decoder.decode(events.ndjson()).split('\n');
  if (bodies.length === events.length + 1) bodies.pop();
  else bodies = Array.from({ length: events.length }, (_, index) => decoder.decode(events.body(index)));
  const attributes: Array<Record<string, SqsMessageAttribute>> = [];
  const bytes: number[] = [];
  const writer = new MessageAttributesWriter();
  for (let index = 0; index < events.length; index++) {
    const { values, size } = writer.write(bodies[index]!, events.id(index), events.attributes(index));
    attributes.push(values);
    bytes.push(events.body(index).byteLength + size);
  }
  return { bodies, attributes, bytes };
}

/** An attribute a message may carry after its `ce-id`, with its size as SQS counts it. */
interface AttributeCandidate {
  name: string;
  value: SqsMessageAttribute;
  bytes: number;
}

/**
 * CloudEvents attributes as SQS message attributes, `ce-` names as in the CloudEvents HTTP binding: id,
 * specversion, type, source, subject and time from the envelope, then the pipeline's own attributes
 * (dataset, schema version), within SQS's ten and the room kept for them.
 *
 * A file's events differ only in their ids: the envelope attributes read from a body are kept with the
 * part of the body before its id, and a body that starts with the same part reads the same, so each is
 * read, checked and sized once per batch instead of once per message (~9 of the ~105 CPU-µs a one-row
 * message cost on the bench).
 */
class MessageAttributesWriter {
  /** The start of the last body read (up to its id), which holds every envelope attribute read from it. */
  private head: string | undefined;
  private envelope: EnvelopeAttributes = {};
  private extra: Readonly<Record<string, string>> | undefined;
  private candidates: AttributeCandidate[] | undefined;

  write(
    body: string,
    id: string,
    extra: Readonly<Record<string, string>> | undefined,
  ): { values: Record<string, SqsMessageAttribute>; size: number } {
    if (this.head === undefined || !body.startsWith(this.head)) this.read(body);
    if (this.candidates === undefined || extra !== this.extra) {
      this.candidates = attributeCandidates(this.envelope, extra);
      this.extra = extra;
    }
    const values: Record<string, SqsMessageAttribute> = {};
    let count = 0;
    let size = 0;
    // SQS refuses an empty string value; `ce-id` is a name of its characters.
    const idBytes = 'ce-id'.length + STRING.length + utf8Length(id);
    if (id && idBytes <= SQS_ATTRIBUTE_ROOM) {
      values['ce-id'] = { DataType: STRING, StringValue: id };
      count = 1;
      size = idBytes;
    }
    for (const candidate of this.candidates) {
      if (count === SQS_MAX_MESSAGE_ATTRIBUTES) break;
      if (size + candidate.bytes > SQS_ATTRIBUTE_ROOM) continue;
      // Shared by the messages of the batch: requests only ever serialize them.
      values[candidate.name] = candidate.value;
      count++;
      size += candidate.bytes;
    }
    return { values, size };
  }

  /**
   * Reads the body's envelope attributes, and keeps the part before its `"id":"` when that part holds all
   * of them: any body starting with it finds each at the same place, closed by the same quote.
   */
  private read(body: string): void {
    this.envelope = envelopeAttributes(body);
    this.candidates = undefined;
    const idAt = body.indexOf('"id":"');
    const head = idAt === -1 ? undefined : body.slice(0, idAt);
    const inHead = head === undefined ? {} : envelopeAttributes(head);
    this.head = ENVELOPE_FIELDS.every((field) => inHead[field] !== undefined) ? head : undefined;
  }
}

/** The attributes after `ce-id`, in order, those SQS would refuse left out, each with its size. */
function attributeCandidates(
  envelope: EnvelopeAttributes,
  extra: Readonly<Record<string, string>> | undefined,
): AttributeCandidate[] {
  const candidates: Array<[string, string | undefined]> = [
    ['ce-specversion', envelope.specversion],
    ['ce-type', extra?.type ?? envelope.type],
    ['ce-source', envelope.source],
    ['ce-time', envelope.time],
    // A packed message's attributes name the batch format as its content type.
    ['content-type', extra?.['content-type'] ?? 'application/cloudevents+json'],
    ['ce-subject', envelope.subject],
  ];
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (name !== 'type' && name !== 'content-type') candidates.push([`ce-${name}`, value]);
  }
  const kept: AttributeCandidate[] = [];
  for (const [name, value] of candidates) {
    // SQS refuses an empty string value and names outside its characters.
    if (!value || !/^[A-Za-z0-9_.-]{1,256}$/.test(name)) continue;
    // The name matched ASCII characters only: its length is its bytes.
    const bytes = name.length + STRING.length + utf8Length(value);
    kept.push({ name, value: { DataType: STRING, StringValue: value }, bytes });
  }
  return kept;
}

const ENVELOPE_FIELDS = ['specversion', 'type', 'source', 'subject', 'time'] as const;
type EnvelopeAttributes = Partial<Record<(typeof ENVELOPE_FIELDS)[number], string>>;

/**
 * The envelope's string attributes, read from the part of the body before `"data":` (the pipeline writes
 * every envelope attribute before the data) without parsing the whole event. Inside a JSON string a
 * quote is always escaped, so `"name":"` only matches a member name.
 */
function envelopeAttributes(body: string): EnvelopeAttributes {
  const dataAt = body.indexOf('"data":');
  const head = dataAt === -1 ? body.slice(0, 4096) : body.slice(0, dataAt);
  const found: EnvelopeAttributes = {};
  for (const field of ENVELOPE_FIELDS) {
    const at = head.indexOf(`"${field}":"`);
    if (at === -1) continue;
    const start = at + field.length + 4;
    let end = start;
    while (end < head.length && head[end] !== '"') end += head[end] === '\\' ? 2 : 1;
    if (end >= head.length) continue;
    const text = head.slice(start, end);
    if (!text.includes('\\')) {
      found[field] = text;
      continue;
    }
    try {
      found[field] = JSON.parse(head.slice(start - 1, end + 1)) as string;
    } catch {
      // Not a string after all: the attribute is left off; the body still carries it.
    }
  }
  return found;
}

/**
 * A FIFO message's group: the event's partition key, else the sink's `fifoGroup`, else the event's
 * dataset. A key SQS would refuse (over 128 characters, or other than letters, digits and punctuation)
 * becomes its SHA-256, so one key still makes one group.
 */
export async function messageGroupOf(
  attributes: Readonly<Record<string, string>> | undefined,
  fifoGroup: string | undefined,
): Promise<string> {
  const key = attributes?.[PARTITION_KEY_ATTRIBUTE];
  if (key !== undefined) return deduplicationIdOf(key);
  return fifoGroup ?? attributes?.dataset ?? 'dropgate';
}

/**
 * The event id as a FIFO deduplication id: itself when SQS allows it (at most 128 characters of letters,
 * digits and punctuation, as the pipeline's ids are), else its SHA-256, equally stable across replays.
 */
export async function deduplicationIdOf(id: string): Promise<string> {
  if (DEDUPLICATION_ID.test(id)) return id;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(id)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function isFifoQueue(queueUrl: string): boolean {
  return queueUrl.endsWith('.fifo');
}

/** Errors whose cause is the caller's setup, not the moment: sending again cannot help. */
const REFUSED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'KmsAccessDenied',
  'KmsDisabled',
  'KmsNotFound',
  'KmsInvalidState',
  'KmsInvalidKeyUsage',
]);

/**
 * Throttling by any name the SDK knows (SQS's RequestThrottled, ThrottlingException, a JSON 429's
 * TooManyRequestsException, ...): a client fault that sending again later cures, as an HTTP 429 is.
 */
const THROTTLED = /throttl|TooManyRequests|SlowDown|LimitExceeded|PriorRequestNotComplete/i;

/** An SQS error as a sink fault: a missing queue or no permission fails the publish, the rest retry. */
function asSinkError(error: unknown, topic: string): DropgateError {
  if (error instanceof DropgateError) return error;
  const name = (error as { name?: string }).name ?? '';
  const status = (error as SqsApiError).$metadata?.httpStatusCode;
  const fault = (error as SqsApiError).$fault;
  const message = describeError(error);
  const context = { topic, awsError: name };
  if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
    return new DropgateError('CONFIG_INVALID', `SQS queue "${topic}" does not exist: ${message}`, {
      cause: error,
      context,
    });
  }
  if (REFUSED.has(name) || status === 403) {
    return new DropgateError('PUBLISH_REFUSED', `SQS refused to send to "${topic}": ${message}`, {
      cause: error,
      context,
    });
  }
  if (fault === 'client' && status !== undefined && status < 500 && status !== 429 && !THROTTLED.test(name)) {
    return new DropgateError('PUBLISH_REFUSED', `SQS refused a request to "${topic}": ${name}: ${message}`, {
      cause: error,
      context,
    });
  }
  return new DropgateError('PUBLISH_FAILED', `SQS did not take a request to "${topic}": ${message}`, {
    cause: error,
    context,
  });
}

/**
 * One call of SQS's JSON protocol, as both senders make it (the Node one on the AWS SDK's signer and HTTP
 * handler, the Workers one on aws4fetch): `attempt` signs and sends the request afresh (the signature
 * carries the time) and gives back the answer's status and text. An error answer becomes an error shaped
 * as the SDK's (sqsError); the call is made again with backoff while the error is a network error, a
 * timeout or a retryable answer (isRetryableAnswer), up to the policy's attempts; a success is parsed.
 */
export function callSqs<T>(
  action: string,
  attempt: () => Promise<{ status: number; text: string }>,
  retry: RetryPolicy,
): Promise<T> {
  return retryWithBackoff(
    async () => {
      const { status, text } = await attempt();
      if (status >= 300) throw sqsError(action, status, text);
      return JSON.parse(text) as T;
    },
    { ...retry, retryable: (error) => isRetryableAnswer(error as SqsApiError) },
  );
}

/**
 * An error answer of the JSON protocol (`{ "__type": "com.amazonaws.sqs#QueueDoesNotExist", "message" }`)
 * in the shape the shared sink reads: the error's short name, the status, whose fault.
 */
function sqsError(action: string, status: number, text: string): Error {
  let type = '';
  let message = text.slice(0, 500);
  try {
    const answer = JSON.parse(text) as { __type?: string; message?: string; Message?: string };
    type = answer.__type?.split('#').pop() ?? '';
    message = answer.message ?? answer.Message ?? message;
  } catch {
    // Not SQS's error JSON (a proxy's page): the status alone says what it was.
  }
  const error = new Error(`${action}: HTTP ${status}${type ? ` ${type}` : ''}: ${message}`);
  return Object.assign(error, {
    name: type || `HTTP${status}`,
    $fault: status < 500 ? 'client' : 'server',
    $metadata: { httpStatusCode: status },
  });
}

/**
 * Whether an error says the same request can succeed later: no answer (a network error, a timeout), an
 * outage, throttling (SQS's throttling errors come as HTTP 400).
 */
function isRetryableAnswer(error: SqsApiError): boolean {
  const status = error.$metadata?.httpStatusCode;
  return (
    status === undefined ||
    status >= 500 ||
    status === 408 ||
    status === 429 ||
    THROTTLED.test(error.name ?? '')
  );
}
