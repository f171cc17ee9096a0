/**
 * Starts Google's Pub/Sub and Firestore emulators (installed with the Google Cloud CLI) on 127.0.0.1 and
 * points the standard variables at them, so the adapters reach them with no other change: for the whole
 * of a vitest run (test/global-setup/google-emulators.ts) and for `npm run bench`. An emulator already
 * named by its variable is used as it is. A missing emulator fails with how to install it: a
 * real-service test is never skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const INSTALL_HINT =
  'install the Google Cloud CLI with its emulators (Debian: apt-get install google-cloud-cli ' +
  'google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator, from Google’s apt repository), ' +
  'or point PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST at running emulators';

export type EmulatorVariable = 'PUBSUB_EMULATOR_HOST' | 'FIRESTORE_EMULATOR_HOST';

interface Emulator {
  variable: EmulatorVariable;
  name: string;
  command(root: string, port: number): { file: string; args: string[] };
}

const EMULATORS: Emulator[] = [
  {
    variable: 'PUBSUB_EMULATOR_HOST',
    name: 'Pub/Sub emulator',
    command: (root, port) => ({
      file: join(root, 'platform/pubsub-emulator/bin/cloud-pubsub-emulator'),
      args: ['--host=127.0.0.1', `--port=${port}`],
    }),
  },
  {
    variable: 'FIRESTORE_EMULATOR_HOST',
    name: 'Firestore emulator',
    command: (root, port) => ({
      file: join(root, 'platform/cloud-firestore-emulator/cloud_firestore_emulator'),
      args: ['start', '--host=127.0.0.1', `--port=${port}`],
    }),
  },
];

function sdkRoot(): string {
  const found = spawnSync('gcloud', ['info', '--format=value(installation.sdk_root)'], { encoding: 'utf8' });
  const root = found.status === 0 ? found.stdout.trim() : '';
  if (!root) throw new Error(`The Google Cloud CLI (gcloud) was not found: ${INSTALL_HINT}.`);
  return root;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(name: string, host: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`The ${name} exited with code ${child.exitCode} on start:\n${output()}`);
    }
    const answered = await fetch(`http://${host}/`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`The ${name} did not answer within 60 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the emulators of `variables` (default: all) not already named there; resolves to their stop. */
export async function startGoogleEmulators(
  variables: EmulatorVariable[] = EMULATORS.map((emulator) => emulator.variable),
): Promise<() => Promise<void>> {
  // Google's libraries otherwise look for the metadata server, a network call off this machine.
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.GOOGLE_CLOUD_PROJECT ??= 'dropgate-test';
  const wanted = EMULATORS.filter(
    (emulator) => variables.includes(emulator.variable) && !process.env[emulator.variable],
  );
  if (wanted.length === 0) return async () => undefined;
  const root = sdkRoot();
  const children: ChildProcess[] = [];
  const stopAll = () => {
    // Each emulator is a launcher script and a JVM: the whole process group goes.
    for (const child of children) {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  };
  process.once('exit', stopAll);
  try {
    await Promise.all(
      wanted.map(async (emulator) => {
        const { file, args } = emulator.command(root, await freePort());
        if (!existsSync(file))
          throw new Error(`The ${emulator.name} is not installed (${file}): ${INSTALL_HINT}.`);
        const host = args.find((arg) => arg.startsWith('--port='))!.replace('--port=', '127.0.0.1:');
        const child = spawn(file, args, {
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, JAVA_OPTS: process.env.JAVA_OPTS ?? '-Xmx256m' },
        });
        children.push(child);
        let output = '';
        const keep = (chunk: Buffer) => {
          output = (output + chunk.toString('utf8')).slice(-8_000);
        };
        child.stdout!.on('data', keep);
        child.stderr!.on('data', keep);
        await waitUntilServing(emulator.name, host, child, () => output);
        process.env[emulator.variable] = host;
      }),
    );
  } catch (error) {
    stopAll();
    throw error;
  }
  return async () => {
    stopAll();
    process.removeListener('exit', stopAll);
  };
}
