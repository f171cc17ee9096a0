/** What the object-store contract suites share: bodies as streams, byte comparisons, expected error codes. */
import { expect } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';

/** A little over three megabytes: more than any one chunk a store reads or writes at a time. */
export const LARGE = 3 * 1024 * 1024 + 12_345;

export const UNSAFE_KEYS = [
  { label: 'a parent segment', key: '../x' },
  { label: 'a parent segment further in', key: 'a/../../x' },
  { label: 'a leading slash', key: '/abs' },
  { label: 'an empty segment', key: 'a//b' },
  { label: 'a "." segment', key: 'a/./b' },
  { label: 'no characters at all', key: '' },
  { label: 'a NUL character', key: 'a\u0000b' },
  { label: 'a newline', key: 'line\nbreak' },
  { label: 'a DEL character', key: 'del\u007f' },
];

/** A stream of `bytes` in chunks of `chunkSize`, the way an HTTP body arrives. */
export function streamOf(bytes: Uint8Array | string, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** A body that delivers `bytes` and then fails, like a client that disconnects mid-upload. */
export function failingStreamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new Error('client went away'));
      controller.enqueue(bytes.slice());
      sent = true;
    },
  });
}

/** The rest of a reader's bytes, after the `chunks` already taken from it. */
export async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, chunks: Uint8Array[] = []) {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks);
    chunks.push(value);
  }
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return drain(stream.getReader());
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Compares bytes without handing vitest a multi-megabyte diff. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0);
}

/** Orders two strings by their UTF-8 bytes, the order a listing must follow. */
export function compareUtf8(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

export async function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

export async function expectCode(promise: Promise<unknown>, code: string) {
  const result = await outcome(promise);
  expect(result).toHaveProperty('error');
  const error = 'error' in result ? result.error : undefined;
  expect(isDropgateError(error) ? error.code : error).toBe(code);
}
