/**
 * The contract every Ledger must pass: atomic claims under a lease, duplicates refused, replays counted,
 * checkpoints kept across crashes and failures, and only the lease holder allowed to write.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type {
  ClaimRequest,
  FileOutcome,
  FileState,
  FileVersionRef,
  HistoryQuery,
  Ledger,
} from '../../adapters/ports.js';
import { isDropgateError } from '../../adapters/errors.js';

export interface LedgerSubject {
  ledger: Ledger;
  dispose?: () => Promise<void>;
}

/** Builds a ledger whose clock is `now`, so leases can expire on demand. */
export type LedgerFactory = (options: { now: () => number }) => Promise<LedgerSubject>;

const START = Date.parse('2024-05-01T12:00:00.000Z');
const LEASE = 60_000;

export const ref = (
  version: string,
  key = 'vendors/acme/orders/a.csv',
  bucket = 'contract',
): FileVersionRef => ({
  bucket,
  key,
  version,
});

export const claimBy = (owner: string, mode: ClaimRequest['mode'] = 'notification'): ClaimRequest => ({
  dataset: 'orders',
  owner,
  leaseMs: LEASE,
  mode,
});

export const outcomeOf = (state: FileOutcome['state'], rows = 10): FileOutcome => ({
  state,
  dataset: 'orders',
  schemaVersion: 1,
  rowsRead: rows,
  rowsPublished: state === 'ingested' ? rows : 0,
  rowsRejected: state === 'rejected' ? rows : 0,
  ...(state === 'failed' ? { error: { code: 'PUBLISH_FAILED', message: 'sink unavailable' } } : {}),
});

async function expectLeaseLost(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isDropgateError(error) ? error.code : error).toBe('LEASE_LOST');
}

export function ledgerContract(name: string, factory: LedgerFactory) {
  describe(`Ledger contract: ${name}`, () => {
    let clock: number;
    let subject: LedgerSubject;
    let ledger: Ledger;
    const iso = (at: number) => new Date(at).toISOString();

    beforeEach(async () => {
      clock = START;
      subject = await factory({ now: () => clock });
      ledger = subject.ledger;
    });
    afterEach(async () => {
      await subject.dispose?.();
    });

    it('knows nothing of a version never claimed', async () => {
      expect(await ledger.get(ref('v1'))).toBeUndefined();
      expect(await ledger.latest('contract', 'vendors/acme/orders/a.csv')).toBeUndefined();
      expect((await ledger.unfinished({ bucket: 'contract' })).records).toEqual([]);
    });

    describe('claim', () => {
      it('grants a first claim: attempt 1, no replays, no checkpoint, leased to the owner', async () => {
        const result = await ledger.claim(ref('v1'), claimBy('worker-a'));
        expect(result.claimed).toBe(true);
        expect(result.record).toEqual({
          ...ref('v1'),
          state: 'processing',
          dataset: 'orders',
          attempts: 1,
          replays: 0,
          replayRequested: false,
          via: null,
          checkpoint: null,
          owner: 'worker-a',
          leaseUntil: iso(START + LEASE),
          firstSeenAt: iso(START),
          startedAt: iso(START),
          finishedAt: null,
          outcome: null,
        });
        expect(await ledger.get(ref('v1'))).toEqual(result.record);
      });

      it('refuses a second claim while the lease is live, as in-progress, in either mode', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        clock += LEASE - 1;
        for (const mode of ['notification', 'replay'] as const) {
          const second = await ledger.claim(ref('v1'), claimBy('worker-b', mode));
          expect(second).toMatchObject({ claimed: false, reason: 'in-progress' });
          expect(second.record).toMatchObject({ owner: 'worker-a', attempts: 1, state: 'processing' });
        }
        expect((await ledger.get(ref('v1')))?.owner).toBe('worker-a');
      });

      it('treats each version of a key on its own', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        const other = await ledger.claim(ref('v2'), claimBy('worker-b'));
        expect(other.claimed).toBe(true);
        expect(other.record).toMatchObject({ version: 'v2', attempts: 1, owner: 'worker-b' });
        const elsewhere = await ledger.claim(ref('v1', 'a.csv', 'other-bucket'), claimBy('worker-c'));
        expect(elsewhere.claimed).toBe(true);
      });

      it('grants exactly one of ten concurrent claims of one version', async () => {
        const owners = Array.from({ length: 10 }, (_, index) => `worker-${index}`);
        const results = await Promise.all(owners.map((owner) => ledger.claim(ref('v1'), claimBy(owner))));
        const winners = results.filter((result) => result.claimed);
        expect(winners).toHaveLength(1);
        for (const result of results.filter((each) => !each.claimed)) {
          expect(result).toMatchObject({ claimed: false, reason: 'in-progress' });
        }
        const record = await ledger.get(ref('v1'));
        expect(record?.owner).toBe(winners[0]?.record.owner);
        expect(record?.attempts).toBe(1);
      });

      it('grants exactly one of ten concurrent claims of an expired lease', async () => {
        await ledger.claim(ref('v1'), claimBy('crashed'));
        clock += LEASE + 1;
        const owners = Array.from({ length: 10 }, (_, index) => `worker-${index}`);
        const results = await Promise.all(owners.map((owner) => ledger.claim(ref('v1'), claimBy(owner))));
        expect(results.filter((result) => result.claimed)).toHaveLength(1);
        expect((await ledger.get(ref('v1')))?.attempts).toBe(2);
      });

      it('loses no version when many versions of one key are claimed at once', async () => {
        const versions = Array.from({ length: 10 }, (_, index) => `v${index}`);
        const results = await Promise.all(
          versions.map((version) => ledger.claim(ref(version), claimBy(`worker-${version}`))),
        );
        expect(results.every((result) => result.claimed)).toBe(true);
        for (const version of versions) {
          expect((await ledger.get(ref(version)))?.owner).toBe(`worker-${version}`);
        }
        expect(
          (await ledger.unfinished({ bucket: 'contract' })).records.map((record) => record.version).sort(),
        ).toEqual(versions.sort());
      });
    });

    describe('finish', () => {
      it('records an ingested outcome and releases the lease', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 10, published: 10, rejected: 0 }, LEASE);
        clock += 5_000;
        const record = await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        expect(record).toMatchObject({
          state: 'ingested',
          owner: null,
          leaseUntil: null,
          checkpoint: null,
          finishedAt: iso(START + 5_000),
          outcome: outcomeOf('ingested'),
          attempts: 1,
        });
        expect(await ledger.get(ref('v1'))).toEqual(record);
      });

      it('refuses a notification claim of an ingested version as a duplicate', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        const again = await ledger.claim(ref('v1'), claimBy('worker-b'));
        expect(again).toMatchObject({ claimed: false, reason: 'duplicate' });
        expect(again.record.state).toBe('ingested');
      });

      it('refuses a notification claim of a rejected file as a duplicate', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('rejected'));
        expect(await ledger.claim(ref('v1'), claimBy('worker-b'))).toMatchObject({
          claimed: false,
          reason: 'duplicate',
        });
      });

      it('grants a replay of an ingested version from its first row, counting the replay', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 10, published: 10, rejected: 0 }, LEASE);
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        clock += 1_000;
        const replay = await ledger.claim(ref('v1'), claimBy('operator', 'replay'));
        expect(replay.claimed).toBe(true);
        expect(replay.record).toMatchObject({
          state: 'processing',
          attempts: 2,
          replays: 1,
          checkpoint: null,
          owner: 'operator',
          leaseUntil: iso(clock + LEASE),
          firstSeenAt: iso(START),
          startedAt: iso(clock),
          finishedAt: null,
        });
        await ledger.finish(ref('v1'), 'operator', outcomeOf('ingested'));
        const second = await ledger.claim(ref('v1'), claimBy('operator', 'replay'));
        expect(second.record).toMatchObject({ attempts: 3, replays: 2 });
      });

      it('keeps the checkpoint of a failed attempt, and the next claim resumes from it', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        const checkpoint = { row: 500, published: 480, rejected: 20 };
        await ledger.checkpoint(ref('v1'), 'worker-a', checkpoint, LEASE);
        const failed = await ledger.finish(ref('v1'), 'worker-a', outcomeOf('failed'));
        expect(failed).toMatchObject({ state: 'failed', checkpoint, owner: null, leaseUntil: null });

        const resumed = await ledger.claim(ref('v1'), claimBy('worker-b'));
        expect(resumed.claimed).toBe(true);
        expect(resumed.record).toMatchObject({
          state: 'processing',
          checkpoint,
          attempts: 2,
          replays: 0,
          owner: 'worker-b',
        });
      });
    });

    describe('leases', () => {
      it('records a checkpoint and extends the lease for its owner', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        clock += LEASE - 1_000;
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 100, published: 99, rejected: 1 }, LEASE);
        const record = await ledger.get(ref('v1'));
        expect(record).toMatchObject({
          checkpoint: { row: 100, published: 99, rejected: 1 },
          leaseUntil: iso(clock + LEASE),
          owner: 'worker-a',
        });
        clock += 5_000;
        expect(await ledger.claim(ref('v1'), claimBy('worker-b'))).toMatchObject({
          claimed: false,
          reason: 'in-progress',
        });
      });

      it('refuses a checkpoint or finish from a non-owner with LEASE_LOST, changing nothing', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 1, published: 1, rejected: 0 }, LEASE);
        const before = await ledger.get(ref('v1'));
        await expectLeaseLost(
          ledger.checkpoint(ref('v1'), 'intruder', { row: 9, published: 9, rejected: 0 }, LEASE),
        );
        await expectLeaseLost(ledger.finish(ref('v1'), 'intruder', outcomeOf('ingested')));
        expect(await ledger.get(ref('v1'))).toEqual(before);
      });

      it('refuses a checkpoint or finish of a version nobody claimed with LEASE_LOST', async () => {
        await expectLeaseLost(
          ledger.checkpoint(ref('ghost'), 'worker-a', { row: 1, published: 1, rejected: 0 }, LEASE),
        );
        await expectLeaseLost(ledger.finish(ref('ghost'), 'worker-a', outcomeOf('ingested')));
        expect(await ledger.get(ref('ghost'))).toBeUndefined();
      });

      it('refuses a checkpoint or a second finish after the attempt has finished', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        await expectLeaseLost(
          ledger.checkpoint(ref('v1'), 'worker-a', { row: 1, published: 1, rejected: 0 }, LEASE),
        );
        await expectLeaseLost(ledger.finish(ref('v1'), 'worker-a', outcomeOf('failed')));
        expect((await ledger.get(ref('v1')))?.state).toBe('ingested');
      });

      it('lets another owner take over an expired lease and resume from the stored checkpoint', async () => {
        await ledger.claim(ref('v1'), claimBy('crashed'));
        const checkpoint = { row: 2_000, published: 1_990, rejected: 10 };
        await ledger.checkpoint(ref('v1'), 'crashed', checkpoint, LEASE);
        clock += LEASE + 1;

        const takeover = await ledger.claim(ref('v1'), claimBy('rescuer'));
        expect(takeover.claimed).toBe(true);
        expect(takeover.record).toMatchObject({
          state: 'processing',
          owner: 'rescuer',
          attempts: 2,
          replays: 0,
          checkpoint,
          leaseUntil: iso(clock + LEASE),
          startedAt: iso(clock),
          firstSeenAt: iso(START),
        });

        await expectLeaseLost(
          ledger.checkpoint(ref('v1'), 'crashed', { row: 2_100, published: 2_100, rejected: 0 }, LEASE),
        );
        await expectLeaseLost(ledger.finish(ref('v1'), 'crashed', outcomeOf('ingested')));
        expect((await ledger.get(ref('v1')))?.checkpoint).toEqual(checkpoint);
        expect((await ledger.finish(ref('v1'), 'rescuer', outcomeOf('ingested'))).state).toBe('ingested');
      });
    });

    describe('register', () => {
      const landing = { dataset: 'orders', via: 'local-upload', request: 'ingest' as const };

      it('records a new version as pending, before any attempt, and lists it as unfinished', async () => {
        const result = await ledger.register(ref('v1'), landing);
        expect(result.changed).toBe(true);
        expect(result.record).toMatchObject({
          ...ref('v1'),
          state: 'pending',
          attempts: 0,
          replays: 0,
          replayRequested: false,
          via: 'local-upload',
          owner: null,
          leaseUntil: null,
          firstSeenAt: iso(START),
          startedAt: null,
        });
        expect(await ledger.get(ref('v1'))).toEqual(result.record);
        expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.state).toBe('pending');
        const { records } = await ledger.unfinished({ bucket: 'contract' });
        expect(records.map((record) => record.version)).toEqual(['v1']);
      });

      it('is idempotent: a second landing of a known version changes nothing', async () => {
        const first = await ledger.register(ref('v1'), landing);
        clock += 1_000;
        const second = await ledger.register(ref('v1'), { ...landing, via: 'redelivery' });
        expect(second).toEqual({ record: first.record, changed: false });
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        const late = await ledger.register(ref('v1'), landing);
        expect(late.changed).toBe(false);
        expect(late.record.state).toBe('ingested');
      });

      it('records one of ten concurrent landings of a version, and grants one of ten claims of it', async () => {
        const registered = await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            ledger.register(ref('v1'), { ...landing, via: `channel-${index}` }),
          ),
        );
        expect(registered.filter((result) => result.changed)).toHaveLength(1);
        const via = (await ledger.get(ref('v1')))!.via;
        expect(registered.find((result) => result.changed)!.record.via).toBe(via);
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, index) => ledger.claim(ref('v1'), claimBy(`worker-${index}`))),
        );
        expect(claims.filter((claim) => claim.claimed)).toHaveLength(1);
        expect((await ledger.get(ref('v1')))!.attempts).toBe(1);
      });

      it('hands a pending version to the first claim, as attempt 1 with no replay', async () => {
        await ledger.register(ref('v1'), landing);
        clock += 500;
        const claim = await ledger.claim(ref('v1'), claimBy('worker-a'));
        expect(claim.record).toMatchObject({
          state: 'processing',
          attempts: 1,
          replays: 0,
          owner: 'worker-a',
          via: 'local-upload',
          firstSeenAt: iso(START),
          startedAt: iso(START + 500),
        });
        expect(await ledger.claim(ref('v1'), claimBy('worker-b'))).toMatchObject({
          claimed: false,
          reason: 'in-progress',
        });
      });

      it('records a replay of a finished version as pending; its claim starts over and counts the replay', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 5, published: 5, rejected: 0 }, LEASE);
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        const replay = await ledger.register(ref('v1'), {
          ...landing,
          via: 'admin-replay',
          request: 'replay',
        });
        expect(replay.changed).toBe(true);
        expect(replay.record).toMatchObject({ state: 'pending', replayRequested: true, replays: 0 });
        expect((await ledger.unfinished({ bucket: 'contract' })).records).toHaveLength(1);
        // Asked twice before it starts: still one replay.
        expect((await ledger.register(ref('v1'), { ...landing, request: 'replay' })).changed).toBe(false);

        const claim = await ledger.claim(ref('v1'), claimBy('worker-b'));
        expect(claim.record).toMatchObject({
          attempts: 2,
          replays: 1,
          replayRequested: false,
          checkpoint: null,
        });
        await ledger.finish(ref('v1'), 'worker-b', outcomeOf('ingested'));
        expect(await ledger.get(ref('v1'))).toMatchObject({
          state: 'ingested',
          replays: 1,
          replayRequested: false,
        });
      });

      it('starts a replayed failed version over instead of resuming its checkpoint', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.checkpoint(ref('v1'), 'worker-a', { row: 5, published: 5, rejected: 0 }, LEASE);
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('failed'));
        await ledger.register(ref('v1'), { ...landing, request: 'replay' });
        const claim = await ledger.claim(ref('v1'), claimBy('worker-b'));
        expect(claim.record).toMatchObject({ checkpoint: null, replays: 1, attempts: 2 });
      });

      it('refuses a replay while another owner holds a live lease', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        const error = await ledger
          .register(ref('v1'), { ...landing, request: 'replay' })
          .catch((reason: unknown) => reason);
        expect(isDropgateError(error) ? error.code : error).toBe('CONFLICT');
        expect(await ledger.get(ref('v1'))).toMatchObject({
          state: 'processing',
          owner: 'worker-a',
          replayRequested: false,
        });
      });
    });

    describe('renew', () => {
      it('extends the lease of its holder only', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        clock += 40_000;
        await ledger.renew(ref('v1'), 'worker-a', LEASE);
        expect((await ledger.get(ref('v1')))?.leaseUntil).toBe(iso(START + 40_000 + LEASE));
        await expectLeaseLost(ledger.renew(ref('v1'), 'worker-b', LEASE));
        clock += 40_000;
        // Renewed, so still live where the first lease would have run out.
        expect(await ledger.claim(ref('v1'), claimBy('worker-b'))).toMatchObject({ claimed: false });
      });

      it('fails with LEASE_LOST once the lease was taken over or the attempt finished', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        clock += LEASE + 1;
        await ledger.claim(ref('v1'), claimBy('worker-b'));
        await expectLeaseLost(ledger.renew(ref('v1'), 'worker-a', LEASE));
        await ledger.finish(ref('v1'), 'worker-b', outcomeOf('ingested'));
        await expectLeaseLost(ledger.renew(ref('v1'), 'worker-b', LEASE));
      });
    });

    describe('queries', () => {
      it('returns the most recently first-seen version of a key as latest', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        await ledger.finish(ref('v1'), 'worker-a', outcomeOf('ingested'));
        clock += 1_000;
        await ledger.claim(ref('v2'), claimBy('worker-a'));
        expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');

        clock += 1_000;
        await ledger.claim(ref('v1'), claimBy('operator', 'replay'));
        expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');

        await ledger.claim(ref('other', 'vendors/acme/orders/b.csv'), claimBy('worker-b'));
        expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');
        expect((await ledger.latest('contract', 'vendors/acme/orders/b.csv'))?.version).toBe('other');
        expect(await ledger.latest('other-bucket', 'vendors/acme/orders/a.csv')).toBeUndefined();
      });

      it('does not count a refused claim as a sighting for latest', async () => {
        await ledger.claim(ref('v1'), claimBy('worker-a'));
        clock += 1_000;
        await ledger.claim(ref('v2'), claimBy('worker-b'));
        clock += 1_000;
        await ledger.claim(ref('v1'), claimBy('worker-c'));
        expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');
      });

      it('lists processing and failed records as unfinished, never finished ones', async () => {
        await ledger.claim(ref('processing'), claimBy('worker-a'));
        await ledger.claim(ref('expired'), { ...claimBy('worker-a'), leaseMs: 10 });
        for (const [version, state] of [
          ['ingested', 'ingested'],
          ['rejected', 'rejected'],
          ['failed', 'failed'],
        ] as const) {
          await ledger.claim(ref(version), claimBy('worker-a'));
          await ledger.finish(ref(version), 'worker-a', outcomeOf(state));
        }
        await ledger.claim(ref('elsewhere', 'vendors/acme/orders/b.csv'), claimBy('worker-b'));
        clock += 1_000;

        const { records: unfinished } = await ledger.unfinished({ bucket: 'contract' });
        expect(unfinished.map((record) => `${record.key}@${record.version}`).sort()).toEqual([
          'vendors/acme/orders/a.csv@expired',
          'vendors/acme/orders/a.csv@failed',
          'vendors/acme/orders/a.csv@processing',
          'vendors/acme/orders/b.csv@elsewhere',
        ]);
        for (const record of unfinished) expect(['processing', 'failed']).toContain(record.state);
      });

      it('pages unfinished versions of one bucket, each exactly once, never those of another bucket', async () => {
        const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };
        const expected = Array.from(
          { length: 23 },
          (_, index) => `vendors/acme/orders/${String(index).padStart(2, '0')}.csv`,
        );
        // All at once: the listing, not the landings, is under test, and one at a time they are slow on the stand-ins.
        await Promise.all(
          expected.flatMap((key) => [
            ledger.register(ref('v1', key), landing),
            ledger.register(ref('v1', key, 'other-bucket'), landing),
          ]),
        );
        // A finished one is not listed.
        await ledger.claim(ref('v1', expected[5]!), claimBy('worker-a'));
        await ledger.finish(ref('v1', expected[5]!), 'worker-a', outcomeOf('ingested'));
        expected.splice(5, 1);

        const seen: string[] = [];
        const pageSizes: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await ledger.unfinished({
            bucket: 'contract',
            limit: 10,
            ...(cursor ? { cursor } : {}),
          });
          pageSizes.push(page.records.length);
          for (const record of page.records) {
            expect(record.bucket).toBe('contract');
            seen.push(record.key);
          }
          cursor = page.cursor;
        } while (cursor);
        expect(seen.sort()).toEqual(expected);
        expect(pageSizes.slice(0, 2)).toEqual([10, 10]);
        expect(pageSizes.reduce((sum, size) => sum + size, 0)).toBe(22);
        expect((await ledger.unfinished({ bucket: 'nobody' })).records).toEqual([]);
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const claimed = await ledger.claim(ref('v1'), claimBy('worker-a'));
        claimed.record.owner = 'tampered';
        claimed.record.attempts = 99;
        const checkpoint = { row: 5, published: 5, rejected: 0 };
        await ledger.checkpoint(ref('v1'), 'worker-a', checkpoint, LEASE);
        checkpoint.row = 1_000;
        const fetched = await ledger.get(ref('v1'));
        if (fetched?.checkpoint) fetched.checkpoint.row = 7;
        const stored = await ledger.get(ref('v1'));
        expect(stored).toMatchObject({ owner: 'worker-a', attempts: 1, checkpoint: { row: 5 } });
      });
    });
  });
}

/** One version the history cases record: when it was first seen (seconds after START), its dataset and state. */
interface Landed {
  key: string;
  version: string;
  at: number;
  dataset: string;
  state: FileState;
  bucket?: string;
}

/** Recorded out of order on purpose; HISTORY_ORDER is the order the history must give. */
const LANDED: Landed[] = [
  { key: 'vendors/acme/orders/b.csv', version: 'v1', at: 0, dataset: 'orders', state: 'pending' },
  { key: 'vendors/acme/orders/a.csv', version: 'v2', at: 0, dataset: 'orders', state: 'pending' },
  { key: 'vendors/acme/orders/a.csv', version: 'v1', at: 0, dataset: 'orders', state: 'ingested' },
  { key: 'vendors/globex/stock/%_*.csv', version: 'v1', at: 30, dataset: 'stock', state: 'ingested' },
  { key: 'vendors/acme/stock/s.csv', version: 'v1', at: 10, dataset: 'stock', state: 'rejected' },
  { key: 'vendors/acme-eu/orders/c.csv', version: 'v1', at: 20, dataset: 'orders', state: 'failed' },
  { key: 'vendors/globex/orders/d.csv', version: 'v1', at: 30, dataset: 'orders', state: 'processing' },
  { key: 'vendors/acme/orders/ü.csv', version: 'v1', at: 40, dataset: 'orders', state: 'pending' },
  { key: 'vendors/acme/orders/a.csv', version: 'v3', at: 50, dataset: 'stock', state: 'ingested' },
  {
    key: 'vendors/acme/orders/a.csv',
    version: 'v1',
    at: 25,
    dataset: 'orders',
    state: 'pending',
    bucket: 'other-bucket',
  },
];

const HISTORY_ORDER = [
  'vendors/acme/orders/a.csv@v3',
  'vendors/acme/orders/ü.csv@v1',
  'vendors/globex/orders/d.csv@v1',
  'vendors/globex/stock/%_*.csv@v1',
  'vendors/acme-eu/orders/c.csv@v1',
  'vendors/acme/stock/s.csv@v1',
  'vendors/acme/orders/a.csv@v1',
  'vendors/acme/orders/a.csv@v2',
  'vendors/acme/orders/b.csv@v1',
];

const labelOf = (record: { key: string; version: string }) => `${record.key}@${record.version}`;

/** HISTORY_ORDER narrowed to the versions `keep` holds. */
const expectedWhere = (keep: (landed: Landed) => boolean) =>
  HISTORY_ORDER.filter((label) =>
    LANDED.some((landed) => !landed.bucket && labelOf(landed) === label && keep(landed)),
  );

async function expectBadRequest(promise: Promise<unknown>, mentions: string) {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isDropgateError(error) ? error.code : error).toBe('BAD_REQUEST');
  expect((error as Error).message).toContain(mentions);
}

/**
 * The contract of `Ledger.history`: newest first, filters alone and together, pages that cover every
 * record exactly once, and clear refusals of bad limits, instants, states and cursors.
 */
export function ledgerHistoryContract(name: string, factory: LedgerFactory) {
  describe(`Ledger history contract: ${name}`, () => {
    let clock: number;
    let subject: LedgerSubject;
    let ledger: Ledger;
    const at = (seconds: number) => new Date(START + seconds * 1_000).toISOString();

    /** Every page of `query` from the first on, with the size of each. */
    async function everyPage(query: HistoryQuery) {
      const labels: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await ledger.history({ ...query, ...(cursor ? { cursor } : {}) });
        sizes.push(page.records.length);
        labels.push(...page.records.map(labelOf));
        cursor = page.cursor;
        if (sizes.length > 100) throw new Error('the history never ended');
      } while (cursor);
      return { labels, sizes };
    }

    // One ledger for the cases below, which only read it (the one that writes comes last): recording the
    // versions is most of their cost on the cloud stand-ins.
    beforeAll(async () => {
      clock = START;
      subject = await factory({ now: () => clock });
      ledger = subject.ledger;
      for (const landed of LANDED) {
        const version = ref(landed.version, landed.key, landed.bucket);
        clock = START + landed.at * 1_000;
        await ledger.register(version, { dataset: landed.dataset, via: 'test', request: 'ingest' });
        if (landed.state === 'pending') continue;
        clock += 100;
        await ledger.claim(version, { ...claimBy('worker-a'), dataset: landed.dataset });
        if (landed.state !== 'processing') await ledger.finish(version, 'worker-a', outcomeOf(landed.state));
      }
    }, 60_000);
    afterAll(async () => {
      await subject.dispose?.();
    });

    it('lists every version of the bucket newest first, then by key and version, as get gives them', async () => {
      const page = await ledger.history({ bucket: 'contract' });
      expect(page.records.map(labelOf)).toEqual(HISTORY_ORDER);
      expect(page.cursor).toBeUndefined();
      for (const record of page.records) expect(record).toEqual(await ledger.get(record));
      expect(page.records[0]).toMatchObject({ state: 'ingested', dataset: 'stock', firstSeenAt: at(50) });
    });

    it('filters by prefix, dataset, state, since and until, each alone', async () => {
      const cases: Array<[Omit<HistoryQuery, 'bucket'>, (landed: Landed) => boolean]> = [
        [{ prefix: 'vendors/acme' }, (landed) => landed.key.startsWith('vendors/acme')],
        [{ prefix: 'vendors/acme/' }, (landed) => landed.key.startsWith('vendors/acme/')],
        [{ dataset: 'stock' }, (landed) => landed.dataset === 'stock'],
        [{ state: 'pending' }, (landed) => landed.state === 'pending'],
        [{ state: 'processing' }, (landed) => landed.state === 'processing'],
        [{ state: 'failed' }, (landed) => landed.state === 'failed'],
        [{ since: at(30) }, (landed) => landed.at >= 30],
        [{ until: at(30) }, (landed) => landed.at < 30],
      ];
      for (const [filters, keep] of cases) {
        const expected = expectedWhere(keep);
        // Each filter keeps some versions and leaves out others, so a filter ignored would show.
        expect(expected.length).toBeGreaterThan(0);
        expect(expected.length).toBeLessThan(HISTORY_ORDER.length);
        const { labels } = await everyPage({ bucket: 'contract', ...filters });
        expect({ filters, labels }).toEqual({ filters, labels: expected });
      }
    });

    it('combines every filter', async () => {
      const { labels } = await everyPage({
        bucket: 'contract',
        prefix: 'vendors/acme/',
        dataset: 'orders',
        state: 'pending',
        since: at(0),
        until: at(45),
      });
      expect(labels).toEqual([
        'vendors/acme/orders/ü.csv@v1',
        'vendors/acme/orders/a.csv@v2',
        'vendors/acme/orders/b.csv@v1',
      ]);
      const { labels: none } = await everyPage({ bucket: 'contract', dataset: 'stock', state: 'pending' });
      expect(none).toEqual([]);
    });

    it('pages with small limits cover every record once, in order, never more than the limit a page', async () => {
      const filtered = { prefix: 'vendors/acme', state: 'pending' as const };
      for (const limit of [1, 2, 3, 4]) {
        const all = await everyPage({ bucket: 'contract', limit });
        expect(all.labels).toEqual(HISTORY_ORDER);
        expect(Math.max(...all.sizes)).toBeLessThanOrEqual(limit);
        const some = await everyPage({ bucket: 'contract', limit, ...filtered });
        expect(some.labels).toEqual(
          expectedWhere((landed) => landed.key.startsWith('vendors/acme') && landed.state === 'pending'),
        );
        expect(Math.max(...some.sizes)).toBeLessThanOrEqual(limit);
      }
      // A cursor carries no limit: the next page may ask for another size.
      const first = await ledger.history({ bucket: 'contract', limit: 2 });
      const rest = await ledger.history({ bucket: 'contract', limit: 1000, cursor: first.cursor! });
      expect([...first.records, ...rest.records].map(labelOf)).toEqual(HISTORY_ORDER);
      expect(rest.cursor).toBeUndefined();
    });

    it('keeps since inclusive and until exclusive, in any RFC 3339 form', async () => {
      const thirty = ['vendors/globex/orders/d.csv@v1', 'vendors/globex/stock/%_*.csv@v1'];
      const between = async (since: string, until: string) =>
        (await everyPage({ bucket: 'contract', since, until })).labels;
      expect(await between(at(30), at(31))).toEqual(thirty);
      expect(await between(at(29), at(30))).toEqual([]);
      expect(await between('2024-05-01T14:00:30+02:00', '2024-05-01T12:00:30.001Z')).toEqual(thirty);
      expect(await between('2024-05-01t12:00:30z', '2024-05-01T12:00:30.000001Z')).toEqual(thirty);
      // Finer than a millisecond: just after the records' instant, so they are left out.
      expect(await between('2024-05-01T12:00:30.0001Z', at(31))).toEqual([]);
      expect(await between(at(30), at(30))).toEqual([]);
      expect(await between(at(31), at(30))).toEqual([]);
    });

    it('takes the prefix as plain text: empty, a whole key, wildcard characters and non-ASCII', async () => {
      const labelsOf = async (prefix: string) => (await everyPage({ bucket: 'contract', prefix })).labels;
      expect(await labelsOf('')).toEqual(HISTORY_ORDER);
      expect(await labelsOf('vendors/acme/orders/a.csv')).toEqual([
        'vendors/acme/orders/a.csv@v3',
        'vendors/acme/orders/a.csv@v1',
        'vendors/acme/orders/a.csv@v2',
      ]);
      expect(await labelsOf('vendors/globex/stock/%_')).toEqual(['vendors/globex/stock/%_*.csv@v1']);
      for (const wildcard of ['%', '_', '*', 'vendors/%', 'vendors/acme/orders/_.csv', '.*']) {
        expect({ wildcard, labels: await labelsOf(wildcard) }).toEqual({ wildcard, labels: [] });
      }
      expect(await labelsOf('vendors/acme/orders/ü')).toEqual(['vendors/acme/orders/ü.csv@v1']);
      expect(await labelsOf('vendors/acme/orders/a.csv.bak')).toEqual([]);
      expect(await labelsOf('Vendors/')).toEqual([]);
    });

    it('knows nothing of another bucket, and ends an empty history at once', async () => {
      expect(await ledger.history({ bucket: 'nobody' })).toEqual({ records: [] });
      const other = await ledger.history({ bucket: 'other-bucket' });
      expect(other.records.map((record) => `${record.bucket}/${labelOf(record)}`)).toEqual([
        'other-bucket/vendors/acme/orders/a.csv@v1',
      ]);
    });

    it('refuses a cursor from a history of another bucket or other filters', async () => {
      const { cursor } = await ledger.history({ bucket: 'contract', limit: 2 });
      expect(cursor).toBeDefined();
      for (const other of [
        { bucket: 'other-bucket' },
        { bucket: 'contract', dataset: 'orders' },
        { bucket: 'contract', prefix: 'vendors/' },
        { bucket: 'contract', state: 'pending' as const },
        { bucket: 'contract', since: at(0) },
        { bucket: 'contract', until: at(60) },
      ]) {
        await expectBadRequest(ledger.history({ ...other, cursor: cursor! }), 'cursor');
      }
    });

    it('refuses a cursor it did not hand out, naming the cursor', async () => {
      const { cursor } = await ledger.history({ bucket: 'contract', limit: 2 });
      const forged = btoa(JSON.stringify(['00000000', at(0), 'a', 'b'])).replace(/=+$/, '');
      for (const bad of ['', 'garbage!', 'e30', forged, `${cursor!}x`, cursor!.slice(0, -2)]) {
        await expectBadRequest(ledger.history({ bucket: 'contract', cursor: bad }), 'cursor');
      }
    });

    it('refuses a limit outside 1-1000, a state it does not know and instants that are not RFC 3339', async () => {
      for (const limit of [0, -1, 2.5, 1001, Number.NaN]) {
        await expectBadRequest(ledger.history({ bucket: 'contract', limit }), 'limit');
      }
      expect((await ledger.history({ bucket: 'contract', limit: 1000 })).records).toHaveLength(9);
      await expectBadRequest(
        ledger.history({ bucket: 'contract', state: 'done' as FileState }),
        'state must be one of pending, processing, ingested, rejected, failed',
      );
      for (const since of ['yesterday', '2024-05-01', '2024-05-01T12:00:00', '2024-13-01T00:00:00Z', '']) {
        await expectBadRequest(ledger.history({ bucket: 'contract', since }), 'since');
      }
      await expectBadRequest(ledger.history({ bucket: 'contract', until: '1714564800' }), 'until');
    });

    // Last: it changes a record the cases above read.
    it('lists a version once though its state changes while paging', async () => {
      const first = await ledger.history({ bucket: 'contract', limit: 3 });
      // b.csv is pending on a later page; it is claimed and finished before that page is read.
      const later = ref('v1', 'vendors/acme/orders/b.csv');
      await ledger.claim(later, claimBy('worker-b'));
      await ledger.finish(later, 'worker-b', outcomeOf('ingested'));
      const rest = await everyPage({ bucket: 'contract', limit: 3, cursor: first.cursor! });
      expect([...first.records.map(labelOf), ...rest.labels]).toEqual(HISTORY_ORDER);
    });
  });
}
