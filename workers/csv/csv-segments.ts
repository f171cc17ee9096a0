/**
 * Cuts a CSV file's bytes into segments of whole records, so segments can be parsed in parallel and
 * still give exactly the records a single parser would.
 *
 * Record ends are found on the bytes, as papaparse finds them in text: a field that starts with the
 * quote runs to the quote that is not doubled, and must then end at a delimiter or a line ending; a
 * quote anywhere else is plain data. Delimiter, quote and line ending are ASCII, so no UTF-8 character
 * can hide one. Anything this scan cannot be sure of (a closing quote followed by other text, a quote
 * never closed, a record longer than the limit, a line ending not yet seen) ends the segments: the rest
 * of the file, from the last record end, goes to the sequential parser, which decides it exactly.
 */

import { concatBytes, streamWithHead } from '../byte-streams.js';
import { firstLineBreak } from './csv-records.js';

export type CsvPiece =
  /** The file's line ending, found before anything else is cut. */
  | { kind: 'start'; newline: string }
  /** The header record, with its line ending. */
  | { kind: 'header'; bytes: Uint8Array }
  /** Whole records, each with its line ending (the file's last one may have none). */
  | { kind: 'segment'; bytes: Uint8Array; records: number; emptyRecords: number }
  /** Everything from a record boundary to the end of the file, for the sequential parser. */
  | { kind: 'rest'; bytes: ReadableStream<Uint8Array>; newline?: string };

export interface CsvPieceOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  /** Segments end at the first record end at or past this many bytes. */
  segmentBytes: number;
  /** A record longer than this is left to the sequential parser (which rejects an overlong one). */
  maxRecordBytes: number;
}

const NEED_MORE = -1;
const UNSURE = -2;
/** Not a line ending (an offset past one is always positive). */
const NO_ENDING = 0;
const CR = 13;
const LF = 10;
const BOM = [0xef, 0xbb, 0xbf];

/** Whether `csvPieces` can cut files with these options (single ASCII delimiter and quote). */
export function canCutRecords(options: { delimiter: string; quote: string }): boolean {
  const ascii = (text: string) => text.length === 1 && text.charCodeAt(0) < 0x80;
  return (
    ascii(options.delimiter) &&
    ascii(options.quote) &&
    options.delimiter !== options.quote &&
    ![CR, LF].includes(options.delimiter.charCodeAt(0)) &&
    ![CR, LF].includes(options.quote.charCodeAt(0))
  );
}

export async function* csvPieces(
  source: ReadableStream<Uint8Array>,
  options: CsvPieceOptions,
): AsyncGenerator<CsvPiece> {
  const reader = source.getReader();
  const delimiter = options.delimiter.charCodeAt(0);
  const quote = options.quote.charCodeAt(0);
  let buffer: Uint8Array = new Uint8Array(0);
  let done = false;

  /** Appends at least `bytes` more bytes (or what is left), keeping `buffer[from..]`. */
  const readMore = async (from: number, bytes: number) => {
    const chunks: Uint8Array[] = [buffer.subarray(from)];
    let length = buffer.length - from;
    const target = length + bytes;
    while (!done && length < target) {
      const next = await reader.read();
      if (next.done) done = true;
      else {
        chunks.push(next.value);
        length += next.value.length;
      }
    }
    buffer = concatBytes(chunks, length);
  };
  const rest = (from: number, newline?: string): CsvPiece => ({
    kind: 'rest',
    bytes: streamWithHead(buffer.subarray(from), reader),
    ...(newline ? { newline } : {}),
  });

  // The line ending, as the sequential parser finds it: the first one outside quotes.
  let newline: string | undefined;
  for (;;) {
    const bytes = buffer;
    newline = firstLineBreak(bytes.length, (index) => bytes[index]!, quote, done);
    if (newline !== undefined || done || buffer.length > options.maxRecordBytes) break;
    await readMore(0, options.segmentBytes);
  }
  let position = startsWith(buffer, BOM) ? BOM.length : 0;
  if (newline === undefined) {
    yield rest(position);
    return;
  }
  yield { kind: 'start', newline };
  const cut = recordCutter(newline, delimiter, quote);

  let headerPending = options.header;
  let start = position;
  let records = 0;
  let emptyRecords = 0;
  const segment = (): CsvPiece => {
    const piece: CsvPiece = { kind: 'segment', bytes: buffer.slice(start, position), records, emptyRecords };
    start = position;
    records = 0;
    emptyRecords = 0;
    return piece;
  };

  for (;;) {
    if (records > 0 && position - start >= options.segmentBytes) yield segment();
    if (position === buffer.length && done) break;
    const end = position === buffer.length ? NEED_MORE : cut(buffer, position, done);
    if (end === NEED_MORE && !done && buffer.length - position <= options.maxRecordBytes) {
      await readMore(start, options.segmentBytes);
      position -= start;
      start = 0;
      continue;
    }
    if (end < 0 || end - position > options.maxRecordBytes) {
      if (records > 0) yield segment();
      yield rest(position, headerPending ? undefined : newline);
      return;
    }
    if (headerPending) {
      headerPending = false;
      yield { kind: 'header', bytes: buffer.slice(position, end) };
      position = end;
      start = end;
      continue;
    }
    records++;
    if (isEmptyRecord(buffer, position, cut.contentEnd, quote)) emptyRecords++;
    position = end;
  }
  if (records > 0) yield segment();
}

interface RecordCutter {
  /**
   * The offset just past the record starting at `at` and its line ending; NEED_MORE when the buffer ends
   * first (and more may come), UNSURE when the record is not one this scan can be certain of.
   */
  (buffer: Uint8Array, at: number, atEnd: boolean): number;
  /** Where the last record's content ended (before its line ending). */
  contentEnd: number;
}

function recordCutter(newline: string, delimiter: number, quote: number): RecordCutter {
  const crlf = newline === '\r\n';
  const last = newline === '\r' ? CR : LF;

  /** The offset past a line ending at `at`, NO_ENDING when there is none there, NEED_MORE when unsure yet. */
  const endingAt = (buffer: Uint8Array, at: number, atEnd: boolean): number => {
    const byte = buffer[at];
    if (!crlf) return byte === last ? at + 1 : NO_ENDING;
    if (byte !== CR) return NO_ENDING;
    if (at + 1 >= buffer.length) return atEnd ? NO_ENDING : NEED_MORE;
    return buffer[at + 1] === LF ? at + 2 : NO_ENDING;
  };

  const cutter = ((buffer: Uint8Array, at: number, atEnd: boolean): number => {
    // Fast path: the next line ending comes before any quote.
    let ending = buffer.indexOf(last, at);
    if (crlf) {
      while (ending !== -1 && (ending === at || buffer[ending - 1] !== CR)) {
        ending = buffer.indexOf(LF, ending + 1);
      }
    }
    // The next quote is looked up again only once passed, or the whole scan would be quadratic.
    if (quoteIn !== buffer || (nextQuote !== -1 && nextQuote < at)) {
      quoteIn = buffer;
      nextQuote = buffer.indexOf(quote, at);
    }
    if (ending !== -1 && (nextQuote === -1 || nextQuote > ending)) {
      cutter.contentEnd = crlf ? ending - 1 : ending;
      return ending + 1;
    }
    if (ending === -1 && nextQuote === -1) {
      if (!atEnd) return NEED_MORE;
      cutter.contentEnd = buffer.length;
      return buffer.length;
    }
    return slowCut(buffer, at, atEnd);
  }) as RecordCutter;
  cutter.contentEnd = 0;
  let quoteIn: Uint8Array | null = null;
  let nextQuote = -1;

  const slowCut = (buffer: Uint8Array, at: number, atEnd: boolean): number => {
    const length = buffer.length;
    let index = at;
    let fieldStart = true;
    for (;;) {
      if (index >= length) {
        if (!atEnd) return NEED_MORE;
        cutter.contentEnd = length;
        return length;
      }
      if (fieldStart && buffer[index] === quote) {
        let from = index + 1;
        for (;;) {
          const closing = buffer.indexOf(quote, from);
          if (closing === -1) return atEnd ? UNSURE : NEED_MORE;
          if (closing + 1 >= length) {
            if (!atEnd) return NEED_MORE;
            index = closing + 1;
            break;
          }
          if (buffer[closing + 1] === quote) {
            from = closing + 2;
            continue;
          }
          index = closing + 1;
          break;
        }
        if (index >= length) continue;
        if (buffer[index] === delimiter) {
          index++;
          continue;
        }
        const end = endingAt(buffer, index, atEnd);
        if (end === NEED_MORE) return NEED_MORE;
        if (end === NO_ENDING) return UNSURE;
        cutter.contentEnd = index;
        return end;
      }
      if (buffer[index] === delimiter) {
        index++;
        fieldStart = true;
        continue;
      }
      const end = endingAt(buffer, index, atEnd);
      if (end === NEED_MORE) return NEED_MORE;
      if (end !== NO_ENDING) {
        cutter.contentEnd = index;
        return end;
      }
      index++;
      fieldStart = false;
    }
  };
  return cutter;
}

/**
 * Whether the record's content is what papaparse reads as one empty field, which the parser skips as a
 * blank line (unless the schema has one column): nothing at all, or a quoted empty field (`""`).
 */
function isEmptyRecord(buffer: Uint8Array, start: number, end: number, quote: number): boolean {
  return end === start || (end === start + 2 && buffer[start] === quote && buffer[start + 1] === quote);
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}
