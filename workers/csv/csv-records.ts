/**
 * Streams CSV records out of decoded text with papaparse's parser, one batch per text chunk.
 *
 * Text is decoded before it reaches papaparse: its own byte path splits multi-byte characters that
 * straddle chunks. Each record carries the physical line it starts on, counting the newlines inside
 * quoted fields. A record that would hold more than `maxRecordChars` (typically an unterminated quote)
 * fails the file instead of buffering the rest of it.
 */
import Papa from 'papaparse';
import { DropgateError } from '../../adapters/errors.js';

export interface RecordBatch {
  records: string[][];
  /** The line each record starts on, 1-based. */
  lines: number[];
  /** Malformed-quote complaints by record index; the record itself is still returned. */
  problems: Map<number, string> | null;
}

export interface CsvRecordOptions {
  delimiter: string;
  quote: string;
  maxRecordChars: number;
  /** The line ending, when already known (else found in the text before parsing starts). */
  newline?: string;
  /** The line the text starts on (default 1). */
  firstLine?: number;
  /** Told the line after the last record whenever a batch is yielded: where the next text would start. */
  onLine?: (nextLine: number) => void;
}

interface ParseResult {
  data: string[][];
  errors: Array<{ code: string; message: string; row?: number }>;
  meta: { cursor: number; linebreak: string };
}

interface ParserHandle {
  parse(input: string, baseIndex: number, ignoreLastRow: boolean): ParseResult;
}

/** The options of papaparse's internal parser this module sets. */
interface ParserConfig {
  delimiter: string;
  quoteChar: string;
  escapeChar: string;
  newline: string;
  header: false;
  dynamicTyping: false;
  skipEmptyLines: false;
}

type ParserHandleClass = new (config: ParserConfig) => ParserHandle;

export async function* csvRecords(
  text: AsyncIterable<string>,
  options: CsvRecordOptions,
): AsyncGenerator<RecordBatch> {
  const Handle = (Papa as unknown as { ParserHandle: ParserHandleClass }).ParserHandle;
  // papaparse guesses the line ending once, from the first text it sees; a CRLF file whose first chunk
  // holds no line break (or ends between \r and \n) would be misread, so the ending is found first.
  /** The line ending records are split at, once known. */
  let newline = options.newline ?? '\n';
  const parserFor = (ending: string) => {
    newline = ending;
    return new Handle({
      delimiter: options.delimiter,
      quoteChar: options.quote,
      escapeChar: options.quote,
      newline: ending,
      header: false,
      dynamicTyping: false,
      skipEmptyLines: false,
    });
  };
  let handle: ParserHandle | null = options.newline === undefined ? null : parserFor(options.newline);
  let partial = '';
  let base = 0;
  let nextLine = options.firstLine ?? 1;

  /** `final`: the text's last record, which no line break ends. */
  const batchOf = (result: ParseResult, input: string, final = false): RecordBatch => {
    const records = result.data;
    const lines = new Array<number>(records.length);
    const consumed = result.meta.cursor - base;
    const breaks = newlinesIn(input, consumed);
    // Fast path: when the consumed text has no more newlines than records, no field spans lines.
    if (breaks <= records.length) {
      for (let index = 0; index < records.length; index++) lines[index] = nextLine++;
    } else {
      let spans = records.map((record) => 1 + embeddedNewlines(record));
      // In a file whose first line ends in LF and later ones in CRLF (mixed line endings), a record split
      // at \n keeps its CRLF's \r at the end of its last field: half of the line break ending it, not a
      // line of its own. A quoted last field ending in a lone \r reads the same once parsed; the text's
      // own count of line breaks says how many are halves, and when not all are, the text says which.
      const halves = spans.reduce((sum, span) => sum + span, 0) - breaks - (final ? 1 : 0);
      const endInCr = records.flatMap((record, index) =>
        record[record.length - 1]!.endsWith('\r') ? [index] : [],
      );
      if (halves > 0) {
        const exact =
          halves < endInCr.length ? recordSpans(input, records.length, options, newline) : undefined;
        if (exact) spans = exact;
        else for (const index of endInCr.slice(0, halves)) spans[index]!--;
      }
      for (let index = 0; index < records.length; index++) {
        lines[index] = nextLine;
        nextLine += spans[index]!;
      }
    }
    let problems: Map<number, string> | null = null;
    for (const error of result.errors) {
      if (error.row === undefined || error.code === 'MissingQuotes') continue;
      problems ??= new Map();
      problems.set(error.row, error.message);
    }
    options.onLine?.(nextLine);
    return { records: result.data, lines, problems };
  };

  for await (const chunk of slices(text, PARSE_SLICE_CHARS)) {
    const input = partial.length > 0 ? partial + chunk : chunk;
    if (handle === null) {
      const found = textLineBreak(input, options.quote, false);
      if (found === undefined && input.length <= options.maxRecordChars) {
        partial = input;
        continue;
      }
      handle = parserFor(found ?? '\n');
    }
    const result = handle.parse(input, base, true);
    const batch = result.data.length > 0 ? batchOf(result, input) : null;
    partial = input.substring(result.meta.cursor - base);
    base = result.meta.cursor;
    if (partial.length > options.maxRecordChars) {
      throw new DropgateError(
        'FILE_UNREADABLE',
        `record starting at line ${nextLine} exceeds ${options.maxRecordChars} characters; ` +
          'most likely a quoted field is never closed',
        { context: { line: nextLine } },
      );
    }
    if (batch) yield batch;
  }

  if (partial.length === 0) return;
  handle ??= parserFor(textLineBreak(partial, options.quote, true) ?? '\n');
  const result = handle.parse(partial, base, false);
  const unterminated = result.errors.find((error) => error.code === 'MissingQuotes');
  if (unterminated) {
    const line = nextLine + countLines(result.data.slice(0, unterminated.row ?? 0));
    throw new DropgateError(
      'FILE_UNREADABLE',
      `unterminated quoted field in the record starting at line ${line}`,
      {
        context: { line },
      },
    );
  }
  // A line ending told only at the very end (a lone CR closing a one-line text) ends the last record:
  // the empty text after it, which papaparse reads as one more record, is none.
  const ended = partial.endsWith(newline);
  if (ended && result.data.length > 1 && result.data[result.data.length - 1]!.join('') === '')
    result.data.pop();
  if (result.data.length > 0) yield batchOf(result, partial, !ended);
}

/**
 * Text is parsed this many characters at a time, so only a slice's records are alive at once: parsing a
 * 128 KiB segment whole kept ~1,300 rows alive through every scavenge, and worker threads spent 32% of
 * their time collecting garbage instead of 13%.
 */
const PARSE_SLICE_CHARS = 16 << 10;

async function* slices(text: AsyncIterable<string>, size: number): AsyncGenerator<string> {
  for await (const chunk of text) {
    if (chunk.length <= size) yield chunk;
    else for (let at = 0; at < chunk.length; at += size) yield chunk.substring(at, at + size);
  }
}

/**
 * The first line break outside quotes among `length` code units read by `codeAt`, which may be a text's
 * characters or a file's bytes (quote and line breaks are ASCII, the same code either way); undefined
 * until one is certain (a final \r may start a \r\n). The segment cut (csv-segments.ts) uses it on bytes,
 * so both find the same line ending.
 */
export function firstLineBreak(
  length: number,
  codeAt: (index: number) => number,
  quote: number,
  atEnd: boolean,
): string | undefined {
  let quoted = false;
  for (let index = 0; index < length; index++) {
    const code = codeAt(index);
    if (code === quote) quoted = !quoted;
    else if (!quoted && code === 10) return '\n';
    else if (!quoted && code === 13) {
      if (index + 1 < length) return codeAt(index + 1) === 10 ? '\r\n' : '\r';
      return atEnd ? '\r' : undefined;
    }
  }
  return undefined;
}

/** firstLineBreak over text. */
const textLineBreak = (text: string, quote: string, atEnd: boolean) =>
  firstLineBreak(text.length, (index) => text.charCodeAt(index), quote.charCodeAt(0), atEnd);

/** Line breaks in the first `end` characters of `text`: every \n, and every \r not followed by \n. */
function newlinesIn(text: string, end: number): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < end; at = text.indexOf('\n', at + 1)) count++;
  for (let at = text.indexOf('\r'); at !== -1 && at < end; at = text.indexOf('\r', at + 1)) {
    if (text.charCodeAt(at + 1) !== 10) count++;
  }
  return count;
}

/**
 * The lines each of the first `count` records of `text` spans (its own line ending included), from the
 * text itself: fields are read as papaparse reads them (a field opening with the quote runs to a quote
 * that is not doubled, which a delimiter or line ending must follow, after white space). Undefined where a record is not
 * well-formed that way; the count from the parsed fields then stands.
 */
function recordSpans(
  text: string,
  count: number,
  { delimiter, quote }: { delimiter: string; quote: string },
  newline: string,
): number[] | undefined {
  if (quote === delimiter || newline.includes(quote) || newline.includes(delimiter)) return undefined;
  const spans: number[] = [];
  let at = 0;
  for (let record = 0; record < count; record++) {
    const start = at;
    for (;;) {
      if (text.startsWith(quote, at)) {
        let closing = text.indexOf(quote, at + 1);
        while (closing !== -1 && text.startsWith(quote, closing + 1))
          closing = text.indexOf(quote, closing + 2);
        if (closing === -1) return undefined;
        at = closing + 1;
        // papaparse lets white space (a CR of a CRLF, say) stand between a closing quote and what follows.
        while (at < text.length && /\s/.test(text[at]!) && !text.startsWith(delimiter, at)) {
          if (text.startsWith(newline, at)) break;
          at++;
        }
        if (text.startsWith(delimiter, at)) {
          at += delimiter.length;
          continue;
        }
        if (at < text.length && !text.startsWith(newline, at)) return undefined;
        break;
      }
      const nextDelimiter = text.indexOf(delimiter, at);
      const nextNewline = text.indexOf(newline, at);
      if (nextDelimiter !== -1 && (nextNewline === -1 || nextDelimiter < nextNewline)) {
        at = nextDelimiter + delimiter.length;
        continue;
      }
      at = nextNewline === -1 ? text.length : nextNewline;
      break;
    }
    spans.push(1 + breaksBetween(text, start, at));
    at = Math.min(text.length, at + newline.length);
  }
  return spans;
}

/** Line breaks within text[from, to): every \n, and every \r the text does not follow with \n. */
function breaksBetween(text: string, from: number, to: number): number {
  let count = 0;
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at);
    if (code === 10 || (code === 13 && text.charCodeAt(at + 1) !== 10)) count++;
  }
  return count;
}

function countLines(records: string[][]): number {
  let lines = 0;
  for (const record of records) lines += 1 + embeddedNewlines(record);
  return lines;
}

/** Newlines inside a record's fields: each \r\n, lone \n or lone \r starts a new physical line. */
function embeddedNewlines(record: string[]): number {
  let count = 0;
  for (const field of record) {
    if (field.length === 0) continue;
    let at = field.indexOf('\n');
    while (at !== -1) {
      count++;
      at = field.indexOf('\n', at + 1);
    }
    at = field.indexOf('\r');
    while (at !== -1) {
      if (field.charCodeAt(at + 1) !== 10) count++;
      at = field.indexOf('\r', at + 1);
    }
  }
  return count;
}
