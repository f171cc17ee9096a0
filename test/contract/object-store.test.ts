/**
 * Runs the ObjectStore contract against every store, and the UploadReceiver contract against the stores
 * that receive their own uploads: memory and local (which are all the stores there are, so far).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLocalObjectStore,
  type LocalObjectStore,
} from '../../adapters/object-store/local/local-object-store.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
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
});
