/**
 * The Node.js the container image ships (22 LTS), for tests that run the image's start command here: no
 * Docker daemon runs on these machines. Installed once from the npm registry's `node-<platform>-<arch>`
 * package into node_modules/.cache, outside the project's dependencies: a `node` binary among them would
 * shadow the Node that npm scripts and the test run use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version the Dockerfile's `node:22-bookworm-slim` follows; a patch release differs at most. */
export const NODE_22 = '22.23.5';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The path of a Node 22 binary, installing it on first use (about 30 MB from the npm registry). */
export function node22(): string {
  const name = `node-${process.platform}-${process.arch}`;
  const prefix = join(ROOT, 'node_modules/.cache/dropgate-node-22');
  const binary = join(prefix, 'node_modules', name, 'bin/node');
  if (existsSync(binary)) return binary;
  const installed = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `${name}@${NODE_22}`,
    ],
    { encoding: 'utf8' },
  );
  if (installed.status !== 0 || !existsSync(binary)) {
    throw new Error(
      `Node ${NODE_22} could not be installed from the npm registry (${name}@${NODE_22}):\n` +
        `${installed.stdout}${installed.stderr}`,
    );
  }
  return binary;
}
