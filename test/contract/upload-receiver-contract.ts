/**
 * The contract of the stores that receive their signed uploads themselves (UploadReceiver: local, memory):
 * all-or-nothing uploads within their size limit, safe keys, and upload URLs that verify only unaltered,
 * with the signed content type and before they expire.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ObjectStore, SignedPutUpload, SignedUpload, UploadReceiver } from '../../adapters/ports.js';
import { createUploadSigner } from '../../adapters/object-store/upload-signature.js';
import {
  LARGE,
  UNSAFE_KEYS,
  expectCode,
  expectSameBytes,
  failingStreamOf,
  readAll,
  streamOf,
} from './object-store-support.js';

export interface UploadReceiverSubject {
  store: ObjectStore & UploadReceiver;
  /** Files an upload left behind outside the bucket (temporary files); none once an upload has ended. */
  leftovers?: () => Promise<string[]>;
  dispose?: () => Promise<void>;
}

/** The upload as a PUT, which every store that receives its own uploads issues. */
function asPut(signed: SignedUpload): SignedPutUpload {
  if (signed.method !== 'PUT') throw new Error(`expected a PUT upload, got ${signed.method}`);
  return signed;
}

export function uploadReceiverContract(name: string, factory: () => Promise<UploadReceiverSubject>) {
  describe(`UploadReceiver contract: ${name}`, () => {
    let subject: UploadReceiverSubject;
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

    describe('receive', () => {
      it('returns the received object as stat describes it', async () => {
        const received = await upload('vendors/acme/orders/a.csv', 'id,amount\n1,2\n');
        expect(received.size).toBe(14);
        expect(received).toEqual(await store.stat('vendors/acme/orders/a.csv'));
      });

      it('receives an empty body as an empty object', async () => {
        const info = await upload('empty.csv', new Uint8Array(0));
        expect(info.size).toBe(0);
        expect((await store.stat('empty.csv'))?.size).toBe(0);
        expect((await readAll(await store.read('empty.csv', info.version))).byteLength).toBe(0);
      });

      it('receives a multi-megabyte body in uneven chunks exactly', async () => {
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

      it.each([1, 5, 42])(
        'refuses a URL whose signature was cut to %i characters, which is no base64 at all',
        async (length) => {
          const url = new URL((await store.createUploadUrl(request)).url);
          url.searchParams.set('signature', url.searchParams.get('signature')!.slice(0, length));
          await expectRefused(url);
        },
      );

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
