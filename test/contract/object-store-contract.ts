/**
 * The contract every ObjectStore that also serves its own uploads (UploadReceiver) must pass: version-pinned
 * reads, exclusive and clamped ranges, all-or-nothing uploads, safe keys, and signed upload URLs.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ObjectStore, SignedPutUpload, SignedUpload, UploadReceiver } from '../../adapters/ports.js';
import { createUploadSigner } from '../../adapters/object-store/upload-signature.js';
import { isDropgateError } from '../../adapters/errors.js';

export interface ObjectStoreSubject {
  store: ObjectStore & UploadReceiver;
  /** Files an upload left behind outside the bucket (temporary files); none once an upload has ended. */
  leftovers?: () => Promise<string[]>;
  dispose?: () => Promise<void>;
}

const LARGE = 3 * 1024 * 1024 + 12_345;
const UNSAFE_KEYS = [
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
function failingStreamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new Error('client went away'));
      controller.enqueue(bytes.slice());
      sent = true;
    },
  });
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, chunks: Uint8Array[] = []) {
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
function expectSameBytes(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0);
}

/** The upload as a PUT, which every store that receives its own uploads issues. */
function asPut(signed: SignedUpload): SignedPutUpload {
  if (signed.method !== 'PUT') throw new Error(`expected a PUT upload, got ${signed.method}`);
  return signed;
}

async function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const result = await outcome(promise);
  expect(result).toHaveProperty('error');
  const error = 'error' in result ? result.error : undefined;
  expect(isDropgateError(error) ? error.code : error).toBe(code);
}

export function objectStoreContract(name: string, factory: () => Promise<ObjectStoreSubject>) {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ObjectStoreSubject;
    let store: ObjectStore & UploadReceiver;

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterEach(async () => {
      vi.useRealTimers();
      await subject.dispose?.();
    });

    const upload = (key: string, bytes: Uint8Array | string, maxBytes = 64 * 1024 * 1024) =>
      store.receive(key, streamOf(bytes), { maxBytes, contentType: 'text/csv' });

    describe('stat', () => {
      it('returns undefined for a key that does not exist', async () => {
        expect(await store.stat('vendors/acme/orders/missing.csv')).toBeUndefined();
      });

      it('describes a received object: bucket, key, size, a version and when it was written', async () => {
        const received = await upload('vendors/acme/orders/a.csv', 'id,amount\n1,2\n');
        const info = await store.stat('vendors/acme/orders/a.csv');
        expect(info).toBeDefined();
        expect(info).toMatchObject({ bucket: store.bucket, key: 'vendors/acme/orders/a.csv', size: 14 });
        expect(info?.version).toEqual(expect.any(String));
        expect(info?.version).not.toBe('');
        expect(info?.version).toBe(received.version);
        expect(received.size).toBe(14);
        expect(Number.isNaN(Date.parse(info?.updated ?? ''))).toBe(false);
        expect(info?.updated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      });

      it('reports the same version and updated time for as long as the version lives', async () => {
        await upload('stable.csv', 'a\n');
        const first = await store.stat('stable.csv');
        await new Promise((resolve) => setTimeout(resolve, 15));
        const second = await store.stat('stable.csv');
        expect(second?.version).toBe(first?.version);
        expect(second?.updated).toBe(first?.updated);
      });

      it('receives an empty body as an empty object', async () => {
        const info = await upload('empty.csv', new Uint8Array(0));
        expect(info.size).toBe(0);
        expect((await store.stat('empty.csv'))?.size).toBe(0);
        expect((await readAll(await store.read('empty.csv', info.version))).byteLength).toBe(0);
      });
    });

    describe('read', () => {
      it('streams the exact bytes of a multi-megabyte object', async () => {
        const payload = new Uint8Array(randomBytes(LARGE));
        const info = await store.receive('vendors/acme/orders/big.bin', streamOf(payload, 100_000), {
          maxBytes: LARGE,
          contentType: 'application/octet-stream',
        });
        expect(info.size).toBe(LARGE);
        expectSameBytes(
          await readAll(await store.read('vendors/acme/orders/big.bin', info.version)),
          payload,
        );
      });

      it('can read the same version more than once', async () => {
        const info = await upload('twice.csv', 'x,y\n');
        const first = await readAll(await store.read('twice.csv', info.version));
        const second = await readAll(await store.read('twice.csv', info.version));
        expect(new TextDecoder().decode(first)).toBe('x,y\n');
        expect(new TextDecoder().decode(second)).toBe('x,y\n');
      });

      it('fails with OBJECT_VERSION_GONE for a version the key never had', async () => {
        const info = await upload('known.csv', 'a\n');
        await expectCode(store.read('known.csv', `${info.version}-nope`), 'OBJECT_VERSION_GONE');
        await expectCode(store.readRange('known.csv', `${info.version}-nope`, 0, 1), 'OBJECT_VERSION_GONE');
      });

      it('fails with a DropgateError for a key that does not exist', async () => {
        const result = await outcome(store.read('never-written.csv', '1'));
        expect(result).toHaveProperty('error');
        const error = 'error' in result ? result.error : undefined;
        expect(isDropgateError(error) ? error.code : error).toMatch(/^OBJECT_(VERSION_GONE|NOT_FOUND)$/);
      });
    });

    describe('readRange', () => {
      const text = '0123456789abcdefghij';
      let version: string;
      beforeEach(async () => {
        version = (await upload('range.txt', text)).version;
      });
      const range = async (start: number, end: number) =>
        new TextDecoder().decode(await store.readRange('range.txt', version, start, end));

      it('returns bytes [start, end) with end exclusive', async () => {
        expect(await range(0, 10)).toBe('0123456789');
        expect(await range(3, 4)).toBe('3');
        expect(await range(10, 20)).toBe('abcdefghij');
      });

      it('clamps end to the size of the object', async () => {
        expect(await range(15, 1_000)).toBe('fghij');
        expect(await range(0, Number.MAX_SAFE_INTEGER)).toBe(text);
      });

      it('returns no bytes for an empty range or one past the end', async () => {
        expect(await range(5, 5)).toBe('');
        expect(await range(20, 30)).toBe('');
        expect(await range(25, 30)).toBe('');
      });

      it('reads ranges of a multi-megabyte object exactly', async () => {
        const payload = new Uint8Array(randomBytes(LARGE));
        const info = await store.receive('big-range.bin', streamOf(payload), {
          maxBytes: LARGE,
          contentType: 'application/octet-stream',
        });
        const start = 1024 * 1024 - 7;
        const end = 2 * 1024 * 1024 + 13;
        expectSameBytes(
          await store.readRange('big-range.bin', info.version, start, end),
          payload.subarray(start, end),
        );
        expectSameBytes(
          await store.readRange('big-range.bin', info.version, LARGE - 100, LARGE + 100),
          payload.subarray(LARGE - 100),
        );
      });
    });

    describe('versions', () => {
      it('gives a second upload to the same key a different version and the new bytes', async () => {
        const first = await upload('orders.csv', 'first upload\n');
        const second = await upload('orders.csv', 'second upload, longer\n');
        expect(second.version).not.toBe(first.version);
        const info = await store.stat('orders.csv');
        expect(info?.version).toBe(second.version);
        expect(info?.size).toBe(22);
        const bytes = await readAll(await store.read('orders.csv', second.version));
        expect(new TextDecoder().decode(bytes)).toBe('second upload, longer\n');
      });

      it('never serves the new bytes for the old version: old bytes or OBJECT_VERSION_GONE', async () => {
        const first = await upload('orders.csv', 'old old old\n');
        await upload('orders.csv', 'NEW NEW NEW\n');

        const read = await outcome(store.read('orders.csv', first.version).then(readAll));
        if ('value' in read) expect(new TextDecoder().decode(read.value)).toBe('old old old\n');
        else expect(isDropgateError(read.error, 'OBJECT_VERSION_GONE')).toBe(true);

        const range = await outcome(store.readRange('orders.csv', first.version, 0, 100));
        if ('value' in range) expect(new TextDecoder().decode(range.value)).toBe('old old old\n');
        else expect(isDropgateError(range.error, 'OBJECT_VERSION_GONE')).toBe(true);
      });

      it('gives every one of many quick successive uploads its own version', async () => {
        const versions = new Set<string>();
        for (let index = 0; index < 40; index++) {
          versions.add((await upload('churn.csv', `upload number ${index}\n`)).version);
        }
        expect(versions.size).toBe(40);
      });

      it('keeps a read opened before a replacement on the old bytes', async () => {
        const old = new Uint8Array(randomBytes(LARGE));
        const replacement = new Uint8Array(randomBytes(LARGE));
        const first = await store.receive('pinned.bin', streamOf(old), {
          maxBytes: LARGE,
          contentType: 'application/octet-stream',
        });
        const reader = (await store.read('pinned.bin', first.version)).getReader();
        const head = await reader.read();
        expect(head.done).toBe(false);

        const second = await store.receive('pinned.bin', streamOf(replacement), {
          maxBytes: LARGE,
          contentType: 'application/octet-stream',
        });
        expect(second.version).not.toBe(first.version);

        expectSameBytes(await drain(reader, head.value ? [head.value] : []), old);
        expectSameBytes(await readAll(await store.read('pinned.bin', second.version)), replacement);
      });
    });

    describe('receive', () => {
      it('accepts a body of exactly maxBytes', async () => {
        const info = await upload('exact.csv', '12345', 5);
        expect(info.size).toBe(5);
      });

      it('fails PAYLOAD_TOO_LARGE past maxBytes and keeps no object', async () => {
        const payload = new Uint8Array(randomBytes(1024 * 1024));
        await expectCode(
          store.receive('too-big.bin', streamOf(payload), {
            maxBytes: payload.byteLength - 1,
            contentType: 'application/octet-stream',
          }),
          'PAYLOAD_TOO_LARGE',
        );
        expect(await store.stat('too-big.bin')).toBeUndefined();
        expect((await subject.leftovers?.()) ?? []).toEqual([]);
      });

      it('leaves the current version in place when a replacement is too large', async () => {
        const kept = await upload('kept.csv', 'small\n');
        await expectCode(upload('kept.csv', 'far too large for the limit\n', 10), 'PAYLOAD_TOO_LARGE');
        expect((await store.stat('kept.csv'))?.version).toBe(kept.version);
        expect(new TextDecoder().decode(await readAll(await store.read('kept.csv', kept.version)))).toBe(
          'small\n',
        );
        expect((await subject.leftovers?.()) ?? []).toEqual([]);
      });

      it('keeps nothing of a body that fails midway', async () => {
        await expect(
          store.receive('broken.bin', failingStreamOf(new Uint8Array(randomBytes(100_000))), {
            maxBytes: 1024 * 1024,
            contentType: 'application/octet-stream',
          }),
        ).rejects.toThrow();
        expect(await store.stat('broken.bin')).toBeUndefined();
        expect((await subject.leftovers?.()) ?? []).toEqual([]);
      });

      it.each(UNSAFE_KEYS)('rejects a key with $label with BAD_REQUEST', async ({ key }) => {
        await expectCode(upload(key, 'a\n'), 'BAD_REQUEST');
        expect((await subject.leftovers?.()) ?? []).toEqual([]);
      });
    });

    describe('signed uploads', () => {
      const key = 'vendors/acme/orders/2024-05-01.csv';
      const request = { key, maxBytes: 5_000, contentType: 'text/csv', expiresInSeconds: 600 };

      it.each(UNSAFE_KEYS)('refuses to sign a key with $label with BAD_REQUEST', async ({ key: unsafe }) => {
        // Accepts a synchronous throw here; the next test holds the adapter to rejecting instead.
        await expectCode((async () => store.createUploadUrl({ ...request, key: unsafe }))(), 'BAD_REQUEST');
      });

      it('fails through the returned promise, never by a synchronous throw', async () => {
        let pending: Promise<unknown> | undefined;
        expect(() => {
          pending = store.createUploadUrl({ ...request, key: '../x' });
        }).not.toThrow();
        await pending?.catch(() => undefined);
      });

      it('issues a PUT URL that verifies to its key and maxBytes', async () => {
        const before = Date.now();
        const signed = asPut(await store.createUploadUrl(request));
        expect(signed.method).toBe('PUT');
        expect(signed.key).toBe(key);
        expect(signed.headers['content-type']).toBe('text/csv');
        const expiresAt = Date.parse(signed.expiresAt);
        expect(expiresAt).toBeGreaterThan(before + 590_000);
        expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

        const verdict = await store.verifyUpload(new URL(signed.url), signed.headers['content-type'] ?? '');
        expect(verdict).toEqual({ key, maxBytes: 5_000 });
      });

      it('lets the holder of a verified URL upload to its key', async () => {
        const signed = await store.createUploadUrl(request);
        const verdict = await store.verifyUpload(new URL(signed.url), 'text/csv');
        if ('reason' in verdict) throw new Error(verdict.reason);
        const info = await store.receive(verdict.key, streamOf('id\n1\n'), {
          maxBytes: verdict.maxBytes,
          contentType: 'text/csv',
        });
        expect((await store.stat(key))?.version).toBe(info.version);
      });

      it('round-trips keys with spaces, percent signs, reserved and non-ASCII characters', async () => {
        const odd = 'vendors/acme corp/orders/100% ünïcødé #1?&x=y.csv';
        const signed = await store.createUploadUrl({ ...request, key: odd });
        const verdict = await store.verifyUpload(new URL(signed.url), 'text/csv');
        expect(verdict).toEqual({ key: odd, maxBytes: 5_000 });
      });

      it('signs application/octet-stream when no content type is asked for', async () => {
        const signed = asPut(await store.createUploadUrl({ key, maxBytes: 10, expiresInSeconds: 60 }));
        const contentType = signed.headers['content-type'] ?? '';
        expect(contentType).toBe('application/octet-stream');
        expect(await store.verifyUpload(new URL(signed.url), contentType)).toEqual({ key, maxBytes: 10 });
      });

      async function expectRefused(url: URL, contentType = 'text/csv') {
        const verdict = await store.verifyUpload(url, contentType);
        expect(verdict).not.toHaveProperty('key');
        expect(verdict).toEqual({ reason: expect.stringMatching(/\S/) });
      }

      it('refuses a URL whose key was changed', async () => {
        const url = new URL((await store.createUploadUrl(request)).url);
        url.pathname = url.pathname.replace('2024-05-01.csv', '2024-05-02.csv');
        await expectRefused(url);
      });

      it('refuses a URL whose maxBytes was raised', async () => {
        const url = new URL((await store.createUploadUrl(request)).url);
        url.searchParams.set('maxBytes', String(5_000_000));
        await expectRefused(url);
      });

      it('refuses a URL whose expiry was pushed back', async () => {
        const url = new URL((await store.createUploadUrl(request)).url);
        url.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 86_400));
        await expectRefused(url);
      });

      it('refuses a URL used with another content type', async () => {
        const url = new URL((await store.createUploadUrl(request)).url);
        await expectRefused(url, 'application/gzip');
      });

      it('refuses a URL without its signature', async () => {
        const url = new URL((await store.createUploadUrl(request)).url);
        url.searchParams.delete('signature');
        await expectRefused(url);
      });

      it('refuses a URL signed with another secret', async () => {
        const signed = await store.createUploadUrl(request);
        const forger = createUploadSigner({ baseUrl: new URL(signed.url).origin, secret: 'not-the-secret' });
        const forged = await forger.sign(request);
        expect(new URL(forged.url).pathname).toBe(new URL(signed.url).pathname);
        await expectRefused(new URL(forged.url));
      });

      it('accepts a URL until it expires and refuses it afterwards', async () => {
        const signed = await store.createUploadUrl({ ...request, expiresInSeconds: 60 });
        const expiresAt = Date.parse(signed.expiresAt);
        vi.useFakeTimers({ toFake: ['Date'] });

        vi.setSystemTime(expiresAt - 1_000);
        expect(await store.verifyUpload(new URL(signed.url), 'text/csv')).toEqual({ key, maxBytes: 5_000 });

        vi.setSystemTime(expiresAt + 1_000);
        await expectRefused(new URL(signed.url));
      });

      it('refuses a URL issued already expired', async () => {
        const signed = await store.createUploadUrl({ ...request, expiresInSeconds: 0 });
        await expectRefused(new URL(signed.url));
      });
    });
  });
}
