/**
 * Runs the Ledger contract against the Firestore ledger on the Firestore emulator (the vitest global setup
 * starts it and sets FIRESTORE_EMULATOR_HOST), then what only a shared database shows: claims raced by
 * several processes, paging across many records, `latest` among many versions, and Firestore's faults.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFirestoreLedger,
  type FirestoreLedger,
} from '../../adapters/ledger/firestore/firestore-ledger.js';
import { isDropgateError } from '../../adapters/errors.js';
import { buildDist, PACKAGE_ROOT } from '../integration/support/child-gateway.js';
import {
  claimBy,
  ledgerContract,
  ledgerHistoryContract,
  outcomeOf,
  ref,
  type LedgerFactory,
} from './ledger-contract.js';

const PROJECT_ID = 'dropgate-test';

function emulatorHost(): string {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host)
    throw new Error('FIRESTORE_EMULATOR_HOST is not set: the vitest global setup starts the emulator');
  return host;
}

/** A prefix of collections no other test uses, so tests sharing the emulator never see each other's records. */
const freshPrefix = () => `test-${randomUUID()}-`;

const firestoreLedger: LedgerFactory = async ({ now }) => {
  emulatorHost();
  const ledger = createFirestoreLedger({ projectId: PROJECT_ID, collectionPrefix: freshPrefix(), now });
  return { ledger, dispose: () => ledger.close() };
};

ledgerContract('firestore', firestoreLedger);
ledgerHistoryContract('firestore', firestoreLedger);

describe('firestore ledger', () => {
  let prefix: string;
  let ledger: FirestoreLedger;
  const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };

  beforeEach(() => {
    emulatorHost();
    prefix = freshPrefix();
    ledger = createFirestoreLedger({ projectId: PROJECT_ID, collectionPrefix: prefix });
  });
  afterEach(() => ledger.close());

  describe('claims raced by several processes', () => {
    beforeAll(buildDist, 120_000);

    /**
     * Starts a Node process that opens the compiled ledger on the same collections, waits for `go` on its
     * stdin, claims each version as `owner` and prints which it won as one JSON line.
     */
    function racer(owner: string, versions: string[]) {
      const module = pathToFileURL(
        join(PACKAGE_ROOT, 'dist/adapters/ledger/firestore/firestore-ledger.js'),
      ).href;
      const script = `import { createFirestoreLedger } from ${JSON.stringify(module)};
        const ledger = createFirestoreLedger({ projectId: ${JSON.stringify(PROJECT_ID)}, collectionPrefix: ${JSON.stringify(prefix)} });
        // A first call opens the connection, so the race is not decided by who connected first.
        await ledger.get({ bucket: 'warm-up', key: 'warm-up', version: 'warm-up' });
        process.stdout.write('ready\\n');
        await new Promise((resolve) => process.stdin.once('data', resolve));
        const won = [];
        await Promise.all(${JSON.stringify(versions)}.map(async (version) => {
          const ref = { bucket: 'contract', key: 'vendors/acme/orders/a.csv', version };
          const result = await ledger.claim(ref, { dataset: 'orders', owner: ${JSON.stringify(owner)}, leaseMs: 600000, mode: 'notification' });
          if (result.claimed) won.push(version);
          else if (result.reason !== 'in-progress') throw new Error('refused as ' + result.reason);
        }));
        process.stdout.write(JSON.stringify(won) + '\\n');
        await ledger.close();`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, FIRESTORE_EMULATOR_HOST: emulatorHost() },
      });
      let output = '';
      let errors = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => output.includes('ready\n') && resolve());
        child.once('exit', (code) =>
          reject(new Error(`${owner} exited with ${code} before the race:\n${errors}`)),
        );
      });
      const done = new Promise<string[]>((resolve, reject) => {
        child.once('exit', (code) => {
          if (code !== 0) reject(new Error(`${owner} exited with ${code}:\n${errors}`));
          else resolve(JSON.parse(output.split('\n')[1]!) as string[]);
        });
      });
      return { owner, child, ready, done };
    }

    it('grants each version to exactly one of five processes racing for twenty versions', async () => {
      const versions = Array.from({ length: 20 }, (_, index) => `v${index}`);
      const racers = Array.from({ length: 5 }, (_, index) => racer(`process-${index}`, versions));
      await Promise.all(racers.map((each) => each.ready));
      for (const each of racers) each.child.stdin.end('go\n');
      const won = await Promise.all(racers.map((each) => each.done));

      const winners = new Map<string, string[]>();
      racers.forEach(({ owner }, index) => {
        for (const version of won[index]!) winners.set(version, [...(winners.get(version) ?? []), owner]);
      });
      for (const version of versions) expect(winners.get(version), version).toHaveLength(1);
      for (const version of versions) {
        const record = await ledger.get(ref(version));
        expect(record).toMatchObject({ state: 'processing', attempts: 1, owner: winners.get(version)![0] });
      }
    }, 60_000);
  });

  it('pages 100 unfinished versions among finished ones, each exactly once, in a stable order', async () => {
    const keys = Array.from({ length: 120 }, (_, index) => `vendors/acme/orders/${index}.csv`);
    await Promise.all(keys.map((key) => ledger.register(ref('v1', key), landing)));
    const finished = keys.filter((_, index) => index % 6 === 0);
    await Promise.all(
      finished.map(async (key) => {
        await ledger.claim(ref('v1', key), claimBy('worker-a'));
        await ledger.finish(ref('v1', key), 'worker-a', outcomeOf('ingested'));
      }),
    );
    const expected = keys.filter((key) => !finished.includes(key));

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await ledger.unfinished({ bucket: 'contract', limit: 32, ...(cursor ? { cursor } : {}) });
      pages.push(page.records.map((record) => record.key));
      cursor = page.cursor;
    } while (cursor);
    expect(pages.map((page) => page.length)).toEqual([32, 32, 32, 4]);
    expect(pages.flat().sort()).toEqual(expected.sort());
    const again = await ledger.unfinished({ bucket: 'contract', limit: 32 });
    expect(again.records.map((record) => record.key)).toEqual(pages[0]);
  }, 60_000);

  it('ends with no cursor when the last page is exactly full', async () => {
    for (let index = 0; index < 4; index++) await ledger.register(ref('v1', `k${index}`), landing);
    const first = await ledger.unfinished({ bucket: 'contract', limit: 2 });
    expect(first.cursor).toBeDefined();
    const second = await ledger.unfinished({ bucket: 'contract', limit: 2, cursor: first.cursor! });
    expect(second.records).toHaveLength(2);
    expect(second.cursor).toBeUndefined();
  });

  it('finds the latest of 50 versions of a key from its index', async () => {
    let clock = Date.parse('2024-05-01T12:00:00.000Z');
    const ledgerAt = createFirestoreLedger({
      projectId: PROJECT_ID,
      collectionPrefix: prefix,
      now: () => clock,
    });
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 5 }, (_, index) => ledgerAt.register(ref(`v${batch}-${index}`), landing)),
        );
        clock += 1_000;
      }
      await ledgerAt.register(ref('newest'), landing);
      expect(await ledgerAt.latest('contract', 'vendors/acme/orders/a.csv')).toMatchObject({
        version: 'newest',
        state: 'pending',
        firstSeenAt: new Date(clock).toISOString(),
      });
      // A later claim of an older version is not a new sighting.
      await ledgerAt.claim(ref('v0-0'), claimBy('worker-a'));
      expect((await ledgerAt.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('newest');
    } finally {
      await ledgerAt.close();
    }
  }, 60_000);

  it('keeps a record far below 1 MiB when a file names columns of any length', async () => {
    const huge = 'x'.repeat(200_000);
    await ledger.claim(ref('v1'), claimBy('worker-a'));
    const firstErrors = Array.from({ length: 10 }, (_, index) => ({
      row: index + 1,
      line: index + 2,
      field: huge,
      reason: huge,
    }));
    await ledger.checkpoint(
      ref('v1'),
      'worker-a',
      { row: 10, published: 0, rejected: 10, firstErrors },
      60_000,
    );
    const record = await ledger.finish(ref('v1'), 'worker-a', {
      ...outcomeOf('failed'),
      error: { code: 'PUBLISH_FAILED', message: huge },
    });
    expect(record.outcome?.error?.message).toHaveLength(1024);
    expect(await ledger.get(ref('v1'))).toEqual(record);
    const stored = record.checkpoint!.firstErrors!;
    expect(stored).toHaveLength(10);
    expect(stored[0]).toMatchObject({ row: 1, line: 2, field: `${'x'.repeat(1023)}…` });
    expect(JSON.stringify(record).length).toBeLessThan(100_000);
  });

  it("caps a finished file's first errors, which its outcome keeps, like the checkpoint's", async () => {
    const huge = 'y'.repeat(200_000);
    await ledger.claim(ref('v2'), claimBy('worker-a'));
    const firstErrors = Array.from({ length: 30 }, (_, index) => ({
      row: index + 1,
      line: index + 2,
      field: huge,
      reason: huge,
    }));
    const record = await ledger.finish(ref('v2'), 'worker-a', { ...outcomeOf('rejected'), firstErrors });
    expect(await ledger.get(ref('v2'))).toEqual(record);
    const stored = record.outcome!.firstErrors!;
    expect(stored).toHaveLength(20);
    expect(stored[19]).toMatchObject({ row: 20, line: 21, reason: `${'y'.repeat(1023)}…` });
    expect(JSON.stringify(record).length).toBeLessThan(100_000);
  });

  it('marks a finished record for a TTL policy after retentionDays, and unmarks it when replayed', async () => {
    const clock = Date.parse('2024-05-01T12:00:00.000Z');
    const kept = createFirestoreLedger({
      projectId: PROJECT_ID,
      collectionPrefix: prefix,
      retentionDays: 40,
      now: () => clock,
    });
    const raw = new Firestore({ projectId: PROJECT_ID });
    const document = async () => {
      const { docs } = await raw.collection(`${prefix}versions`).get();
      expect(docs).toHaveLength(1);
      return docs[0]!.data();
    };
    try {
      await kept.claim(ref('v1'), claimBy('worker-a'));
      expect(await document()).not.toHaveProperty('expireAt');
      const finished = await kept.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
      expect(finished).not.toHaveProperty('expireAt');
      expect((await document()).expireAt).toEqual(Timestamp.fromMillis(clock + 40 * 86_400_000));
      expect(await kept.get(ref('v1'))).toEqual(finished);
      await kept.register(ref('v1'), { ...landing, request: 'replay' });
      expect(await document()).not.toHaveProperty('expireAt');
      expect((await document()).unfinishedIn).toBe('contract');
    } finally {
      await kept.close();
      await raw.terminate();
    }
  });

  it('refuses a limit or a cursor it cannot use, naming which', async () => {
    const limit = await ledger.unfinished({ bucket: 'contract', limit: 0 }).catch((error: unknown) => error);
    expect(isDropgateError(limit, 'BAD_REQUEST') && limit.message).toContain('limit');
    const cursor = await ledger
      .unfinished({ bucket: 'contract', cursor: '../elsewhere' })
      .catch((error: unknown) => error);
    expect(isDropgateError(cursor, 'BAD_REQUEST') && cursor.message).toContain('cursor');
  });

  it('fails with LEDGER_UNAVAILABLE, which is retryable, when Firestore does not answer', async () => {
    const saved = process.env.FIRESTORE_EMULATOR_HOST;
    // Port 9 (discard) has no listener here: every connection is refused, as in an outage.
    process.env.FIRESTORE_EMULATOR_HOST = '127.0.0.1:9';
    const unreachable = createFirestoreLedger({ projectId: PROJECT_ID, collectionPrefix: prefix });
    process.env.FIRESTORE_EMULATOR_HOST = saved;
    try {
      const error = await unreachable.get(ref('v1')).catch((reason: unknown) => reason);
      expect(isDropgateError(error, 'LEDGER_UNAVAILABLE')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      expect((error as Error).message).toMatch(
        /reading contract\/vendors\/acme\/orders\/a\.csv@v1 failed in Firestore database \(default\) of project dropgate-test: 14 UNAVAILABLE/,
      );
    } finally {
      await unreachable.close();
    }
    // The client's own retries take about 10 s; the 45 s it took with the transport's retries too fail here.
  }, 25_000);
});
