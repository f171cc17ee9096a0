/**
 * What a V4 signed upload URL of the `gcs` store permits, checked by the GCS stand-in as GCS checks it:
 * the vendor's PUT with the returned headers lands with its content type; a tampered signature, another
 * key, another content type or size limit, an expired URL or a body above `maxBytes` is refused.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createGcsObjectStore } from '../../adapters/object-store/gcs/gcs-object-store.js';
import type { ObjectStore, SignedPutUpload } from '../../adapters/ports.js';
import { isDropgateError } from '../../adapters/errors.js';
import { expectCode, outcome, readAll } from '../contract/object-store-support.js';
import { createTestServiceAccount } from '../support/gcs-stand-in/service-account.js';
import { useGcsStandIn } from './support/gcs.js';

const gcs = useGcsStandIn();
const key = 'vendors/acme/orders/2024-05-01/orders.csv';
const csv = 'id,amount\n1,2.50\n2,7.25\n';
let bucket: string;
let store: ObjectStore;
let buckets = 0;

beforeEach(() => {
  bucket = `uploads-${++buckets}`;
  gcs.standIn.createBucket(bucket);
  store = createGcsObjectStore({ bucket, keyFile: gcs.account.keyFile });
});

async function sign(overrides: { maxBytes?: number; expiresInSeconds?: number; key?: string } = {}) {
  const signed = await store.createUploadUrl({
    key: overrides.key ?? key,
    maxBytes: overrides.maxBytes ?? 1000,
    contentType: 'text/csv',
    expiresInSeconds: overrides.expiresInSeconds ?? 600,
  });
  expect(signed.method).toBe('PUT');
  return signed as SignedPutUpload;
}

async function put(url: string, headers: Record<string, string>, body: string | Uint8Array) {
  const response = await fetch(url, { method: 'PUT', headers, body });
  return { status: response.status, text: await response.text() };
}

/** Refused with the XML error code GCS gives, and nothing stored at `objectKey`. */
function expectRefused(
  result: { status: number; text: string },
  status: number,
  code: string,
  objectKey = key,
) {
  expect(result.status, result.text).toBe(status);
  expect(result.text).toContain(`<Code>${code}</Code>`);
  expect(gcs.standIn.object(bucket, objectKey)).toBeUndefined();
}

describe('signed upload URL', () => {
  it('is a PUT at the stand-in (STORAGE_EMULATOR_HOST) naming exactly the headers to send', async () => {
    const signed = await sign({ maxBytes: 4096 });
    expect(new URL(signed.url).origin).toBe(gcs.standIn.url);
    expect(new URL(signed.url).pathname).toBe(`/${bucket}/vendors/acme/orders/2024-05-01/orders.csv`);
    expect(signed.headers).toEqual({ 'content-type': 'text/csv', 'x-goog-content-length-range': '0,4096' });
    const query = new URL(signed.url).searchParams;
    expect(query.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
    expect(query.get('X-Goog-SignedHeaders')).toBe('content-type;host;x-goog-content-length-range');
    expect(query.get('X-Goog-Expires')).toBe('600');
    expect(query.get('X-Goog-Credential')).toMatch(
      new RegExp(`^${gcs.account.clientEmail}/\\d{8}/auto/storage/goog4_request$`),
    );
  });

  it('takes the vendor PUT with the returned headers: the object lands with its content type', async () => {
    const signed = await sign();
    const result = await put(signed.url, signed.headers, csv);
    expect(result.status, result.text).toBe(200);
    const stored = gcs.standIn.object(bucket, key);
    expect(stored?.contentType).toBe('text/csv');
    expect(stored?.bytes.toString('utf8')).toBe(csv);

    const info = await store.stat(key);
    expect(info).toMatchObject({
      bucket,
      key,
      size: csv.length,
      contentType: 'text/csv',
      version: stored?.generation,
    });
    expect(new TextDecoder().decode(await readAll(await store.read(key, info!.version)))).toBe(csv);
  });

  it('takes a body of exactly maxBytes, and an empty one', async () => {
    const signed = await sign({ maxBytes: csv.length });
    expect((await put(signed.url, signed.headers, csv)).status).toBe(200);
    expect((await put(signed.url, signed.headers, '')).status).toBe(200);
    expect(gcs.standIn.object(bucket, key)?.bytes.byteLength).toBe(0);
  });

  it('signs keys with spaces, reserved and non-ASCII characters so that the PUT is accepted', async () => {
    const odd = 'vendors/acme corp/orders/100% ünïcødé #1?&x=y.csv';
    const signed = await sign({ key: odd });
    const result = await put(signed.url, signed.headers, csv);
    expect(result.status, result.text).toBe(200);
    expect(gcs.standIn.object(bucket, odd)?.bytes.toString('utf8')).toBe(csv);
  });

  it('refuses a tampered signature with 403 SignatureDoesNotMatch', async () => {
    const signed = await sign();
    const url = new URL(signed.url);
    const signature = url.searchParams.get('X-Goog-Signature')!;
    url.searchParams.set('X-Goog-Signature', (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1));
    expectRefused(await put(url.href, signed.headers, csv), 403, 'SignatureDoesNotMatch');
  });

  it('refuses a signature cut short or made by an account the bucket does not trust', async () => {
    const signed = await sign();
    const url = new URL(signed.url);
    url.searchParams.set('X-Goog-Signature', url.searchParams.get('X-Goog-Signature')!.slice(0, 16));
    expectRefused(await put(url.href, signed.headers, csv), 403, 'SignatureDoesNotMatch');

    const stranger = await createTestServiceAccount(gcs.directory, { name: 'stranger' });
    const strangers = createGcsObjectStore({ bucket, keyFile: stranger.keyFile });
    const forged = (await strangers.createUploadUrl({
      key,
      maxBytes: 1000,
      contentType: 'text/csv',
      expiresInSeconds: 600,
    })) as SignedPutUpload;
    expectRefused(await put(forged.url, forged.headers, csv), 403, 'SignatureDoesNotMatch');
  });

  it('refuses another content type than the one signed', async () => {
    const signed = await sign();
    const headers = { ...signed.headers, 'content-type': 'application/octet-stream' };
    expectRefused(await put(signed.url, headers, csv), 403, 'SignatureDoesNotMatch');
  });

  it('refuses a PUT without the signed size range, or with a larger one', async () => {
    const signed = await sign({ maxBytes: 10 });
    const { 'x-goog-content-length-range': _range, ...withoutRange } = signed.headers;
    expectRefused(await put(signed.url, withoutRange, 'a,b\n'), 403, 'SignatureDoesNotMatch');
    const raised = { ...signed.headers, 'x-goog-content-length-range': '0,100000' };
    expectRefused(await put(signed.url, raised, csv), 403, 'SignatureDoesNotMatch');
  });

  it('refuses a body above maxBytes with 400 EntityTooLarge', async () => {
    const signed = await sign({ maxBytes: csv.length - 1 });
    expectRefused(await put(signed.url, signed.headers, csv), 400, 'EntityTooLarge');
  });

  it('refuses the URL once it expired with 400 ExpiredToken, and a lengthened expiry as forged', async () => {
    const signed = await sign({ expiresInSeconds: 60 });
    const lengthened = new URL(signed.url);
    lengthened.searchParams.set('X-Goog-Expires', '3600');
    gcs.standIn.advanceClock(61_000);
    try {
      expectRefused(await put(signed.url, signed.headers, csv), 400, 'ExpiredToken');
      expectRefused(await put(lengthened.href, signed.headers, csv), 403, 'SignatureDoesNotMatch');
    } finally {
      gcs.standIn.advanceClock(-61_000);
    }
  });

  it('refuses the URL for any other key or bucket', async () => {
    const signed = await sign();
    const other = new URL(signed.url);
    other.pathname = `/${bucket}/vendors/globex/orders/2024-05-01/orders.csv`;
    expectRefused(
      await put(other.href, signed.headers, csv),
      403,
      'SignatureDoesNotMatch',
      'vendors/globex/orders/2024-05-01/orders.csv',
    );
    const otherBucket = `${bucket}-other`;
    gcs.standIn.createBucket(otherBucket);
    other.pathname = `/${otherBucket}/${key}`;
    expect((await put(other.href, signed.headers, csv)).status).toBe(403);
    expect(gcs.standIn.object(otherBucket, key)).toBeUndefined();
  });
});

describe('signed upload URL without an emulator', () => {
  it('is signed offline with the key file for https://storage.googleapis.com/<bucket>/<key>', async () => {
    const emulator = process.env.STORAGE_EMULATOR_HOST;
    delete process.env.STORAGE_EMULATOR_HOST;
    try {
      const real = createGcsObjectStore({ bucket: 'vendor-drop', keyFile: gcs.account.keyFile });
      const signed = (await real.createUploadUrl({
        key,
        maxBytes: 10,
        contentType: 'text/csv',
        expiresInSeconds: 600,
      })) as SignedPutUpload;
      expect(signed.url.startsWith(`https://storage.googleapis.com/vendor-drop/${key}?`)).toBe(true);
      expect(real.source).toBe('//storage.googleapis.com/projects/_/buckets/vendor-drop');
    } finally {
      process.env.STORAGE_EMULATOR_HOST = emulator;
    }
  });
});

describe('signing refused', () => {
  it('refuses an expiry beyond the seven days V4 allows with BAD_REQUEST', async () => {
    await expectCode(
      store.createUploadUrl({ key, maxBytes: 10, contentType: 'text/csv', expiresInSeconds: 604_801 }),
      'BAD_REQUEST',
    );
  });

  it('fails CONFIG_INVALID naming keyFile when there are no credentials to sign with', async () => {
    const saved = { home: process.env.HOME, credentials: process.env.GOOGLE_APPLICATION_CREDENTIALS };
    // No key file, no ADC file under an empty home, no metadata server (METADATA_SERVER_DETECTION=none).
    process.env.HOME = gcs.directory;
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.METADATA_SERVER_DETECTION = 'none';
    try {
      const keyless = createGcsObjectStore({ bucket, projectId: 'dropgate-test' });
      const result = await outcome(
        keyless.createUploadUrl({ key, maxBytes: 10, contentType: 'text/csv', expiresInSeconds: 600 }),
      );
      const error = 'error' in result ? result.error : undefined;
      expect(isDropgateError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
      expect((error as Error).message).toContain('keyFile');
    } finally {
      process.env.HOME = saved.home;
      if (saved.credentials !== undefined) process.env.GOOGLE_APPLICATION_CREDENTIALS = saved.credentials;
    }
  });
});
