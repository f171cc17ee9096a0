/**
 * The `s3` object store against the S3 stand-ins that run here. fauxqs serves the ObjectStore contract
 * (with its listing put in S3's key order: test/support/s3-listing-order.ts) and answers a stale
 * `If-Match` with 412. s3rver cannot page a listing on Node 20 (its continuation tokens use DES, which
 * OpenSSL 3 refuses) and lists keys in directory-walk order, so it serves the reads and the uploads: it
 * refuses expired presigned URLs and unknown access keys, and lands presigned PUTs and POSTs. Neither
 * keeps versions, so only ETag-pinned reads run against a server. Neither checks a SigV4 signature (s3rver
 * 3.7.1 leaves "Signature version 4 calculation" unimplemented and ignores POST policies) nor enforces
 * `content-length-range`: the signatures are recomputed here from the credentials, and the POST policy is
 * decoded and checked.
 */
import { createHash, createHmac } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';
import {
  createS3ObjectStore,
  type S3ObjectStore,
  type S3ObjectStoreOptions,
} from '../../adapters/object-store/s3/s3-object-store.js';
import { parseS3ObjectVersion, s3ObjectVersion } from '../../adapters/object-store/s3-object-version.js';
import type { SignedPostUpload, SignedPutUpload, UploadUrlRequest } from '../../adapters/ports.js';
import {
  TEST_CREDENTIALS,
  TEST_REGION,
  startFauxqs,
  startS3rver,
  type StandIn,
} from '../support/aws-stand-ins.js';
import { listFauxqsInS3Order } from '../support/s3-listing-order.js';
import { objectStoreContract } from './object-store-contract.js';
import { expectCode, outcome, readAll } from './object-store-support.js';

type StandInName = 'fauxqs' | 's3rver';
const standIns: Partial<Record<StandInName, StandIn>> = {};

beforeAll(async () => {
  await listFauxqsInS3Order();
  [standIns.fauxqs, standIns.s3rver] = await Promise.all([startFauxqs(), startS3rver()]);
});
afterAll(async () => {
  await Promise.all(Object.values(standIns).map((standIn) => standIn.stop()));
});

let buckets = 0;
const stores: S3ObjectStore[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const store of stores.splice(0)) store.client.destroy();
});

function endpointOf(name: StandInName): string {
  const standIn = standIns[name];
  if (!standIn) throw new Error(`the ${name} stand-in did not start: see test/support/aws-stand-ins.ts`);
  return standIn.endpoint;
}

/** A store over a new, empty bucket of the stand-in. */
async function storeOn(
  name: StandInName,
  options: Partial<S3ObjectStoreOptions> = {},
): Promise<S3ObjectStore> {
  const store = await createS3ObjectStore({
    bucket: `contract-${process.pid}-${++buckets}`,
    region: TEST_REGION,
    endpoint: endpointOf(name),
    forcePathStyle: true,
    clientConfig: { credentials: TEST_CREDENTIALS },
    ...options,
  });
  stores.push(store);
  await store.client.send(new CreateBucketCommand({ Bucket: store.bucket }));
  return store;
}

/** Writes an object with the SDK, as any writer but Dropgate's vendors would, and stats it. */
async function putObject(
  store: S3ObjectStore,
  key: string,
  bytes: Uint8Array | string,
  contentType?: string,
) {
  await store.client.send(
    new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: bytes, ContentType: contentType }),
  );
  const info = await store.stat(key);
  if (!info) throw new Error(`${key} was written but stat does not find it`);
  return info;
}

objectStoreContract('s3 on fauxqs', async () => {
  const store = await storeOn('fauxqs');
  return { store, put: (key, bytes) => putObject(store, key, bytes) };
});

const ODD_KEYS = [
  'vendors/acme/orders/red flower (1).csv',
  'vendors/acme/orders/a+b=c.csv',
  'vendors/acme/orders/ünïcødé 注文 😀.csv',
  'vendors/acme/orders/100% done & dusted #1?.csv',
];

describe('version tokens', () => {
  it('name the version id in a versioned bucket, else the ETag without its quotes', () => {
    expect(s3ObjectVersion({ versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY', etag: '"abc"' })).toBe(
      'version-id:3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
    );
    expect(s3ObjectVersion({ etag: '"d41d8cd98f00b204e9800998ecf8427e"' })).toBe(
      'etag:d41d8cd98f00b204e9800998ecf8427e',
    );
    // A notification's eTag comes without quotes; it names the same version as HeadObject's.
    expect(s3ObjectVersion({ etag: 'd41d8cd98f00b204e9800998ecf8427e' })).toBe(
      s3ObjectVersion({ etag: '"d41d8cd98f00b204e9800998ecf8427e"' }),
    );
  });

  it('never pin a version id of null: the next write while versioning is off reuses it', () => {
    expect(s3ObjectVersion({ versionId: 'null', etag: '"abc-2"' })).toBe('etag:abc-2');
  });

  it('parse back to what they pin, and nothing for a token the store never issued', () => {
    expect(parseS3ObjectVersion('version-id:abc')).toEqual({ versionId: 'abc' });
    expect(parseS3ObjectVersion('etag:abc-2')).toEqual({ etag: 'abc-2' });
    for (const token of ['abc', '1', 'etag:', 'version-id:', '']) {
      expect(parseS3ObjectVersion(token)).toBeUndefined();
    }
  });
});

describe('s3 store on fauxqs: pinned reads', () => {
  it('fails OBJECT_VERSION_GONE when the object is overwritten between stat and read (412 on If-Match)', async () => {
    const store = await storeOn('fauxqs');
    const key = 'vendors/acme/orders/overwritten.csv';
    const stated = await putObject(store, key, 'id\n1\n');
    await putObject(store, key, 'id\n2\n');

    const reads: Array<Promise<unknown>> = [
      store.read(key, stated.version),
      store.readRange(key, stated.version, 0, 3),
    ];
    for (const read of reads) {
      const result = await outcome(read);
      expect(result).toHaveProperty('error');
      const error = 'error' in result ? result.error : undefined;
      expect(isDropgateError(error, 'OBJECT_VERSION_GONE')).toBe(true);
      // fauxqs refused the read itself: the pin is If-Match, not a check after the bytes came.
      expect((error as Error).cause).toMatchObject({ $metadata: { httpStatusCode: 412 } });
    }
  });

  it('fails OBJECT_VERSION_GONE for a key deleted between stat and read', async () => {
    const store = await storeOn('fauxqs');
    const stated = await putObject(store, 'gone.csv', 'x\n');
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: 'gone.csv' }));
    await expectCode(store.read('gone.csv', stated.version), 'OBJECT_VERSION_GONE');
    await expectCode(store.readRange('gone.csv', stated.version, 0, 1), 'OBJECT_VERSION_GONE');
    expect(await store.stat('gone.csv')).toBeUndefined();
  });

  it.each(ODD_KEYS)('stats, reads and lists the key %j', async (key) => {
    const store = await storeOn('fauxqs');
    const written = await putObject(store, key, 'id\n1\n', 'text/csv');
    expect(written).toMatchObject({ key, size: 5, contentType: 'text/csv' });
    expect(new TextDecoder().decode(await readAll(await store.read(key, written.version)))).toBe('id\n1\n');
    expect(new TextDecoder().decode(await store.readRange(key, written.version, 3, 4))).toBe('1');
    expect((await store.list('vendors/acme/')).objects.map((object) => object.key)).toEqual([key]);
  });

  it('pages a listing of 1001 objects as 1000 and 1, and follows the cursor', async () => {
    const store = await storeOn('fauxqs');
    const keys = Array.from({ length: 1001 }, (_, index) => `k/${String(index).padStart(4, '0')}.csv`);
    for (let index = 0; index < keys.length; index += 50) {
      await Promise.all(
        keys
          .slice(index, index + 50)
          .map((key) =>
            store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: 'x' })),
          ),
      );
    }
    const first = await store.list('k/');
    expect(first.objects).toHaveLength(1000);
    expect(first.cursor).toEqual(expect.any(String));
    const second = await store.list('k/', { cursor: first.cursor! });
    expect(second).toEqual({ objects: [expect.objectContaining({ key: 'k/1000.csv' })] });
  }, 120_000);
});

describe('s3 store on s3rver: reads where the server ignores If-Match', () => {
  it('reads whole objects and ranges of the version it pinned', async () => {
    const store = await storeOn('s3rver');
    const written = await putObject(store, 'range.txt', '0123456789', 'text/plain');
    expect(new TextDecoder().decode(await readAll(await store.read('range.txt', written.version)))).toBe(
      '0123456789',
    );
    expect(new TextDecoder().decode(await store.readRange('range.txt', written.version, 2, 5))).toBe('234');
    expect(new TextDecoder().decode(await store.readRange('range.txt', written.version, 8, 100))).toBe('89');
    expect(await store.readRange('range.txt', written.version, 10, 20)).toEqual(new Uint8Array(0));
  });

  it('still fails OBJECT_VERSION_GONE after an overwrite: the ETag served is checked against the pin', async () => {
    const store = await storeOn('s3rver');
    const stated = await putObject(store, 'overwritten.csv', 'old old\n');
    await putObject(store, 'overwritten.csv', 'NEW NEW\n');
    await expectCode(store.read('overwritten.csv', stated.version), 'OBJECT_VERSION_GONE');
    await expectCode(store.readRange('overwritten.csv', stated.version, 0, 4), 'OBJECT_VERSION_GONE');
  });
});

describe('s3 store: configuration faults', () => {
  it('names a bucket that does not exist as CONFIG_INVALID', async () => {
    const store = await storeOn('fauxqs');
    const missing = await createS3ObjectStore({
      bucket: 'no-such-bucket-here',
      region: TEST_REGION,
      endpoint: endpointOf('fauxqs'),
      forcePathStyle: true,
      clientConfig: { credentials: TEST_CREDENTIALS },
    });
    stores.push(missing);
    const result = await outcome(missing.list(''));
    expect(result).toHaveProperty('error');
    const error = 'error' in result ? result.error : undefined;
    expect(isDropgateError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('no-such-bucket-here');
    expect(await store.list('')).toEqual({ objects: [] });
  });

  it('reports credentials S3 refuses as a retryable read failure saying so', async () => {
    const store = await storeOn('s3rver');
    const stranger = await createS3ObjectStore({
      bucket: store.bucket,
      region: TEST_REGION,
      endpoint: endpointOf('s3rver'),
      forcePathStyle: true,
      clientConfig: { credentials: { accessKeyId: 'NOT-KNOWN', secretAccessKey: 'wrong' } },
    });
    stores.push(stranger);
    const listed = await outcome(stranger.list(''));
    const error = 'error' in listed ? listed.error : undefined;
    expect(isDropgateError(error, 'OBJECT_READ_FAILED')).toBe(true);
    expect((error as DropgateErrorLike).retryable).toBe(true);
    expect((error as Error).message).toMatch(/refused the gateway's credentials.*InvalidAccessKeyId/);
    expect((error as Error).message).not.toContain('wrong');
    // A HEAD answer has no body to say why: the message names both causes.
    const stated = await outcome(stranger.stat('a.csv'));
    const headError = 'error' in stated ? stated.error : undefined;
    expect(isDropgateError(headError, 'OBJECT_READ_FAILED')).toBe(true);
    expect((headError as Error).message).toMatch(/s3:GetObject.*does not accept the credentials/);
  });

  it('refuses to start without a region, naming where to set one', async () => {
    const saved = {
      region: process.env.AWS_REGION,
      defaultRegion: process.env.AWS_DEFAULT_REGION,
      file: process.env.AWS_CONFIG_FILE,
    };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    try {
      await expect(
        createS3ObjectStore({ bucket: 'b', endpoint: endpointOf('fauxqs') }),
      ).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('set store.region or AWS_REGION'),
      });
    } finally {
      restore('AWS_REGION', saved.region);
      restore('AWS_DEFAULT_REGION', saved.defaultRegion);
      restore('AWS_CONFIG_FILE', saved.file);
    }
  });
});

const request: UploadUrlRequest = {
  key: 'vendors/acme/orders/2024-05-01.csv',
  maxBytes: 5_000,
  contentType: 'text/csv',
  expiresInSeconds: 600,
};
const CSV = 'id,amount\n1,2.50\n';

/** Sends the file the way the signed upload says: the bare body, or a form with the file last. */
async function send(upload: SignedPutUpload | SignedPostUpload, body: string, url = upload.url) {
  if (upload.method === 'PUT') return fetch(url, { method: 'PUT', headers: upload.headers, body });
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append(upload.fileField, new Blob([body]), 'upload.csv');
  return fetch(url, { method: 'POST', body: form });
}

async function expectLanded(store: S3ObjectStore, key: string, body: string) {
  const info = await store.stat(key);
  expect(info).toMatchObject({
    key,
    size: new TextEncoder().encode(body).byteLength,
    contentType: 'text/csv',
  });
  expect(new TextDecoder().decode(await readAll(await store.read(key, info!.version)))).toBe(body);
}

/** Signs as if the clock read an hour ago, so the URL expired 50 minutes ago. */
async function signedAnHourAgo(store: S3ObjectStore) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() - 3_600_000);
  try {
    return await store.createUploadUrl(request);
  } finally {
    vi.useRealTimers();
  }
}

const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/** SigV4's signing key for a day, from the secret: computed here, independently of the SDK. */
function signingKey(day: string): Buffer {
  const dated = hmac(`AWS4${TEST_CREDENTIALS.secretAccessKey}`, day);
  return hmac(hmac(hmac(dated, TEST_REGION), 's3'), 'aws4_request');
}

describe('presigned PUT (upload: put) against s3rver', () => {
  it('lands the vendor’s file at the key with the signed content type', async () => {
    const store = await storeOn('s3rver', { upload: 'put' });
    const signed = await store.createUploadUrl(request);
    expect(signed.method).toBe('PUT');
    expect(signed).toMatchObject({ key: request.key, headers: { 'content-type': 'text/csv' } });
    const response = await send(signed, CSV);
    expect(response.status, await response.clone().text()).toBe(200);
    await expectLanded(store, request.key, CSV);
  });

  it.each(ODD_KEYS)('lands at exactly the key %j', async (key) => {
    const store = await storeOn('s3rver', { upload: 'put' });
    const signed = await store.createUploadUrl({ ...request, key });
    expect((await send(signed, CSV)).status).toBe(200);
    await expectLanded(store, key, CSV);
    expect((await store.list('')).objects.map((object) => object.key)).toEqual([key]);
  });

  it('is refused by s3rver once expired, and nothing lands', async () => {
    const store = await storeOn('s3rver', { upload: 'put' });
    const signed = await signedAnHourAgo(store);
    expect(Date.parse(signed.expiresAt)).toBeLessThan(Date.now());
    const response = await send(signed, CSV);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('Request has expired');
    expect(await store.stat(request.key)).toBeUndefined();
  });

  it('is refused by s3rver when the credential names another access key', async () => {
    const store = await storeOn('s3rver', { upload: 'put' });
    const signed = await store.createUploadUrl(request);
    const url = new URL(signed.url);
    url.searchParams.set(
      'X-Amz-Credential',
      url.searchParams.get('X-Amz-Credential')!.replace(/^[^/]+/, 'FORGED'),
    );
    const response = await send(signed, CSV, url.href);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('InvalidAccessKeyId');
    expect(await store.stat(request.key)).toBeUndefined();
  });

  it('carries a SigV4 signature over the method, exact key, content type, host and expiry (recomputed here)', async () => {
    // s3rver does not check SigV4 signatures: a tampered one would pass it. S3 recomputes this one from
    // the request it receives, so any change to what is signed here makes S3 refuse the upload.
    const store = await storeOn('s3rver', { upload: 'put' });
    const key = ODD_KEYS[0]!;
    const signed = await store.createUploadUrl({ ...request, key });
    const url = new URL(signed.url);
    const query = url.searchParams;
    expect(url.pathname).toBe(`/${store.bucket}/${key.split('/').map(rfc3986).join('/')}`);
    expect(query.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(query.get('X-Amz-Expires')).toBe('600');
    expect(query.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    // No checksum of an empty body is signed in (S3 would then refuse the vendor's real body).
    expect([...query.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);

    const amzDate = query.get('X-Amz-Date')!;
    const day = amzDate.slice(0, 8);
    expect(query.get('X-Amz-Credential')).toBe(
      `${TEST_CREDENTIALS.accessKeyId}/${day}/${TEST_REGION}/s3/aws4_request`,
    );
    const canonicalQuery = [...query.entries()]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .sort()
      .join('&');
    const canonicalRequest = [
      'PUT',
      url.pathname,
      canonicalQuery,
      `content-type:text/csv\nhost:${url.host}\n`,
      'content-type;host',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      `${day}/${TEST_REGION}/s3/aws4_request`,
      sha256(canonicalRequest),
    ].join('\n');
    expect(query.get('X-Amz-Signature')).toBe(hmac(signingKey(day), stringToSign).toString('hex'));
  });
});

describe('presigned POST (upload: post, the default) against s3rver', () => {
  it('lands the vendor’s file at the key with the signed content type', async () => {
    const store = await storeOn('s3rver');
    const signed = await store.createUploadUrl(request);
    expect(signed.method).toBe('POST');
    if (signed.method !== 'POST') return;
    expect(signed.url).toBe(`${endpointOf('s3rver')}/${store.bucket}`);
    expect(signed.fileField).toBe('file');
    expect(signed.fields).toMatchObject({ key: request.key, 'Content-Type': 'text/csv' });
    const response = await send(signed, CSV);
    expect(response.status, await response.clone().text()).toBe(204);
    await expectLanded(store, request.key, CSV);
  });

  it.each(ODD_KEYS)('lands at exactly the key %j', async (key) => {
    const store = await storeOn('s3rver');
    const signed = await store.createUploadUrl({ ...request, key });
    expect((await send(signed, CSV)).status).toBe(204);
    await expectLanded(store, key, CSV);
  });

  it('signs a policy bounding the size to 0..maxBytes, the exact key and content type, and the expiry', async () => {
    // No stand-in enforces a POST policy (s3rver ignores it), so it is decoded and checked here; S3
    // refuses an upload outside any of these conditions, and a policy changed to allow one no longer
    // matches its signature, recomputed here from the credentials.
    const store = await storeOn('s3rver');
    const signed = (await store.createUploadUrl(request)) as SignedPostUpload;
    const policy = JSON.parse(Buffer.from(signed.fields.Policy!, 'base64').toString('utf8')) as {
      expiration: string;
      conditions: unknown[];
    };
    expect(Math.abs(Date.parse(policy.expiration) - Date.parse(signed.expiresAt))).toBeLessThan(2_000);
    expect(Date.parse(policy.expiration)).toBeGreaterThanOrEqual(Date.parse(signed.expiresAt));
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 0, 5_000],
        ['eq', '$Content-Type', 'text/csv'],
        { key: request.key },
        { bucket: store.bucket },
      ]),
    );
    // No starts-with condition that would let the vendor pick another key.
    expect(
      policy.conditions.filter((condition) => Array.isArray(condition) && condition[0] === 'starts-with'),
    ).toEqual([]);

    const day = signed.fields['X-Amz-Date']!.slice(0, 8);
    expect(signed.fields['X-Amz-Credential']).toBe(
      `${TEST_CREDENTIALS.accessKeyId}/${day}/${TEST_REGION}/s3/aws4_request`,
    );
    expect(signed.fields['X-Amz-Signature']).toBe(
      hmac(signingKey(day), signed.fields.Policy!).toString('hex'),
    );
  });
});

interface DropgateErrorLike {
  retryable: boolean;
}

function restore(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
