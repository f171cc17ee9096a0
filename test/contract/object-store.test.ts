/**
 * Runs the ObjectStore contract against every store, and the UploadReceiver contract against the stores
 * that receive their own uploads: memory and local (which are all the stores there are, so far).
 */
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLocalObjectStore,
  type LocalObjectStore,
} from '../../adapters/object-store/local/local-object-store.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { ObjectPage, ObjectStore } from '../../adapters/ports.js';
import { objectStoreContract } from './object-store-contract.js';
import { streamOf } from './object-store-support.js';
import { createTemporaryDirectory, type TemporaryDirectory } from './temporary-directory.js';
import { uploadReceiverContract } from './upload-receiver-contract.js';

objectStoreContract('memory', async () => {
  const store = createMemoryObjectStore({ bucket: 'contract' });
  return { store, put: async (key, bytes) => store.put(key, bytes), keepsOpenReads: true };
});

uploadReceiverContract('memory', async () => ({ store: createMemoryObjectStore({ bucket: 'contract' }) }));

async function localStore(directory: TemporaryDirectory): Promise<LocalObjectStore> {
  return createLocalObjectStore({
    directory: join(directory.path, 'bucket'),
    temporaryDirectory: join(directory.path, 'uploads'),
    bucket: 'contract',
    baseUrl: 'http://127.0.0.1:8787',
    signingSecret: 'local-contract-secret',
  });
}

objectStoreContract('local', async () => {
  const directory = await createTemporaryDirectory('object-store');
  const store = await localStore(directory);
  return {
    store,
    put: (key, bytes) =>
      store.receive(key, streamOf(bytes), {
        maxBytes: Number.MAX_SAFE_INTEGER,
        contentType: 'application/octet-stream',
      }),
    keepsOpenReads: true,
    dispose: directory.remove,
  };
});

uploadReceiverContract('local', async () => {
  const directory = await createTemporaryDirectory('object-store');
  return {
    store: await localStore(directory),
    leftovers: () => readdir(join(directory.path, 'uploads')),
    dispose: directory.remove,
  };
});

/** Page sizes of one listing, following cursors to the end. */
async function pageSizes(store: ObjectStore, prefix: string, limit?: number): Promise<number[]> {
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page: ObjectPage = await store.list(prefix, { ...(cursor === undefined ? {} : { cursor }), limit });
    sizes.push(page.objects.length);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return sizes;
}

describe('memory object store listing', () => {
  it('fills every page but the last, 1000 objects by default', async () => {
    const store = createMemoryObjectStore();
    for (let index = 0; index < 1001; index++) store.put(`k/${String(index).padStart(4, '0')}.csv`, 'x\n');
    expect(await pageSizes(store, 'k/')).toEqual([1000, 1]);
    expect(await pageSizes(store, 'k/', 400)).toEqual([400, 400, 201]);
    expect(await pageSizes(store, 'k/', 1000)).toEqual([1000, 1]);
    expect((await store.list('k/', { limit: 1 })).objects.map((object) => object.key)).toEqual([
      'k/0000.csv',
    ]);
  });
});

describe('local object store on disk', () => {
  let directory: TemporaryDirectory;
  let store: LocalObjectStore;
  beforeEach(async () => {
    directory = await createTemporaryDirectory('object-store');
    store = await localStore(directory);
  });
  afterEach(() => directory.remove());

  const upload = (key: string, text: string) =>
    store.receive(key, streamOf(text), { maxBytes: 1024, contentType: 'text/csv' });

  it('stores each key as a whole file under the bucket directory', async () => {
    await upload('vendors/acme/orders/a.csv', 'id\n1\n');
    expect(store.pathOf('vendors/acme/orders/a.csv')).toBe(
      join(directory.path, 'bucket', 'vendors', 'acme', 'orders', 'a.csv'),
    );
    expect(await readFile(store.pathOf('vendors/acme/orders/a.csv'), 'utf8')).toBe('id\n1\n');
    expect(await readdir(join(directory.path, 'uploads'))).toEqual([]);
  });

  it('writes nothing outside the bucket for a traversal key', async () => {
    await expect(upload('../escaped.csv', 'x\n')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await readdir(directory.path)).sort()).toEqual(['bucket', 'uploads']);
  });

  it('leaves no temporary file when a key collides with a directory', async () => {
    await upload('clash/inner.csv', 'inner\n');
    await expect(upload('clash', 'outer\n')).rejects.toThrow();
    expect(await readdir(join(directory.path, 'uploads'))).toEqual([]);
    expect(await readFile(store.pathOf('clash/inner.csv'), 'utf8')).toBe('inner\n');
  });

  it('leaves no temporary file when a key runs through an existing file', async () => {
    await upload('file.csv', 'file\n');
    await expect(upload('file.csv/nested.csv', 'nested\n')).rejects.toThrow();
    expect(await readdir(join(directory.path, 'uploads'))).toEqual([]);
    expect(await readFile(store.pathOf('file.csv'), 'utf8')).toBe('file\n');
  });

  it('fills every page of a listing but the last', async () => {
    for (const key of ['k/1', 'k/2', 'k/3/a', 'k/3/b', 'k/4', 'k/5', 'k/6/c/d'])
      await upload(`${key}.csv`, 'x\n');
    expect(await pageSizes(store, 'k/', 3)).toEqual([3, 3, 1]);
    expect(await pageSizes(store, '')).toEqual([7]);
  });

  it('lists no upload in progress, even with the temporary directory inside the bucket', async () => {
    const bucket = join(directory.path, 'bucket');
    const inside = await createLocalObjectStore({
      directory: bucket,
      temporaryDirectory: join(bucket, '.uploads'),
      baseUrl: 'http://127.0.0.1:8787',
      signingSecret: 'local-contract-secret',
    });
    await inside.receive('a.csv', streamOf('a\n'), { maxBytes: 1024, contentType: 'text/csv' });

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent) {
          await released;
          return controller.close();
        }
        sent = true;
        controller.enqueue(new TextEncoder().encode('b\n'));
      },
    });
    const receiving = inside.receive('b.csv', body, { maxBytes: 1024, contentType: 'text/csv' });
    while ((await readdir(join(bucket, '.uploads'))).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    const keys = async (prefix: string) => (await inside.list(prefix)).objects.map((object) => object.key);
    expect(await keys('')).toEqual(['a.csv']);
    expect(await keys('.uploads')).toEqual([]);
    release();
    await receiving;
    expect(await keys('')).toEqual(['a.csv', 'b.csv']);
  });

  it('follows no symbolic link out of the bucket, and a prefix that climbs out finds nothing', async () => {
    const outside = join(directory.path, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.csv'), 'secret\n');
    await symlink(outside, join(directory.path, 'bucket', 'linked'));
    await symlink(join(outside, 'secret.csv'), join(directory.path, 'bucket', 'linked.csv'));
    await upload('inside.csv', 'inside\n');

    const keys = async (prefix: string) => (await store.list(prefix)).objects.map((object) => object.key);
    expect(await keys('')).toEqual(['inside.csv']);
    expect(await keys('linked')).toEqual([]);
    expect(await keys('../')).toEqual([]);
    expect(await keys('../outside/')).toEqual([]);
  });

  it('passes over files whose names are not object keys', async () => {
    await writeFile(join(directory.path, 'bucket', 'tab\there.csv'), 'x\n');
    await upload('good.csv', 'good\n');
    expect((await store.list('')).objects.map((object) => object.key)).toEqual(['good.csv']);
  });
});
