/** Runs the Ledger contract against the memory and local (JSON documents) ledgers, then local durability. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDropgateError } from '../../adapters/errors.js';
import type { FileRecord } from '../../adapters/ports.js';
import { packageRoot } from '../../app/node/load-config.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import {
  claimBy,
  ledgerContract,
  ledgerHistoryContract,
  outcomeOf,
  ref,
  type LedgerFactory,
} from './ledger-contract.js';
import { createTemporaryDirectory, type TemporaryDirectory } from './temporary-directory.js';

const memoryLedger: LedgerFactory = async ({ now }) => ({ ledger: createMemoryLedger({ now }) });
const localLedger: LedgerFactory = async ({ now }) => {
  const directory = await createTemporaryDirectory('ledger');
  return { ledger: await createLocalLedger({ directory: directory.path, now }), dispose: directory.remove };
};

ledgerContract('memory', memoryLedger);
ledgerHistoryContract('memory', memoryLedger);
ledgerContract('local', localLedger);
ledgerHistoryContract('local', localLedger);

describe('local ledger on disk', () => {
  let directory: TemporaryDirectory;
  let clock: number;
  const open = () => createLocalLedger({ directory: directory.path, now: () => clock });

  beforeEach(async () => {
    directory = await createTemporaryDirectory('ledger');
    clock = Date.parse('2024-05-01T12:00:00.000Z');
  });
  afterEach(() => directory.remove());

  it('keeps every record across re-creating the ledger on the same directory', async () => {
    const first = await open();
    await first.claim(ref('v1'), claimBy('worker-a'));
    await first.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
    clock += 1_000;
    await first.claim(ref('v2'), claimBy('worker-a'));
    await first.checkpoint(ref('v2'), 'worker-a', { row: 40, published: 38, rejected: 2 }, 60_000);
    await first.claim(ref('v1', 'vendors/acme/orders/b.csv'), claimBy('worker-b'));
    await first.finish(ref('v1', 'vendors/acme/orders/b.csv'), 'worker-b', outcomeOf('failed'));
    const before = await Promise.all([first.get(ref('v1')), first.get(ref('v2'))]);

    const second = await open();
    expect(await Promise.all([second.get(ref('v1')), second.get(ref('v2'))])).toEqual(before);
    expect((await second.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');
    expect(
      (await second.unfinished({ bucket: 'contract' })).records
        .map((record) => `${record.key}@${record.version}`)
        .sort(),
    ).toEqual(['vendors/acme/orders/a.csv@v2', 'vendors/acme/orders/b.csv@v1']);
    expect(await second.claim(ref('v1'), claimBy('worker-c'))).toMatchObject({
      claimed: false,
      reason: 'duplicate',
    });
  });

  it('lets the lease holder carry on after a restart, and a crashed attempt resume after its lease', async () => {
    const first = await open();
    await first.claim(ref('v1'), claimBy('worker-a'));
    await first.checkpoint(ref('v1'), 'worker-a', { row: 10, published: 10, rejected: 0 }, 60_000);

    const second = await open();
    await second.checkpoint(ref('v1'), 'worker-a', { row: 20, published: 20, rejected: 0 }, 60_000);
    expect(await second.claim(ref('v1'), claimBy('worker-b'))).toMatchObject({ reason: 'in-progress' });

    clock += 60_001;
    const third = await open();
    const resumed = await third.claim(ref('v1'), claimBy('worker-b'));
    expect(resumed.claimed).toBe(true);
    expect(resumed.record).toMatchObject({
      attempts: 2,
      checkpoint: { row: 20, published: 20, rejected: 0 },
    });
  });

  it('leaves no temporary files behind after its writes', async () => {
    const ledger = await open();
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => ledger.claim(ref(`v${index}`), claimBy(`worker-${index}`))),
    );
    const versions = await readdir(join(directory.path, 'versions'));
    expect(versions).toHaveLength(10);
    for (const name of versions) expect(name).toMatch(/^[0-9a-f]{16}-[0-9a-f]{64}\.json$/);
    expect(await readdir(join(directory.path, 'keys'))).toEqual([
      expect.stringMatching(/^[0-9a-f]{64}\.json$/),
    ]);
    expect(await readdir(join(directory.path, 'unfinished'))).toHaveLength(10);
  });

  /** Runs `body` in another Node process with `ledger` open on the directory (the compiled local ledger). */
  function inAnotherProcess(body: string, options: { wait?: boolean } = {}) {
    const module = pathToFileURL(join(packageRoot, 'dist/adapters/ledger/local/local-ledger.js')).href;
    const script = `import { createLocalLedger } from ${JSON.stringify(module)};
      const ledger = await createLocalLedger({ directory: ${JSON.stringify(directory.path)} });
      ${body}
      process.stdout.write('ready\\n');`;
    if (!options.wait) {
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      return undefined;
    }
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `${script}\nsetInterval(() => {}, 1000);`,
    ]);
    return new Promise<typeof child>((resolve, reject) => {
      child.stdout.on('data', () => resolve(child));
      child.on('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
  }

  it('takes over at once a live lease granted to a process that is gone, keeping its checkpoint', async () => {
    inAnotherProcess(`
      const ref = { bucket: 'contract', key: 'vendors/acme/orders/a.csv', version: 'v1' };
      await ledger.claim(ref, { dataset: 'orders', owner: 'crashed-process', leaseMs: 3_600_000, mode: 'notification' });
      await ledger.checkpoint(ref, 'crashed-process', { row: 40, published: 40, rejected: 0 }, 3_600_000);`);
    // The other process exited without closing: its lock and its hour-long lease are left behind.
    const ledger = await createLocalLedger({ directory: directory.path });
    const left = (await ledger.get(ref('v1')))!;
    expect(Date.parse(left.leaseUntil!)).toBeGreaterThan(Date.now() + 3_000_000);

    const claim = await ledger.claim(ref('v1'), claimBy('restarted'));
    expect(claim).toMatchObject({
      claimed: true,
      record: { attempts: 2, owner: 'restarted', checkpoint: { row: 40 } },
    });
    // A lease this process holds stays live against every other claimant.
    expect(await ledger.claim(ref('v1'), claimBy('someone-else'))).toMatchObject({
      claimed: false,
      reason: 'in-progress',
    });
    await ledger.close();
  });

  it('refuses to open a directory another live process has open, naming its pid', async () => {
    const child = (await inAnotherProcess('', { wait: true }))!;
    try {
      const error = await createLocalLedger({ directory: directory.path }).catch((reason: unknown) => reason);
      expect(isDropgateError(error, 'CONFLICT')).toBe(true);
      expect((error as Error).message).toContain(String(child.pid));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('moves records kept the old way (one document per key) into one document per version', async () => {
    const record = (version: string, state: FileRecord['state']) =>
      ({
        ...ref(version),
        state,
        dataset: 'orders',
        attempts: 1,
        replays: 0,
        checkpoint: state === 'failed' ? { row: 7, published: 7, rejected: 0 } : null,
        owner: null,
        leaseUntil: null,
        firstSeenAt: '2024-05-01T12:00:00.000Z',
        startedAt: '2024-05-01T12:00:00.000Z',
        finishedAt: '2024-05-01T12:00:01.000Z',
        outcome: null,
      }) as Omit<FileRecord, 'via' | 'replayRequested'>;
    const old = join(directory.path, 'files');
    await mkdir(old, { recursive: true });
    const name = createHash('sha256').update('contract\nvendors/acme/orders/a.csv').digest('hex');
    await writeFile(
      join(old, `${name}.json`),
      JSON.stringify({
        bucket: 'contract',
        key: 'vendors/acme/orders/a.csv',
        latestVersion: 'v2',
        versions: { v2: record('v2', 'failed'), v1: record('v1', 'ingested') },
      }),
    );

    const ledger = await open();
    expect(existsSync(old)).toBe(false);
    expect(await ledger.get(ref('v1'))).toMatchObject({
      state: 'ingested',
      via: null,
      replayRequested: false,
    });
    expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');
    const { records } = await ledger.unfinished({ bucket: 'contract' });
    expect(records).toMatchObject([{ version: 'v2', state: 'failed', checkpoint: { row: 7 } }]);
    expect(await ledger.claim(ref('v1'), claimBy('worker-a'))).toMatchObject({ reason: 'duplicate' });
  });
});
