/** Serialized events held as one UTF-8 buffer with an end offset per event: the pipeline's EventBatch. */
import type { EventBatch, OutgoingEvent } from '../adapters/ports.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Attributes = Readonly<Record<string, string>> | undefined;

export class EncodedEvents implements EventBatch {
  /**
   * @param bytes   bodies back to back, each followed by a newline
   * @param ends    `ends[i]` is the offset just past event i's newline
   * @param idOf    the id of event i (row events derive it from their row, so no string is kept per event)
   */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly ends: Uint32Array,
    private readonly idOf: (index: number) => string,
    private readonly attributesOf: (index: number) => Attributes,
  ) {}

  static of(events: readonly OutgoingEvent[]): EncodedEvents {
    const text = events.map((event) => `${event.body}\n`);
    const bytes = encoder.encode(text.join(''));
    return new EncodedEvents(
      bytes,
      endOffsets(text, bytes.length),
      (index) => events[index]!.id,
      (index) => events[index]!.attributes,
    );
  }

  get length(): number {
    return this.ends.length;
  }

  get byteLength(): number {
    return this.ends.length === 0 ? 0 : this.ends[this.ends.length - 1]!;
  }

  /** Offset just past event `index`'s newline. */
  end(index: number): number {
    return this.ends[index]!;
  }

  id(index: number): string {
    return this.idOf(index);
  }

  body(index: number): Uint8Array {
    return this.bytes.subarray(this.startOf(index), this.ends[index]! - 1);
  }

  attributes(index: number): Attributes {
    return this.attributesOf(index);
  }

  ndjson(): Uint8Array {
    return this.bytes.subarray(0, this.byteLength);
  }

  /** Events `[from, to)` as a view of the same buffer. */
  slice(from: number, to: number): EncodedEvents {
    const start = this.startOf(from);
    const ends = this.ends.slice(from, to);
    for (let index = 0; index < ends.length; index++) ends[index]! -= start;
    return new EncodedEvents(
      this.bytes.subarray(start, start + (ends.length > 0 ? ends[ends.length - 1]! : 0)),
      ends,
      (index) => this.idOf(from + index),
      (index) => this.attributesOf(from + index),
    );
  }

  pick(indices: readonly number[]): EncodedEvents {
    let size = 0;
    for (const index of indices) size += this.ends[index]! - this.startOf(index);
    const bytes = new Uint8Array(size);
    const ends = new Uint32Array(indices.length);
    let offset = 0;
    indices.forEach((index, position) => {
      bytes.set(this.bytes.subarray(this.startOf(index), this.ends[index]!), offset);
      offset += this.ends[index]! - this.startOf(index);
      ends[position] = offset;
    });
    return new EncodedEvents(
      bytes,
      ends,
      (position) => this.idOf(indices[position]!),
      (position) => this.attributesOf(indices[position]!),
    );
  }

  toEvents(): OutgoingEvent[] {
    return Array.from({ length: this.length }, (_, index) => {
      const attributes = this.attributesOf(index);
      return {
        id: this.idOf(index),
        body: decoder.decode(this.body(index)),
        ...(attributes ? { attributes: { ...attributes } } : {}),
      };
    });
  }

  private startOf(index: number): number {
    return index === 0 ? 0 : this.ends[index - 1]!;
  }
}

/**
 * End offsets, in bytes, of `parts` (each ending in a newline) once encoded as `byteLength` bytes of
 * UTF-8. Text that is all ASCII encodes one byte per character, so only other text is measured part by
 * part.
 */
export function endOffsets(parts: readonly string[], byteLength: number): Uint32Array {
  const ends = new Uint32Array(parts.length);
  let offset = 0;
  let chars = 0;
  for (const part of parts) chars += part.length;
  const ascii = chars === byteLength;
  for (let index = 0; index < parts.length; index++) {
    offset += ascii ? parts[index]!.length : utf8Length(parts[index]!);
    ends[index] = offset;
  }
  return ends;
}

/** Bytes `text` takes as UTF-8, counting a lone surrogate as the 3 bytes of U+FFFD, as TextEncoder does. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      length += 4;
      index++;
    } else length += 3;
  }
  return length;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
