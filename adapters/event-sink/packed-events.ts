/**
 * Many events in one message, for sinks that bill or throttle per message (Pub/Sub bills at least 1 KB a
 * message, SQS a request per 64 KB, a Cloudflare Queue takes 5,000 messages/s): the CloudEvents JSON batch
 * format, a JSON array of structured events, content type `application/cloudevents-batch+json`. Web APIs only.
 */
import {
  PARTITION_KEY_ATTRIBUTE,
  type EventBatch,
  type OutgoingEvent,
  type PublishFailure,
} from '../ports.js';

export const CLOUDEVENTS_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

type Attributes = Readonly<Record<string, string>> | undefined;

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]
const NEWLINE = 0x0a;

export interface PackedEvents {
  /**
   * One event per message. Its body is the JSON array of its members' bodies, in order; its id is
   * `<first member's id>+<members>`, the same for the same members on every run; its attributes are the
   * first member's (a file's row events share theirs) with `content-type` set to the batch format.
   */
  messages: EventBatch;
  /** The indices, in the packed batch, of each message's events. */
  members: number[][];
}

/**
 * Packs events greedily, in order, into messages of at most `rows` events and `maxBytes` bytes of body
 * (brackets and commas counted). Events of one partition key go into messages of that key only, so a
 * message's key is each of its members' (events without a key pack together); messages come in the order
 * of their first members, which keeps each key's events in order. An event too large for a message of
 * its own still gets one, which the sink then refuses as it would have refused the event.
 */
export function packEvents(events: EventBatch, rows: number, maxBytes: number): PackedEvents {
  const members: number[][] = [];
  /** The message being filled, per partition key. */
  const filling = new Map<string | undefined, { indices: number[]; bytes: number }>();
  for (let index = 0; index < events.length; index++) {
    const size = events.body(index).byteLength + 1;
    const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
    let current = filling.get(key);
    if (current && (current.indices.length >= rows || current.bytes + size > maxBytes)) {
      members.push(current.indices);
      current = undefined;
    }
    if (!current) {
      current = { indices: [], bytes: 1 };
      filling.set(key, current);
    }
    current.indices.push(index);
    current.bytes += size;
  }
  for (const { indices } of filling.values()) members.push(indices);
  if (filling.size > 1) members.sort((left, right) => left[0]! - right[0]!);

  const bodies = members.map((indices) => {
    const body = new Uint8Array(
      1 + indices.reduce((total, index) => total + events.body(index).byteLength + 1, 0),
    );
    let offset = 0;
    for (const [position, index] of indices.entries()) {
      body[offset++] = position === 0 ? OPEN : COMMA;
      const member = events.body(index);
      body.set(member, offset);
      offset += member.byteLength;
    }
    body[offset] = CLOSE;
    return body;
  });
  const ids = members.map((indices) => `${events.id(indices[0]!)}+${indices.length}`);
  const attributes = members.map((indices) => ({
    ...events.attributes(indices[0]!),
    'content-type': CLOUDEVENTS_BATCH_CONTENT_TYPE,
  }));
  return { messages: new ListedEvents(bodies, ids, attributes), members };
}

/**
 * Publishes `events` packed `rows` to a message through `publishEach` (which sends each event it is given
 * as one message), or one event a message when `rows` is 1, and names the failures by event.
 */
export async function publishPacked(
  events: EventBatch,
  rows: number,
  maxBytes: number,
  publishEach: (messages: EventBatch) => Promise<{ failed: PublishFailure[] }>,
): Promise<{ failed: PublishFailure[] }> {
  if (rows <= 1) return publishEach(events);
  const { messages, members } = packEvents(events, rows, maxBytes);
  const { failed } = await publishEach(messages);
  return { failed: unpackFailures(failed, members) };
}

/** The failures of packed messages as failures of each of their events, by index in the packed batch. */
export function unpackFailures(failed: readonly PublishFailure[], members: number[][]): PublishFailure[] {
  return failed
    .flatMap((failure) => members[failure.index]!.map((index) => ({ ...failure, index })))
    .sort((left, right) => left.index - right.index);
}

/** An EventBatch over bodies held one array each (packed messages: few, each large). */
class ListedEvents implements EventBatch {
  constructor(
    private readonly bodies: readonly Uint8Array[],
    private readonly ids: readonly string[],
    private readonly attributeSets: readonly Attributes[],
  ) {}

  get length(): number {
    return this.bodies.length;
  }

  id(index: number): string {
    return this.ids[index]!;
  }

  body(index: number): Uint8Array {
    return this.bodies[index]!;
  }

  attributes(index: number): Attributes {
    return this.attributeSets[index];
  }

  ndjson(): Uint8Array {
    const out = new Uint8Array(this.bodies.reduce((total, body) => total + body.byteLength + 1, 0));
    let offset = 0;
    for (const body of this.bodies) {
      out.set(body, offset);
      offset += body.byteLength;
      out[offset++] = NEWLINE;
    }
    return out;
  }

  pick(indices: readonly number[]): EventBatch {
    return new ListedEvents(
      indices.map((index) => this.bodies[index]!),
      indices.map((index) => this.ids[index]!),
      indices.map((index) => this.attributeSets[index]),
    );
  }

  slice(from: number, to: number): EventBatch {
    return new ListedEvents(
      this.bodies.slice(from, to),
      this.ids.slice(from, to),
      this.attributeSets.slice(from, to),
    );
  }

  toEvents(): OutgoingEvent[] {
    const decoder = new TextDecoder();
    return this.bodies.map((body, index) => {
      const attributes = this.attributeSets[index];
      return {
        id: this.ids[index]!,
        body: decoder.decode(body),
        ...(attributes ? { attributes: { ...attributes } } : {}),
      };
    });
  }
}
