/** Runs the Ledger contract against the memory and local (JSON documents) ledgers, then local durability. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalLedger } from '../../adapters/ledger/local/local-ledger.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { claimBy, ledgerContract, outcomeOf, ref } from './ledger-contract.js';
import { createTemporaryDirectory, type TemporaryDirectory } from './temporary-directory.js';

ledgerContract('memory', async ({ now }) => ({ ledger: createMemoryLedger({ now }) }));

ledgerContract('local', async ({ now }) => {
  const directory = await createTemporaryDirectory('ledger');
  return { ledger: await createLocalLedger({ directory: directory.path, now }), dispose: directory.remove };
});

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
});
