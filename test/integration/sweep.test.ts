/**
 * Sweeps of the ledger finish what in-process retries gave up on: a version failed for a retryable reason
 * (a sink outage longer than the retries) is woken again, while one failed for good, or held by a live
 * owner, is left alone.
 */
import { describe, expect, it } from 'vitest';
import { DropgateError, type ErrorCode } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink } from '../../adapters/ports.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from './support/orders-csv.js';

/** A sink that fails every publish with `code` while `down()` says so. */
function switchableSink(code: ErrorCode) {
  const inner = createMemoryEventSink();
  let failing = true;
  const sink: EventSink = {
    capabilities: inner.capabilities,
    async publish(topic, events) {
      if (failing) throw new DropgateError(code, `${topic} is down`);
      return inner.publish(topic, events);
    },
    close: () => inner.close(),
  };
  return { sink, inner, recover: () => (failing = false) };
}

function gatewayOver(sink: EventSink) {
  const store = createMemoryObjectStore();
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
    // One attempt in process: what is left failed is the sweep's to find.
    background: { maxAttempts: 1 },
    ingest: { retry: { attempts: 1, baseDelayMs: 1 } },
  });
  return { store, ledger, gateway };
}

async function landAndWait(setup: ReturnType<typeof gatewayOver>, key: string) {
  const object = setup.store.put(key, ordersFile(4).csv);
  await setup.gateway.accept(
    { landings: [{ bucket: object.bucket, key, version: object.version, kind: 'finalized', via: 'test' }] },
    'background',
  );
  await setup.gateway.idle();
  return { bucket: object.bucket, key, version: object.version };
}

describe('sweeps of the ledger', () => {
  it('finish a version failed for a retryable reason once the sink is back', async () => {
    const { sink, inner, recover } = switchableSink('PUBLISH_FAILED');
    const setup = gatewayOver(sink);
    const ref = await landAndWait(setup, 'vendors/acme/orders/a.csv');
    expect(await setup.ledger.get(ref)).toMatchObject({ state: 'failed' });

    recover();
    expect(await setup.gateway.resumeUnfinished('retryable')).toBe(1);
    await setup.gateway.idle();
    expect(await setup.ledger.get(ref)).toMatchObject({ state: 'ingested', attempts: 2 });
    expect(inner.events('orders')).toHaveLength(4);
  });

  it('leave alone a version failed for good, and one a live owner holds', async () => {
    const { sink, recover } = switchableSink('PUBLISH_REFUSED');
    const setup = gatewayOver(sink);
    const refused = await landAndWait(setup, 'vendors/acme/orders/refused.csv');
    expect(await setup.ledger.get(refused)).toMatchObject({ state: 'failed' });
    recover();
    const busy = setup.store.put('vendors/acme/orders/busy.csv', ordersFile(2).csv);
    const busyRef = { bucket: busy.bucket, key: busy.key, version: busy.version };
    await setup.ledger.claim(busyRef, {
      dataset: 'orders',
      owner: 'elsewhere',
      leaseMs: 60_000,
      mode: 'notification',
    });

    expect(await setup.gateway.resumeUnfinished('retryable')).toBe(0);
    // A start resumes everything, the refused version included (the operator may have fixed the cause).
    expect(await setup.gateway.resumeUnfinished('all')).toBe(2);
    await setup.gateway.idle();
    expect(await setup.ledger.get(refused)).toMatchObject({ state: 'ingested' });
    expect(await setup.ledger.get(busyRef)).toMatchObject({ state: 'processing', owner: 'elsewhere' });
  });
});
