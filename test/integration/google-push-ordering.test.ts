/**
 * Notifications for one key arriving out of order through the Google push intakes (generation 2 before
 * generation 1): the older generation is never ingested after the newer one, never becomes the key's
 * latest record over it, and a redelivery of an older generation that had failed is closed as superseded.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createEventarcIntake } from '../../adapters/intake/eventarc/eventarc-intake.js';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import type { EventSink, IntakeMode } from '../../adapters/ports.js';
import { createAuthenticator } from '../../app/auth.js';
import { createApp } from '../../app/create-app.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { binaryCloudEvent, wrappedPush } from '../support/gcs-notifications.js';
import { ordersFile } from './support/orders-csv.js';

const BUCKET = 'acme-uploads';
const KEY = 'vendors/acme/orders/2026-12-02/orders.csv';

const INTAKES = [
  {
    type: 'gcs-pubsub-push',
    create: createGcsPubsubPushIntake,
    delivery: (generation: string) => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(wrappedPush({ bucket: BUCKET, key: KEY, generation })),
    }),
  },
  {
    type: 'eventarc',
    create: createEventarcIntake,
    delivery: (generation: string) => binaryCloudEvent({ bucket: BUCKET, key: KEY, generation }),
  },
] as const;

for (const { type, create, delivery } of INTAKES) {
  function setup(mode: IntakeMode, options: { failFirstPublish?: boolean } = {}) {
    const store = createMemoryObjectStore({ bucket: BUCKET });
    const memorySink = createMemoryEventSink();
    let failing = options.failFirstPublish ?? false;
    const sink: EventSink = {
      capabilities: memorySink.capabilities,
      publish: async (topic, events) => {
        if (failing) throw new DropgateError('PUBLISH_FAILED', 'the topic is unavailable');
        return memorySink.publish(topic, events);
      },
      close: () => memorySink.close(),
    };
    const ledger = createMemoryLedger();
    const gateway = createGateway({
      store,
      sink,
      ledger,
      datasets: [testDataset()],
      controlTopic: 'dropgate.files',
      owner: 'this-instance',
      uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
      logger: silentLogger,
      ingest: { retry: { attempts: 1, baseDelayMs: 1 } },
      background: { maxAttempts: 1 },
    });
    const app = createApp({
      gateway,
      auth: createAuthenticator({ adminToken: 'admin-token-5d1c9e7a3f0b8264', vendorKeys: new Map() }),
      logger: silentLogger,
      intakes: [create({ bucket: BUCKET, auth: 'none', mode })],
    });
    const push = async (generation: string) => {
      const { headers, body } = delivery(generation);
      const response = await app.request(`/v1/notifications/${type}`, { method: 'POST', headers, body });
      return {
        status: response.status,
        body: (await response.json()) as { landings?: Array<{ status: string }> },
      };
    };
    /** The object versions the row events published so far came from. */
    const versionsPublished = () =>
      new Set(
        memorySink
          .events('orders')
          .map((event) => (JSON.parse(event.body) as { objectversion: string }).objectversion),
      );
    return { store, ledger, gateway, push, versionsPublished, recover: () => (failing = false) };
  }

  describe(`${type}: generations of one key notified out of order`, () => {
    for (const mode of ['inline', 'background'] as const) {
      it(`${mode}: generation 1 notified after generation 2 is acknowledged as superseded, never ingested, never the latest`, async () => {
        const { store, ledger, gateway, push, versionsPublished } = setup(mode);
        const first = store.put(KEY, ordersFile(3).csv, { contentType: 'text/csv' });
        const second = store.put(KEY, ordersFile(5).csv, { contentType: 'text/csv' });

        const newer = await push(second.version);
        expect(newer.status).toBe(200);
        await gateway.idle();
        const older = await push(first.version);
        expect(older.status, JSON.stringify(older.body)).toBe(200);
        expect(older.body.landings).toMatchObject([{ status: 'superseded' }]);
        await gateway.idle();

        expect(versionsPublished()).toEqual(new Set([second.version]));
        expect(await ledger.latest(BUCKET, KEY)).toMatchObject({
          version: second.version,
          state: 'ingested',
        });
        expect(await ledger.get({ bucket: BUCKET, key: KEY, version: first.version })).toBeUndefined();
        expect((await ledger.unfinished({ bucket: BUCKET })).records).toEqual([]);
      });
    }

    it('a redelivery of generation 1, failed before generation 2 landed, is closed as superseded', async () => {
      const { store, ledger, push, versionsPublished, recover } = setup('inline', { failFirstPublish: true });
      const first = store.put(KEY, ordersFile(3).csv, { contentType: 'text/csv' });
      const failed = await push(first.version);
      expect(failed.status).toBe(503);
      recover();

      const second = store.put(KEY, ordersFile(5).csv, { contentType: 'text/csv' });
      expect((await push(second.version)).body.landings).toMatchObject([{ status: 'ingested' }]);
      const redelivery = await push(first.version);
      expect(redelivery.status).toBe(200);
      expect(redelivery.body.landings).toMatchObject([{ status: 'superseded' }]);

      expect(versionsPublished()).toEqual(new Set([second.version]));
      expect(await ledger.get({ bucket: BUCKET, key: KEY, version: first.version })).toMatchObject({
        state: 'rejected',
        outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
      });
      expect(await ledger.latest(BUCKET, KEY)).toMatchObject({ version: second.version, state: 'ingested' });
      expect((await ledger.unfinished({ bucket: BUCKET })).records).toEqual([]);
    });

    it('generation 1 notified before generation 2, after both were written, is closed as superseded', async () => {
      const { store, ledger, push, versionsPublished } = setup('inline');
      const first = store.put(KEY, ordersFile(3).csv, { contentType: 'text/csv' });
      const second = store.put(KEY, ordersFile(5).csv, { contentType: 'text/csv' });

      expect((await push(first.version)).body.landings).toMatchObject([{ status: 'superseded' }]);
      expect((await push(second.version)).body.landings).toMatchObject([{ status: 'ingested' }]);

      expect(versionsPublished()).toEqual(new Set([second.version]));
      expect(await ledger.get({ bucket: BUCKET, key: KEY, version: first.version })).toMatchObject({
        state: 'rejected',
      });
      expect(await ledger.latest(BUCKET, KEY)).toMatchObject({ version: second.version, state: 'ingested' });
    });

    it('a notification of an object deleted since is acknowledged as missing, its landing closed', async () => {
      const { ledger, push } = setup('inline');
      const answer = await push('1733133600123456');
      expect(answer.status).toBe(200);
      expect(answer.body.landings).toMatchObject([{ status: 'missing' }]);
      expect(await ledger.latest(BUCKET, KEY)).toMatchObject({
        state: 'rejected',
        outcome: { error: { code: 'OBJECT_VERSION_GONE' } },
      });
      expect((await ledger.unfinished({ bucket: BUCKET })).records).toEqual([]);
    });
  });
}
