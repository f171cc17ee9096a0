/** A fresh directory under the OS temp dir for one test, and its removal afterwards. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TemporaryDirectory {
  path: string;
  remove(): Promise<void>;
}

export async function createTemporaryDirectory(prefix: string): Promise<TemporaryDirectory> {
  const path = await mkdtemp(join(tmpdir(), `dropgate-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
