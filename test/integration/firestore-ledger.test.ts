/**
 * Gateways on the Firestore ledger (the emulator the vitest global setup starts): one ingests an uploaded
 * file with its ledger in Firestore, and two gateway processes that learn of the same landings at once,
 * over one bucket directory and one emulated ledger, ingest each file exactly once between them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFirestoreLedger,
  type FirestoreLedger,
} from '../../adapters/ledger/firestore/firestore-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import type { FileRecord, FileVersionRef } from '../../adapters/ports.js';
import { embeddedConfig } from '../../app/node/load-config.js';
import { buildDist, serveChild, stopChildGateways } from './support/child-gateway.js';
import { waitFor } from './support/data-dir.js';
import { idCounts, readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  SIGNING_SECRET,
  call,
  makeTemporaryDirectory,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

const PROJECT_ID = 'dropgate-test';

describe('a gateway on the firestore ledger', () => {
  let prefix: string;
  let ledger: FirestoreLedger;

  beforeEach(() => {
    if (!process.env.FIRESTORE_EMULATOR_HOST) {
      throw new Error('FIRESTORE_EMULATOR_HOST is not set: the vitest global setup starts the emulator');
    }
    prefix = `it-${randomUUID()}-`;
    ledger = createFirestoreLedger({ projectId: PROJECT_ID, collectionPrefix: prefix });
  });
  afterEach(() => ledger.close());

  const ledgerConfig = () => ({ type: 'firestore', projectId: PROJECT_ID, collectionPrefix: prefix });

  describe('with a local store and sink', () => {
    let gateway: TestGateway;
    afterEach(() => gateway?.close());

    it('ingests an uploaded file, keeping its record in Firestore and none on disk', async () => {
      gateway = await startTestGateway({ configFile: { ...embeddedConfig, ledger: ledgerConfig() } });
      const { csv, goodRows, badRows } = ordersFile(40, 8);
      const stored = await upload(gateway, 'orders.csv', csv);
      expect(stored.ingestion).toBe('pending');
      await gateway.running.gateway.idle();

      const status = await call<FileRecord>(gateway, 'GET', `/admin/files/${stored.objectKey}`, {
        token: ADMIN_TOKEN,
      });
      expect(status.status).toBe(200);
      expect(status.body).toMatchObject({ state: 'ingested', version: stored.version, attempts: 1 });
      const ref = { bucket: 'local', key: stored.objectKey, version: stored.version };
      expect(await ledger.get(ref)).toMatchObject({
        state: 'ingested',
        via: 'local-upload',
        outcome: { rowsPublished: goodRows.length, rowsRejected: badRows.length },
      });
      expect((await ledger.unfinished({ bucket: 'local' })).records).toEqual([]);
      expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(goodRows.length);
      expect(existsSync(join(gateway.dataDir, 'ledger'))).toBe(false);
    });
  });

  describe('shared by two gateway processes', () => {
    const directories: string[] = [];
    beforeAll(buildDist, 120_000);
    afterAll(async () => {
      await stopChildGateways();
      await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
    });

    it('ingests each of the landings both learn of exactly once between them', async () => {
      const first = await makeTemporaryDirectory();
      const second = await makeTemporaryDirectory();
      directories.push(first, second);
      // One bucket directory for both (as one GCS bucket), each gateway with its own sink's files.
      const bucket = join(first, '.dropgate', 'bucket');
      await mkdir(bucket, { recursive: true });
      await mkdir(join(second, '.dropgate'), { recursive: true });
      await symlink(bucket, join(second, '.dropgate', 'bucket'), 'dir');
      for (const directory of [first, second]) {
        await writeFile(
          join(directory, 'dropgate.config.json'),
          JSON.stringify({ ...embeddedConfig, ledger: ledgerConfig(), resumeIntervalSeconds: 1 }),
        );
      }
      const gateways = await Promise.all([serveChild(first), serveChild(second)]);

      // Files land and are recorded as an intake records a notification; both gateways' sweeps of the
      // shared ledger, a second apart, then race for the same versions.
      const store = await createLocalObjectStore({
        directory: bucket,
        temporaryDirectory: join(first, 'landing-tmp'),
        baseUrl: 'http://localhost',
        signingSecret: SIGNING_SECRET,
      });
      const files = Array.from({ length: 6 }, (_, index) => ({
        key: `vendors/acme/orders/2024-05-01/orders-${index}.csv`,
        ...ordersFile(2_000 + index, 50),
      }));
      const refs: FileVersionRef[] = [];
      for (const file of files) {
        await mkdir(join(bucket, 'vendors/acme/orders/2024-05-01'), { recursive: true });
        await writeFile(store.pathOf(file.key), file.csv);
        const { version } = (await store.stat(file.key))!;
        refs.push({ bucket: 'local', key: file.key, version });
      }
      await Promise.all(
        refs.map((ref) =>
          ledger.register(ref, { dataset: 'orders', via: 'test-notification', request: 'ingest' }),
        ),
      );

      const records = await waitFor(
        'every file to be ingested',
        async () => {
          const all = await Promise.all(refs.map((ref) => ledger.get(ref)));
          return all.every((record) => record?.state === 'ingested') ? (all as FileRecord[]) : undefined;
        },
        120_000,
      );
      for (const record of records) expect(record).toMatchObject({ attempts: 1, replays: 0 });

      const dataDirs = [first, second].map((directory) => join(directory, '.dropgate'));
      const events = (await Promise.all(dataDirs.map((dataDir) => readTopic(dataDir, 'orders')))).flat();
      const expectedRows = files.reduce((sum, file) => sum + file.goodRows.length, 0);
      expect(events).toHaveLength(expectedRows);
      expect([...idCounts(events).values()].every((count) => count === 1)).toBe(true);
      const summaries = (
        await Promise.all(dataDirs.map((dataDir) => readTopic<FileSummaryData>(dataDir, 'dropgate.files')))
      ).map((each) => each.map((event) => event.data.objectKey));
      expect(summaries.flat().sort()).toEqual(files.map((file) => file.key).sort());
      // How the files fell between the two, for the log: either split is right, a file twice is not.
      console.info(
        `firestore ledger: files ingested per gateway ${summaries.map((each) => each.length).join(' / ')}`,
      );
      for (const gateway of gateways) expect(gateway.output()).not.toMatch(/"level":"error"/);
    }, 180_000);
  });
});
