/**
 * A CloudEvents JSON document in the binary content mode of the Pub/Sub binding
 * (github.com/googleapis/google-cloudevents, docs/spec/pubsub.md): every attribute, extensions included,
 * becomes a Pub/Sub attribute `ce-<name>` in its canonical string form, `datacontenttype` becomes
 * `content-type`, and the message data is the event's `data` as-is: the bytes of its JSON text, a view
 * into the body, never re-encoded.
 */

export interface BinaryMessage {
  data: Uint8Array;
  attributes: Record<string, string>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The event `body` (a CloudEvents JSON object, as the pipeline serializes it) as a binary-mode message.
 * Throws an Error saying why for a body that is not a JSON object or holds an attribute that is an
 * object or an array (CloudEvents attributes are scalars).
 */
export function binaryMessage(body: Uint8Array): BinaryMessage {
  const members = topLevelMembers(body);
  const attributes: Record<string, string> = {};
  let data: Uint8Array = new Uint8Array(0);
  let dataIsString = false;
  let dataBase64: string | undefined;
  let contentType: string | undefined;
  for (const { key, start, end } of members) {
    const first = body[start]!;
    if (key === 'data') {
      dataIsString = first === QUOTE;
      data = body.subarray(start, end);
      continue;
    }
    if (first === 0x6e /* null: an attribute that is absent */) continue;
    if (first === 0x7b || first === 0x5b) {
      throw new Error(
        `attribute "${key}" is an ${first === 0x7b ? 'object' : 'array'}, not a CloudEvents value`,
      );
    }
    const value = first === QUOTE ? jsonString(body, start, end) : decoder.decode(body.subarray(start, end));
    if (key === 'data_base64') dataBase64 = value;
    else if (key === 'datacontenttype') contentType = value;
    else attributes[`ce-${key}`] = value;
  }
  if (dataBase64 !== undefined) {
    data = Uint8Array.from(atob(dataBase64), (character) => character.charCodeAt(0));
  } else if (dataIsString && contentType !== undefined && !isJson(contentType)) {
    // A string for a content type other than JSON carries the content itself, not a JSON text of it.
    data = new TextEncoder().encode(jsonString(data, 0, data.length));
  }
  // JSON data without a declared content type is JSON (CloudEvents JSON format, 3.1.1).
  const type = contentType ?? (data.length > 0 && dataBase64 === undefined ? 'application/json' : undefined);
  if (type !== undefined) attributes['content-type'] = type;
  return { data, attributes };
}

function isJson(contentType: string): boolean {
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || media === 'text/json' || media.endsWith('+json');
}

/** The decoded value of the JSON string at `[start, end)` (its quotes included). */
function jsonString(bytes: Uint8Array, start: number, end: number): string {
  const inner = bytes.subarray(start + 1, end - 1);
  return inner.includes(BACKSLASH)
    ? (JSON.parse(decoder.decode(bytes.subarray(start, end))) as string)
    : decoder.decode(inner);
}

interface Member {
  key: string;
  /** The value's JSON text is `[start, end)`. */
  start: number;
  end: number;
}

/** The members of the JSON object `bytes`, keys decoded, values as byte ranges; a later duplicate wins. */
function topLevelMembers(bytes: Uint8Array): Member[] {
  const members = new Map<string, Member>();
  const fail = (position: number, what: string): never => {
    throw new Error(`event body is not a JSON object: ${what} at byte ${position}`);
  };
  let position = skipSpace(bytes, 0);
  if (bytes[position] !== 0x7b) fail(position, 'expected "{"');
  position = skipSpace(bytes, position + 1);
  if (bytes[position] === 0x7d) return [];
  for (;;) {
    if (bytes[position] !== QUOTE) fail(position, 'expected a key');
    const keyEnd = stringEnd(bytes, position);
    if (keyEnd < 0) fail(position, 'unterminated key');
    const key = jsonString(bytes, position, keyEnd);
    position = skipSpace(bytes, keyEnd);
    if (bytes[position] !== 0x3a) fail(position, 'expected ":"');
    const start = skipSpace(bytes, position + 1);
    const end = valueEnd(bytes, start);
    if (end <= start) fail(start, 'expected a value');
    members.delete(key);
    members.set(key, { key, start, end });
    position = skipSpace(bytes, end);
    if (bytes[position] === 0x2c) {
      position = skipSpace(bytes, position + 1);
      continue;
    }
    if (bytes[position] === 0x7d) break;
    fail(position, 'expected "," or "}"');
  }
  return [...members.values()];
}

function skipSpace(bytes: Uint8Array, position: number): number {
  while (position < bytes.length) {
    const byte = bytes[position]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    position++;
  }
  return position;
}

/** Just past the closing quote of the string opening at `start`; -1 when it never closes. */
function stringEnd(bytes: Uint8Array, start: number): number {
  for (let position = start + 1; position < bytes.length; position++) {
    const byte = bytes[position]!;
    if (byte === BACKSLASH) position++;
    else if (byte === QUOTE) return position + 1;
  }
  return -1;
}

/** Just past the JSON value starting at `start`: a string, an object or array (nesting), or a scalar. */
function valueEnd(bytes: Uint8Array, start: number): number {
  const first = bytes[start];
  if (first === QUOTE) return stringEnd(bytes, start);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    for (let position = start; position < bytes.length; position++) {
      const byte = bytes[position]!;
      if (byte === QUOTE) {
        position = stringEnd(bytes, position) - 1;
        if (position < 0) return -1;
      } else if (byte === 0x7b || byte === 0x5b) depth++;
      else if (byte === 0x7d || byte === 0x5d) {
        if (--depth === 0) return position + 1;
      }
    }
    return -1;
  }
  let position = start;
  while (position < bytes.length) {
    const byte = bytes[position]!;
    if (
      byte === 0x2c ||
      byte === 0x7d ||
      byte === 0x5d ||
      byte === 0x20 ||
      byte === 0x0a ||
      byte === 0x0d ||
      byte === 0x09
    ) {
      break;
    }
    position++;
  }
  return position;
}
