/**
 * One Dropgate process per data directory: a lock file naming the owner. The local sink appends at
 * offsets it keeps and the local ledger voids leases of processes that are gone, so both need to know no
 * other live process uses their directory.
 *
 * The file holds the owner's pid and, on Linux, its start time (from /proc), so a lock is stale as soon as
 * its owner is gone: when the pid no longer exists, when it is a zombie (killed, not yet reaped by its
 * parent), or when the pid was reused by a process that started at another time.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DropgateError } from '../errors.js';

/**
 * Takes `<directory>/<name>` for this process, or throws CONFLICT naming the live process that holds it.
 * A lock left by a process that is gone (or by this one) is taken over. Returns the unlock function.
 */
export async function lockDirectory(directory: string, name: string): Promise<() => Promise<void>> {
  const path = join(directory, name);
  const mine = ownerLine(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(mine);
      await handle.close();
      return async () => {
        if ((await readFile(path, 'utf8').catch(() => '')) === mine) await rm(path, { force: true });
      };
    } catch (error) {
      // Another process may have taken over the same stale lock a moment ago: look at it again.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    const [pid, startTime] = (await readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/);
    const holder = Number(pid);
    if (holder !== process.pid && isAlive(holder, startTime)) {
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

/** `<pid> <start time>`, or just the pid where /proc cannot tell the start time. */
function ownerLine(pid: number): string {
  const stat = procStat(pid);
  return stat ? `${pid} ${stat.startTime}` : String(pid);
}

function isAlive(pid: number, startTime: string | undefined): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, run by someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** State and start time (clock ticks since boot) of a Linux process, or undefined without /proc. */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces or parentheses itself: fields follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTime: fields[19]! };
}
