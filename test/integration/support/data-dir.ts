/**
 * Reading a local gateway's data directory from outside while it runs, is held still (SIGSTOP) or was
 * killed: a stopped process cannot answer HTTP, so tests that time a kill read the files themselves.
 */
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { FileRecord } from '../../../adapters/ports.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `probe` every few milliseconds until it returns a value. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(3);
  }
}

/** The one version's record, read from the local ledger's files (the directory must hold one file). */
export async function ledgerRecord(dataDir: string): Promise<FileRecord | undefined> {
  const folder = join(dataDir, 'ledger', 'versions');
  // Temporary files (`.<uuid>.tmp`) are documents being written, or left by a killed process.
  const names = (await readdir(folder).catch(() => [] as string[])).filter((name) => name.endsWith('.json'));
  expect(names.length).toBeLessThanOrEqual(1);
  return names[0] === undefined
    ? undefined
    : (JSON.parse(await readFile(join(folder, names[0]), 'utf8')) as FileRecord);
}

/** Whether a whole line was written at or after `offset` (the torn tail before it holds no newline). */
export async function lineAfter(path: string, offset: number): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const window = Buffer.alloc(16 << 10);
    const { bytesRead } = await handle.read(window, 0, window.length, offset);
    return window.subarray(0, bytesRead).includes(0x0a);
  } finally {
    await handle.close();
  }
}
