/**
 * A GCS stand-in for one test file, with a service account it trusts and STORAGE_EMULATOR_HOST pointing
 * the SDK at it, as an operator points it at an emulator.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startGcsStandIn, type GcsStandIn } from '../../support/gcs-stand-in/gcs-stand-in.js';
import {
  createTestServiceAccount,
  type TestServiceAccount,
} from '../../support/gcs-stand-in/service-account.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../../contract/temporary-directory.js';
import { loadTestConfig, makeTemporaryDirectory, startIn, type TestGateway } from './test-gateway.js';

export interface GcsFixture {
  standIn: GcsStandIn;
  account: TestServiceAccount;
  /** Where key files live for the test file. */
  directory: string;
}

/** Starts the stand-in before the file's tests and stops it after; read the fixture inside tests. */
export function useGcsStandIn(): GcsFixture {
  const fixture = {} as GcsFixture;
  let directory: TemporaryDirectory | undefined;
  let previous: string | undefined;
  beforeAll(async () => {
    directory = await createTemporaryDirectory('gcs');
    fixture.directory = directory.path;
    fixture.account = await createTestServiceAccount(directory.path);
    fixture.standIn = await startGcsStandIn({ serviceAccounts: [fixture.account] });
    previous = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = fixture.standIn.url;
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previous;
    await fixture.standIn?.close();
    await directory?.remove();
  });
  return fixture;
}

/**
 * A gateway whose config file is `config` with the `gcs` store over the stand-in's `bucket` (created here),
 * its key file given relative to the config file, as an operator writes it.
 */
export async function startGcsGateway(
  gcs: GcsFixture,
  bucket: string,
  config: Record<string, unknown>,
): Promise<TestGateway> {
  gcs.standIn.createBucket(bucket);
  const directory = await makeTemporaryDirectory();
  await mkdir(join(directory, 'keys'));
  await copyFile(gcs.account.keyFile, join(directory, 'keys', 'dropgate.json'));
  await writeFile(
    join(directory, 'dropgate.config.json'),
    JSON.stringify({ store: { type: 'gcs', bucket, keyFile: 'keys/dropgate.json' }, ...config }),
  );
  try {
    return await startIn(directory, await loadTestConfig(directory));
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
