/**
 * The data directory's lock is stale the moment its owner is gone, even before the owner's parent has
 * reaped it (a restart 0.3 s after `kill -9` must not be refused), and a reused pid does not keep it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDropgateError } from '../../adapters/errors.js';
import { lockDirectory } from '../../adapters/local/directory-lock.js';
import { packageRoot } from '../../app/node/load-config.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'dropgate-lock-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const procState = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
};

/** A process that takes the lock, under a parent (`sleep`) that will never reap it; resolves with its pid. */
function lockHolderUnderSleep(): Promise<{ pid: number; stop: () => void }> {
  const module = pathToFileURL(join(packageRoot, 'dist/adapters/local/directory-lock.js')).href;
  const script = `import { lockDirectory } from ${JSON.stringify(module)};
    await lockDirectory(${JSON.stringify(directory)}, '.lock');
    process.stdout.write(process.pid + '\\n');
    setInterval(() => {}, 1000);`;
  const shell = spawn('sh', [
    '-c',
    `"${process.execPath}" --input-type=module -e "$0" & exec sleep 30`,
    script,
  ]);
  return new Promise((resolve, reject) => {
    shell.stdout.on('data', (chunk: Buffer) =>
      resolve({ pid: Number(chunk.toString().trim()), stop: () => shell.kill('SIGKILL') }),
    );
    shell.on('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
}

describe('the data directory lock', () => {
  it('refuses a directory a live process holds, naming its pid', async () => {
    const holder = await lockHolderUnderSleep();
    try {
      const error = await lockDirectory(directory, '.lock').catch((reason: unknown) => reason);
      expect(isDropgateError(error, 'CONFLICT')).toBe(true);
      expect((error as Error).message).toContain(`pid ${holder.pid}`);
    } finally {
      process.kill(holder.pid, 'SIGKILL');
      holder.stop();
    }
  });

  it('takes over at once from a holder killed but not yet reaped (a zombie)', async () => {
    const holder = await lockHolderUnderSleep();
    try {
      process.kill(holder.pid, 'SIGKILL');
      for (let wait = 0; procState(holder.pid) !== 'Z' && wait < 100; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The pid still exists: only its state tells it is gone.
      expect(procState(holder.pid)).toBe('Z');
      const unlock = await lockDirectory(directory, '.lock');
      expect((await readFile(join(directory, '.lock'), 'utf8')).split(' ')[0]).toBe(String(process.pid));
      await unlock();
      expect(existsSync(join(directory, '.lock'))).toBe(false);
    } finally {
      holder.stop();
    }
  });

  it('takes over a lock whose pid now belongs to a process started at another time', async () => {
    // The parent of this process is alive, but it is not the process that wrote this lock.
    await writeFile(join(directory, '.lock'), `${process.ppid} 1`);
    const unlock = await lockDirectory(directory, '.lock');
    await unlock();
  });
});
