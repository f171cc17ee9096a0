/**
 * The `dropgate` command as a separate process, as an operator runs it: `node bin/dropgate.js` on the
 * compiled code, in a directory of its own, with the test credentials in its environment. For tests that
 * kill a gateway outright (`kill -9`) and start another over the same data directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, OTHER_VENDOR_KEY, SIGNING_SECRET, VENDOR_KEY } from './test-gateway.js';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(PACKAGE_ROOT, 'bin/dropgate.js');

/**
 * The command runs dist/: compiles it from the current sources (a `beforeAll` of each such suite), unless
 * dist/ is already newer than every one of them (`npm test` has just built it).
 */
export function buildDist(): void {
  if (distIsCurrent()) return;
  const build = spawnSync(
    process.execPath,
    [join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: PACKAGE_ROOT, encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`);
}

/** The folders tsconfig.build.json compiles, less what it leaves out. */
const BUILT = ['app', 'adapters', 'workers', 'schemas', 'bench'];
const NOT_BUILT = (path: string) =>
  path.startsWith('app/worker/') || path.endsWith('.test.ts') || /\.d\.c?ts$/.test(path);

/** Whether every TypeScript source has its compiled file in dist/, written after the source last changed. */
function distIsCurrent(): boolean {
  const sources = BUILT.flatMap((folder) =>
    readdirSync(join(PACKAGE_ROOT, folder), { recursive: true, encoding: 'utf8' })
      .map((name) => relative(PACKAGE_ROOT, join(PACKAGE_ROOT, folder, name)))
      .filter((path) => path.endsWith('.ts') && !NOT_BUILT(path)),
  );
  return sources.every((source) => {
    const compiled = statSync(join(PACKAGE_ROOT, 'dist', source.replace(/\.ts$/, '.js')), {
      throwIfNoEntry: false,
    });
    return compiled !== undefined && compiled.mtimeMs >= statSync(join(PACKAGE_ROOT, source)).mtimeMs;
  });
}

/** The environment a user's shell would give, minus any Dropgate settings of the machine running tests. */
export function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('DROPGATE_') && name !== 'PORT' && !name.startsWith('VITEST')) env[name] = value;
  }
  return { ...env, ...extra };
}

export interface ChildGateway {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
}

const started: ChildProcess[] = [];

/**
 * `dropgate serve` in `directory` on an ephemeral loopback port, with the test credentials; resolves once
 * it listens. `command` runs it another way (another Node, other flags): an executable and its arguments.
 * Every process started here is killed by `stopChildGateways`.
 */
export async function serveChild(
  directory: string,
  command: [string, ...string[]] = [process.execPath, BIN, 'serve'],
): Promise<ChildGateway> {
  const child = spawn(command[0], command.slice(1), {
    cwd: directory,
    env: cleanEnvironment({
      PORT: '0',
      HOST: '127.0.0.1',
      DROPGATE_VENDOR_KEYS: `acme=${VENDOR_KEY},globex=${OTHER_VENDOR_KEY}`,
      DROPGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      DROPGATE_SIGNING_SECRET: SIGNING_SECRET,
    }),
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  return { url, child, output: () => output };
}

/** `kill -9`; resolves once the process is gone and reaped. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Kills every gateway `serveChild` started that is still running (an `afterEach`). */
export async function stopChildGateways(): Promise<void> {
  await Promise.all(started.splice(0).map(killHard));
}
