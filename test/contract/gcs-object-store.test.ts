/**
 * The ObjectStore contract for the `gcs` store, against the GCS stand-in that STORAGE_EMULATOR_HOST points
 * the SDK at, as an operator points it at an emulator. Each test gets a bucket of its own.
 */
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll } from 'vitest';
import { createGcsObjectStore } from '../../adapters/object-store/gcs/gcs-object-store.js';
import { startGcsStandIn, type GcsStandIn } from '../support/gcs-stand-in/gcs-stand-in.js';
import {
  createTestServiceAccount,
  type TestServiceAccount,
} from '../support/gcs-stand-in/service-account.js';
import { objectStoreContract } from './object-store-contract.js';
import { createTemporaryDirectory, type TemporaryDirectory } from './temporary-directory.js';

let standIn: GcsStandIn;
let account: TestServiceAccount;
let directory: TemporaryDirectory;
let buckets = 0;

beforeAll(async () => {
  directory = await createTemporaryDirectory('gcs-contract');
  account = await createTestServiceAccount(directory.path);
  standIn = await startGcsStandIn({ serviceAccounts: [account] });
  process.env.STORAGE_EMULATOR_HOST = standIn.url;
});
afterAll(async () => {
  delete process.env.STORAGE_EMULATOR_HOST;
  await standIn?.close();
  await directory?.remove();
});

objectStoreContract('gcs (stand-in)', async () => {
  const bucket = `contract-${++buckets}`;
  standIn.createBucket(bucket);
  const store = createGcsObjectStore({ bucket, keyFile: account.keyFile });
  const writer = new Storage({ keyFilename: account.keyFile }).bucket(bucket);
  return {
    store,
    async put(key, bytes) {
      const file = writer.file(key);
      await file.save(typeof bytes === 'string' ? bytes : Buffer.from(bytes), {
        resumable: false,
        contentType: 'application/octet-stream',
      });
      const { generation, size, updated } = file.metadata;
      return { bucket, key, size: Number(size), version: String(generation), updated: String(updated) };
    },
  };
});
