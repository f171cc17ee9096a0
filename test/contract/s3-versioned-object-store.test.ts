/**
 * The `s3` store against a server that keeps versions (test/support/versioned-s3-stand-in.ts; neither
 * fauxqs nor s3rver does): the ObjectStore contract on a versioned bucket, where every token is a version
 * id, and on an unversioned one, where every token is an ETag; reads pinned to version 1 still serve its
 * bytes after version 2 was written, and a read broken off mid-body fails as the pin says it must.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';
import { createS3ObjectStore, type S3ObjectStore } from '../../adapters/object-store/s3/s3-object-store.js';
import { parseS3ObjectVersion } from '../../adapters/object-store/s3-object-version.js';
import { TEST_CREDENTIALS, TEST_REGION } from '../support/aws-stand-ins.js';
import { startVersionedS3StandIn, type VersionedS3StandIn } from '../support/versioned-s3-stand-in.js';
import { objectStoreContract } from './object-store-contract.js';
import { drain, expectCode, outcome, readAll } from './object-store-support.js';

let versioned: VersionedS3StandIn;
let unversioned: VersionedS3StandIn;
beforeAll(async () => {
  [versioned, unversioned] = await Promise.all([
    startVersionedS3StandIn(),
    startVersionedS3StandIn({ versioning: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([versioned?.stop(), unversioned?.stop()]);
});

let buckets = 0;
const stores: S3ObjectStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.client.destroy();
});

/** A store over a new, empty bucket of the stand-in. */
async function storeOn(standIn: VersionedS3StandIn): Promise<S3ObjectStore> {
  const store = await createS3ObjectStore({
    bucket: `versions-${++buckets}`,
    region: TEST_REGION,
    endpoint: standIn.endpoint,
    forcePathStyle: true,
    clientConfig: { credentials: TEST_CREDENTIALS },
  });
  stores.push(store);
  await fetch(`${standIn.endpoint}/${store.bucket}`, { method: 'PUT' });
  return store;
}

/** Writes an object with the SDK, as a vendor's upload would, and stats it. */
async function putObject(store: S3ObjectStore, key: string, bytes: Uint8Array | string) {
  await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: bytes }));
  const info = await store.stat(key);
  if (!info) throw new Error(`${key} was written but stat does not find it`);
  return info;
}

objectStoreContract('s3 on a versioned bucket (versioned S3 stand-in)', async () => {
  const store = await storeOn(versioned);
  return {
    store,
    put: async (key, bytes) => {
      const info = await putObject(store, key, bytes);
      expect(info.version).toMatch(/^version-id:/);
      return info;
    },
  };
});

objectStoreContract('s3 on an unversioned bucket (versioned S3 stand-in, versioning off)', async () => {
  const store = await storeOn(unversioned);
  return { store, put: (key, bytes) => putObject(store, key, bytes) };
});

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * Reads `version` of `key` while the stand-in holds the body after 50,000 bytes; once the first bytes are
 * in, runs `meanwhile`, then breaks the connection: the outcome of reading the rest.
 */
async function readCutMidBody(
  standIn: VersionedS3StandIn,
  store: S3ObjectStore,
  key: string,
  version: string,
  meanwhile: () => Promise<unknown>,
) {
  const held = standIn.holdReads(key, 50_000);
  const reader = (await store.read(key, version)).getReader();
  await held.reached;
  // The response has begun: a connection broken now is no longer one the SDK retries by itself.
  const head = await reader.read();
  expect(head.done).toBe(false);
  await meanwhile();
  held.cut();
  return outcome(drain(reader, [head.value!]));
}

describe('s3 store on a versioned bucket', () => {
  it('serves version 1 to a read pinned to it after version 2 was written, by its version id', async () => {
    const store = await storeOn(versioned);
    const key = 'vendors/acme/orders/red flower (1).csv';
    const first = await putObject(store, key, 'id\n1\n');
    const second = await putObject(store, key, 'id\n2\n22\n');
    const { versionId } = versioned.versions(store.bucket, key)[0]!;
    expect(parseS3ObjectVersion(first.version)).toEqual({ versionId });
    expect(second.version).not.toBe(first.version);
    expect((await store.stat(key))?.version).toBe(second.version);

    const before = versioned.requests.length;
    expect(text(await readAll(await store.read(key, first.version)))).toBe('id\n1\n');
    expect(text(await store.readRange(key, first.version, 3, 100))).toBe('1\n');
    expect(text(await readAll(await store.read(key, second.version)))).toBe('id\n2\n22\n');
    // Each read named its version: none asked for the current object and checked it afterwards.
    expect(versioned.requests.slice(before, before + 2)).toEqual([
      expect.stringMatching(new RegExp(`^GET /${store.bucket}/.*\\?.*versionId=${versionId}`)),
      expect.stringMatching(new RegExp(`^GET /${store.bucket}/.*\\?.*versionId=${versionId}`)),
    ]);
  });

  it('copies no replaced version, though its bytes can still be read', async () => {
    const store = await storeOn(versioned);
    const first = await putObject(store, 'a.csv', 'old\n');
    await putObject(store, 'a.csv', 'new\n');
    await expectCode(store.copy('a.csv', first.version, 'archive/a.csv'), 'OBJECT_VERSION_GONE');
    expect(await store.stat('archive/a.csv')).toBeUndefined();
    expect(text(await readAll(await store.read('a.csv', first.version)))).toBe('old\n');
  });

  it('fails a read broken off mid-body as retryable while its version id still names its bytes', async () => {
    const store = await storeOn(versioned);
    const bytes = 'x'.repeat(200_000);
    const first = await putObject(store, 'big.csv', bytes);
    const result = await readCutMidBody(versioned, store, 'big.csv', first.version, () =>
      putObject(store, 'big.csv', 'replaced\n'),
    );
    const error = 'error' in result ? result.error : undefined;
    // The version id still reads: the next attempt can read it whole, so the failure is worth a retry.
    expect(isDropgateError(error, 'OBJECT_READ_FAILED')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
    expect(text(await readAll(await store.read('big.csv', first.version)))).toBe(bytes);
  });
});

describe('s3 store on an unversioned bucket', () => {
  it('fails a read broken off mid-body by an overwrite OBJECT_VERSION_GONE: no later attempt can read it', async () => {
    const store = await storeOn(unversioned);
    const first = await putObject(store, 'big.csv', 'x'.repeat(200_000));
    const result = await readCutMidBody(unversioned, store, 'big.csv', first.version, () =>
      putObject(store, 'big.csv', 'replaced\n'),
    );
    expect(isDropgateError('error' in result ? result.error : undefined, 'OBJECT_VERSION_GONE')).toBe(true);
    await expectCode(store.read('big.csv', first.version), 'OBJECT_VERSION_GONE');
  });

  it('fails a read broken off mid-body of an object left as it was as retryable', async () => {
    const store = await storeOn(unversioned);
    const first = await putObject(store, 'big.csv', 'y'.repeat(200_000));
    const result = await readCutMidBody(unversioned, store, 'big.csv', first.version, async () => {});
    const error = 'error' in result ? result.error : undefined;
    expect(isDropgateError(error, 'OBJECT_READ_FAILED')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
  });
});
