/** Serialized events held as one UTF-8 buffer with an end offset per event: the pipeline's EventBatch. */
import type { EventBatch, OutgoingEvent } from '../adapters/ports.js';
import { concatBytes } from './byte-streams.js';

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

  /** Encodes events built one by one (summaries, dead letters); row events come encoded in blocks. */
  static of(events: readonly OutgoingEvent[]): EncodedEvents {
    const encoded = events.map((event) => encoder.encode(`${event.body}\n`));
    const ends = new Uint32Array(encoded.length);
    let offset = 0;
    for (let index = 0; index < encoded.length; index++) {
      offset += encoded[index]!.length;
      ends[index] = offset;
    }
    return new EncodedEvents(
      concatBytes(encoded, offset),
      ends,
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
