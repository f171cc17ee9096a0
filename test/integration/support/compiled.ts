/** For tests that run the compiled command (`bin/dropgate.js`) in child processes. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(PACKAGE_ROOT, 'bin/dropgate.js');

/** Compiles the current sources into dist/, which the command and worker threads run. */
export function buildProduct(): void {
  const build = spawnSync(
    process.execPath,
    [join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: PACKAGE_ROOT, encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`);
}

/** The environment a user's shell would give, minus any Dropgate settings of the machine running tests. */
export function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('DROPGATE_') && name !== 'PORT' && name !== 'HOST' && !name.startsWith('VITEST'))
      env[name] = value;
  }
  return { ...env, ...extra };
}
