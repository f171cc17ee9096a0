/**
 * One Dropgate process per data directory: a lock file holding the owner's pid. The local sink appends at
 * offsets it keeps and the local ledger voids leases of processes that are gone, so both need to know no
 * other live process uses their directory.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DropgateError } from '../errors.js';

/**
 * Takes `<directory>/<name>` for this process, or throws CONFLICT naming the live process that holds it.
 * A lock left by a process that is gone (or by this one) is taken over. Returns the unlock function.
 */
export async function lockDirectory(directory: string, name: string): Promise<() => Promise<void>> {
  const path = join(directory, name);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        if (Number(await readFile(path, 'utf8').catch(() => '')) === process.pid)
          await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (holder !== process.pid && isAlive(holder)) {
      throw new DropgateError(
        'CONFLICT',
        `${directory} is used by another Dropgate process (pid ${holder}); one process at a time may ` +
          'use a data directory: ingest through that one (an upload or POST /admin/replay), or give this one its ' +
          `own dataDir (if pid ${holder} is not Dropgate, remove ${path})`,
      );
    }
    await rm(path, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, run by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
