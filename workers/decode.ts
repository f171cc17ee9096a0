/**
 * Bytes to text: gunzip when the data is gzip, then decode with the dataset's encoding, as Web Streams.
 * UTF-8 is decoded here; other encodings by the runtime's injected TextDecoding (text-decoding.ts).
 */
import { concatBytes, streamWithHead } from './byte-streams.js';
import { DropgateError } from '../adapters/errors.js';
import type { ChunkDecoder, TextDecoding } from './text-decoding.js';
import type { DecompressionLimits } from '../schemas/dataset.js';

const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

/** Whether a dataset may name `label` as its encoding on a runtime that decodes with `decoding`. */
export function canDecode(label: string, decoding: TextDecoding): boolean {
  return isUtf8(label) || decoding.supports(label);
}

/** The file's bytes, gunzipped when they are gzip (by magic number), with read errors made DropgateErrors. */
export async function plainBytes(
  bytes: ReadableStream<Uint8Array>,
  options: {
    expectGzip: boolean;
    /** Bounds on the decompressed size, with the object's (compressed) size they are measured against. */
    limits?: DecompressionLimits & { compressedBytes: number };
  },
): Promise<ReadableStream<Uint8Array>> {
  const source = mapErrors(bytes, (error) => ({
    code: 'OBJECT_READ_FAILED',
    message: `reading the object failed: ${(error as Error).message}`,
  }));
  const { head, stream } = await peek(source, 2);
  const isGzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (options.expectGzip && !isGzip) {
    throw new DropgateError('FILE_UNREADABLE', 'file is named or marked gzip but does not hold gzip data');
  }
  if (!isGzip) return stream;
  // The Web types want chunks backed by an ArrayBuffer (never shared memory), which every store's are.
  const gunzip = new DecompressionStream('gzip') as TransformStream<Uint8Array, Uint8Array>;
  const plain = mapErrors(stream.pipeThrough(gunzip), (error) => ({
    code: 'FILE_UNREADABLE',
    message: `gzip data is corrupt or truncated (${(error as Error).message})`,
  }));
  return options.limits ? plain.pipeThrough(bounded(options.limits)) : plain;
}

/** Ratios are only judged past this much output: a small file may compress very well and do no harm. */
const RATIO_FLOOR = 64 << 20;

/** Passes decompressed bytes on until they exceed the limits, then fails the file with the reason. */
function bounded(
  limits: DecompressionLimits & { compressedBytes: number },
): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  const ratioCap = Math.max(RATIO_FLOOR, limits.maxRatio * limits.compressedBytes);
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.byteLength;
      if (total > limits.maxBytes) {
        throw new DropgateError(
          'FILE_UNREADABLE',
          `gzip data decompresses to more than ${limits.maxBytes} bytes, the dataset's decompression.maxBytes`,
        );
      }
      if (total > ratioCap) {
        throw new DropgateError(
          'FILE_UNREADABLE',
          `gzip data decompresses to more than ${limits.maxRatio} times its ${limits.compressedBytes} bytes ` +
            `(the dataset's decompression.maxRatio): refused as a decompression bomb`,
        );
      }
      controller.enqueue(chunk);
    },
  });
}

/**
 * Decodes plain bytes as text in `encoding`; a leading byte-order mark is dropped. Encodings other than
 * UTF-8 need `decoding`; without one, or when it does not know the encoding, this throws CONFIG_INVALID.
 */
export function decodeText(
  plain: ReadableStream<Uint8Array>,
  encoding: string,
  decoding?: TextDecoding,
): ReadableStream<string> {
  if (isUtf8(encoding)) return decodeUtf8Text(plain);
  if (!decoding?.supports(encoding)) {
    throw new DropgateError(
      'CONFIG_INVALID',
      `csv.encoding ${encoding} cannot be decoded: this runtime was given no decoder for it`,
    );
  }
  return plain.pipeThrough(chunkDecoderStream(decoding.decoder(encoding)));
}

/**
 * Decodes plain UTF-8 bytes as text; bytes that are not UTF-8 reject the file. A leading BOM is dropped,
 * unless `keepBom` (the bytes start past the file's own BOM, so one there is text).
 */
export function decodeUtf8Text(
  plain: ReadableStream<Uint8Array>,
  { keepBom = false }: { keepBom?: boolean } = {},
): ReadableStream<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: keepBom });
  return plain.pipeThrough(
    new TransformStream<Uint8Array, string>({
      transform(chunk, controller) {
        const text = decodeOrReject(() => decoder.decode(chunk, { stream: true }));
        if (text) controller.enqueue(text);
      },
      flush(controller) {
        const rest = decodeOrReject(() => decoder.decode());
        if (rest) controller.enqueue(rest);
      },
    }),
  );
}

export function isUtf8(encoding: string): boolean {
  return UTF8_LABELS.has(encoding.toLowerCase());
}

/** Decodes one whole piece of a UTF-8 file that starts and ends between characters; a BOM is kept. */
export function decodeUtf8Piece(bytes: Uint8Array): string {
  return decodeOrReject(() => pieceDecoder.decode(bytes));
}

const pieceDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function chunkDecoderStream(decoder: ChunkDecoder): TransformStream<Uint8Array, string> {
  return new TransformStream<Uint8Array, string>({
    transform(chunk, controller) {
      const text = decoder.write(chunk);
      if (text) controller.enqueue(text);
    },
    flush(controller) {
      const rest = decoder.end();
      if (rest) controller.enqueue(rest);
    },
  });
}

function decodeOrReject(decode: () => string): string {
  try {
    return decode();
  } catch (error) {
    throw new DropgateError(
      'FILE_UNREADABLE',
      "file is not valid UTF-8 (set the dataset's csv.encoding, e.g. windows-1252)",
      { cause: error },
    );
  }
}

interface ErrorMapping {
  code: 'OBJECT_READ_FAILED' | 'FILE_UNREADABLE';
  message: string;
}

/** Passes chunks through; turns errors that are not already DropgateErrors into one. */
function mapErrors<T>(source: ReadableStream<T>, map: (error: unknown) => ErrorMapping): ReadableStream<T> {
  const reader = source.getReader();
  return new ReadableStream<T>(
    {
      async pull(controller) {
        try {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          if (error instanceof DropgateError) throw error;
          const { code, message } = map(error);
          throw new DropgateError(code, message, { cause: error });
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Reads at least `count` bytes (unless the stream is shorter) and returns them with an equivalent stream. */
async function peek(
  bytes: ReadableStream<Uint8Array>,
  count: number,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = bytes.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < count) {
    const next = await reader.read();
    if (next.done) break;
    chunks.push(next.value);
    length += next.value.byteLength;
  }
  const head = concatBytes(chunks, length);
  const stream = streamWithHead(head, reader);
  return { head, stream };
}
