/**
 * The contract every ObjectStore must pass, whichever cloud it fronts: stat, version-pinned reads,
 * exclusive and clamped ranges, safe keys, and well-formed signed uploads. The suite writes objects only
 * through the subject's `put`, so a store that cannot receive uploads itself (GCS, S3) passes it too.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ObjectInfo, ObjectPage, ObjectStore } from '../../adapters/ports.js';
import { isDropgateError } from '../../adapters/errors.js';
import {
  LARGE,
  UNSAFE_KEYS,
  compareUtf8,
  drain,
  expectCode,
  expectSameBytes,
  outcome,
  readAll,
} from './object-store-support.js';

export interface ObjectStoreSubject {
  store: ObjectStore;
  /**
   * Writes `bytes` as a new current version of `key` the way the store's own writers do (an SDK upload,
   * a received body) and returns that version as the store describes it.
   */
  put(key: string, bytes: Uint8Array | string): Promise<ObjectInfo>;
  /**
   * Set when a read opened before its key is replaced always finishes on the replaced bytes (local,
   * memory); otherwise such a read may fail with OBJECT_VERSION_GONE instead, never yield the new bytes.
   */
  keepsOpenReads?: boolean;
  dispose?: () => Promise<void>;
}

export function objectStoreContract(name: string, factory: () => Promise<ObjectStoreSubject>) {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ObjectStoreSubject;
    let store: ObjectStore;

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterEach(async () => {
      vi.useRealTimers();
      await subject.dispose?.();
    });

    const put = (key: string, bytes: Uint8Array | string) => subject.put(key, bytes);

    describe('stat', () => {
      it('returns undefined for a key that does not exist', async () => {
        expect(await store.stat('vendors/acme/orders/missing.csv')).toBeUndefined();
      });

      it('describes an object: bucket, key, size, a version and when it was written', async () => {
        const written = await put('vendors/acme/orders/a.csv', 'id,amount\n1,2\n');
        const info = await store.stat('vendors/acme/orders/a.csv');
        expect(info).toBeDefined();
        expect(info).toMatchObject({ bucket: store.bucket, key: 'vendors/acme/orders/a.csv', size: 14 });
        expect(info?.version).toEqual(expect.any(String));
        expect(info?.version).not.toBe('');
        expect(info?.version).toBe(written.version);
        expect(Number.isNaN(Date.parse(info?.updated ?? ''))).toBe(false);
        expect(info?.updated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      });

      it('reports the same version and updated time for as long as the version lives', async () => {
        await put('stable.csv', 'a\n');
        const first = await store.stat('stable.csv');
        await new Promise((resolve) => setTimeout(resolve, 15));
        const second = await store.stat('stable.csv');
        expect(second?.version).toBe(first?.version);
        expect(second?.updated).toBe(first?.updated);
      });

      it('holds an empty object: size 0, read as no bytes', async () => {
        const written = await put('empty.csv', new Uint8Array(0));
        expect((await store.stat('empty.csv'))?.size).toBe(0);
        expect((await readAll(await store.read('empty.csv', written.version))).byteLength).toBe(0);
      });
    });

    describe('read', () => {
      it('streams the exact bytes of a multi-megabyte object', async () => {
        const payload = new Uint8Array(randomBytes(LARGE));
        const written = await put('vendors/acme/orders/big.bin', payload);
        expect((await store.stat('vendors/acme/orders/big.bin'))?.size).toBe(LARGE);
        expectSameBytes(
          await readAll(await store.read('vendors/acme/orders/big.bin', written.version)),
          payload,
        );
      });

      it('can read the same version more than once', async () => {
        const info = await put('twice.csv', 'x,y\n');
        const first = await readAll(await store.read('twice.csv', info.version));
        const second = await readAll(await store.read('twice.csv', info.version));
        expect(new TextDecoder().decode(first)).toBe('x,y\n');
        expect(new TextDecoder().decode(second)).toBe('x,y\n');
      });

      it('fails with OBJECT_VERSION_GONE for a version the key never had', async () => {
        const info = await put('known.csv', 'a\n');
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
        version = (await put('range.txt', text)).version;
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
        const info = await put('big-range.bin', payload);
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
        const first = await put('orders.csv', 'first upload\n');
        const second = await put('orders.csv', 'second upload, longer\n');
        expect(second.version).not.toBe(first.version);
        const info = await store.stat('orders.csv');
        expect(info?.version).toBe(second.version);
        expect(info?.size).toBe(22);
        const bytes = await readAll(await store.read('orders.csv', second.version));
        expect(new TextDecoder().decode(bytes)).toBe('second upload, longer\n');
      });

      it('never serves the new bytes for the old version: old bytes or OBJECT_VERSION_GONE', async () => {
        const first = await put('orders.csv', 'old old old\n');
        await put('orders.csv', 'NEW NEW NEW\n');

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
          versions.add((await put('churn.csv', `upload number ${index}\n`)).version);
        }
        expect(versions.size).toBe(40);
      });

      it('finishes a read opened before a replacement on the old bytes, or fails it OBJECT_VERSION_GONE', async () => {
        const old = new Uint8Array(randomBytes(LARGE));
        const replacement = new Uint8Array(randomBytes(LARGE));
        const first = await put('pinned.bin', old);
        const reader = (await store.read('pinned.bin', first.version)).getReader();
        const head = await reader.read();
        expect(head.done).toBe(false);

        const second = await put('pinned.bin', replacement);
        expect(second.version).not.toBe(first.version);

        const rest = await outcome(drain(reader, head.value ? [head.value] : []));
        if ('value' in rest || subject.keepsOpenReads) {
          expect(rest).toHaveProperty('value');
          if ('value' in rest) expectSameBytes(rest.value, old);
        } else {
          expect(isDropgateError(rest.error, 'OBJECT_VERSION_GONE')).toBe(true);
        }
        expectSameBytes(await readAll(await store.read('pinned.bin', second.version)), replacement);
      });
    });

    describe('list', () => {
      const keysOf = (page: ObjectPage) => page.objects.map((object) => object.key);

      /** Every page of one listing, following cursors until a page comes without one. */
      async function listAll(prefix: string, limit?: number): Promise<ObjectPage[]> {
        const pages: ObjectPage[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list(prefix, { ...(cursor === undefined ? {} : { cursor }), limit });
          pages.push(page);
          cursor = page.cursor;
        } while (cursor !== undefined && pages.length < 100);
        expect(cursor).toBeUndefined();
        return pages;
      }
      const allKeys = async (prefix: string, limit?: number) =>
        (await listAll(prefix, limit)).flatMap(keysOf);

      it('lists nothing in an empty bucket, or under a prefix no key starts with', async () => {
        expect(await store.list('')).toEqual({ objects: [] });
        await put('vendors/acme/orders/a.csv', 'a\n');
        expect(await store.list('vendors/globex/')).toEqual({ objects: [] });
        expect(await store.list('vendors/acme/orders/a.csv/')).toEqual({ objects: [] });
        expect(await store.list('vendors/acme/orders/b', { limit: 1 })).toEqual({ objects: [] });
      });

      it('lists the current version of every object under a prefix, as stat describes it', async () => {
        await put('vendors/acme/orders/1.csv', 'first version\n');
        await put('vendors/acme/orders/2.csv', 'two\n');
        await put('vendors/acme/orders/1.csv', 'second version, longer\n');
        await put('vendors/globex/orders/3.csv', 'three\n');

        const page = await store.list('vendors/acme/');
        expect(page.cursor).toBeUndefined();
        expect(keysOf(page)).toEqual(['vendors/acme/orders/1.csv', 'vendors/acme/orders/2.csv']);
        for (const object of page.objects) {
          const info = await store.stat(object.key);
          const { bucket, key, size, version, updated } = info!;
          expect(object).toMatchObject({ bucket, key, size, version, updated });
        }
        expect(page.objects[0]?.size).toBe(23);
      });

      it('matches the prefix as a string, so it may end mid-segment or name a whole key', async () => {
        for (const key of [
          'vendors/acme/a.csv',
          'vendors/acme/a.csv.gz',
          'vendors/acme-eu/b.csv',
          'vendors/ac.csv',
          'vendors/b/c.csv',
          'vendorsx.csv',
          'ac.csv',
        ]) {
          await put(key, `${key}\n`);
        }
        expect(await allKeys('vendors/ac')).toEqual([
          'vendors/ac.csv',
          'vendors/acme-eu/b.csv',
          'vendors/acme/a.csv',
          'vendors/acme/a.csv.gz',
        ]);
        expect(await allKeys('vendors/acme/a.csv')).toEqual(['vendors/acme/a.csv', 'vendors/acme/a.csv.gz']);
        expect(await allKeys('vendors')).toHaveLength(6);
      });

      it('lists the whole bucket for an empty prefix, ordered by the UTF-8 bytes of the keys', async () => {
        // '-' < '.' < '/' < '0' as bytes, so a folder's keys sort between its neighbours by name. By UTF-8
        // bytes U+FF21 sorts before U+1F600; JavaScript's string < would put the emoji first.
        const inOrder = [
          'a-b.csv',
          'a.csv',
          'a/b.csv',
          'a/c/d.csv',
          'a0.csv',
          'b/z.csv',
          'b/\u00e9.csv',
          'b/\uff21.csv',
          'b/\u{1f600}.csv',
        ];
        for (const key of [...inOrder].reverse()) await put(key, 'x\n');
        expect(await allKeys('')).toEqual(inOrder);
        expect(await allKeys('', 2)).toEqual(inOrder);
      });

      it('pages: at most limit objects a page and a cursor until the last, every key once and in order', async () => {
        const keys = ['k/1', 'k/2', 'k/3', 'k/4/a', 'k/4/b', 'k/5', 'k/6'].map((key) => `${key}.csv`);
        for (const key of keys) await put(key, `${key}\n`);
        await put('other.csv', 'not under the prefix\n');

        const pages = await listAll('k/', 3);
        for (const page of pages) expect(page.objects.length).toBeLessThanOrEqual(3);
        expect(pages.flatMap(keysOf)).toEqual(keys);
        expect(await allKeys('k/', 1)).toEqual(keys);
        expect(await allKeys('k/', 1000)).toEqual(keys);
      });

      it('never lists a key twice when objects land while a listing runs', async () => {
        const keys = ['b.csv', 'd.csv', 'f.csv', 'h.csv'];
        for (const key of keys) await put(key, 'x\n');
        const listed: string[] = [];
        let page = await store.list('', { limit: 2 });
        listed.push(...keysOf(page));
        await put('a.csv', 'lands before the cursor\n');
        await put('e.csv', 'lands after it\n');
        await put('b.csv', 'a new version of a listed key\n');
        while (page.cursor !== undefined) {
          page = await store.list('', { cursor: page.cursor, limit: 2 });
          listed.push(...keysOf(page));
        }
        // Strictly increasing: no key twice, and nothing from before the cursor (a.csv) after it.
        for (let index = 1; index < listed.length; index++) {
          expect(compareUtf8(listed[index - 1]!, listed[index]!)).toBeLessThan(0);
        }
        for (const key of keys) expect(listed).toContain(key);
        expect(listed.filter((key) => !keys.includes(key) && key !== 'e.csv')).toEqual([]);
      });

      it.each([0, -1, 1001, 2.5, Number.NaN])('refuses a limit of %s with BAD_REQUEST', async (limit) => {
        await put('a.csv', 'a\n');
        await expectCode(store.list('', { limit }), 'BAD_REQUEST');
      });
    });

    describe('copy and delete (after-processing actions)', () => {
      it('copies a version to another key, replacing what it held, and leaves the source', async () => {
        const source = await put('vendors/acme/orders/a.csv', 'id,amount\n1,2\n');
        await put('archive/vendors/acme/orders/a.csv', 'older archive\n');
        const copy = await store.copy(source.key, source.version, 'archive/vendors/acme/orders/a.csv');
        expect(copy).toMatchObject({
          bucket: store.bucket,
          key: 'archive/vendors/acme/orders/a.csv',
          size: 14,
        });
        expect(await store.stat(copy.key)).toMatchObject({ version: copy.version, size: 14 });
        const bytes = await readAll(await store.read(copy.key, copy.version));
        expect(new TextDecoder().decode(bytes)).toBe('id,amount\n1,2\n');
        expect((await store.stat(source.key))?.version).toBe(source.version);
      });

      it('copies nothing of a version a newer upload replaced', async () => {
        const old = await put('vendors/acme/orders/b.csv', 'old\n');
        const newer = await put('vendors/acme/orders/b.csv', 'newer\n');
        expect(newer.version).not.toBe(old.version);
        await expectCode(store.copy(old.key, old.version, 'archive/b.csv'), 'OBJECT_VERSION_GONE');
        expect(await store.stat('archive/b.csv')).toBeUndefined();
        await expectCode(
          store.copy('vendors/acme/orders/none.csv', old.version, 'archive/c.csv'),
          'OBJECT_VERSION_GONE',
        );
        expect(await store.stat('archive/c.csv')).toBeUndefined();
      });

      it('deletes the current version: gone from stat and from the listing', async () => {
        const info = await put('vendors/acme/orders/d.csv', 'x\n');
        await put('vendors/acme/orders/e.csv', 'y\n');
        await store.delete(info.key, info.version);
        expect(await store.stat(info.key)).toBeUndefined();
        const page = await store.list('vendors/acme/orders/');
        expect(page.objects.map((object) => object.key)).toEqual(['vendors/acme/orders/e.csv']);
        await expectCode(store.delete(info.key, info.version), 'OBJECT_VERSION_GONE');
      });

      it("never deletes a newer upload in an older version's name", async () => {
        const old = await put('vendors/acme/orders/f.csv', 'old\n');
        const newer = await put('vendors/acme/orders/f.csv', 'newer\n');
        await expectCode(store.delete(old.key, old.version), 'OBJECT_VERSION_GONE');
        expect((await store.stat(newer.key))?.version).toBe(newer.version);
        const bytes = await readAll(await store.read(newer.key, newer.version));
        expect(new TextDecoder().decode(bytes)).toBe('newer\n');
      });
    });

    describe('upload URLs', () => {
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

      it('signs a well-formed PUT or form POST for the key and content type, expiring when asked', async () => {
        const before = Date.now();
        const signed = await store.createUploadUrl(request);
        expect(signed.key).toBe(key);
        expect(['http:', 'https:']).toContain(new URL(signed.url).protocol);
        const expiresAt = Date.parse(signed.expiresAt);
        expect(expiresAt).toBeGreaterThan(before + 590_000);
        expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

        if (signed.method === 'PUT') {
          expect(Object.values(signed.headers).every((value) => typeof value === 'string')).toBe(true);
          for (const name of Object.keys(signed.headers)) expect(name).toBe(name.toLowerCase());
          expect(signed.headers['content-type']).toBe('text/csv');
        } else {
          expect(signed.method).toBe('POST');
          expect(Object.values(signed.fields).every((value) => typeof value === 'string')).toBe(true);
          expect(signed.fileField).toMatch(/\S/);
          expect(Object.keys(signed.fields)).not.toContain(signed.fileField);
          const contentType = Object.entries(signed.fields).find(
            ([name]) => name.toLowerCase() === 'content-type',
          );
          expect(contentType?.[1]).toBe('text/csv');
        }
      });

      it('signs keys with spaces, percent signs, reserved and non-ASCII characters', async () => {
        const odd = 'vendors/acme corp/orders/100% ünïcødé #1?&x=y.csv';
        const signed = await store.createUploadUrl({ ...request, key: odd });
        expect(signed.key).toBe(odd);
        expect(() => new URL(signed.url)).not.toThrow();
      });
    });
  });
}
