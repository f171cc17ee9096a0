/**
 * A gateway and its Hono app in-process, for tests that drive an intake with `app.request`: the orders
 * test dataset, the memory sink and ledger, one ingestion attempt, and the test credentials. Tests read
 * what came out from the memory sink (`sink`), whatever sink the gateway was given to publish to.
 */
import { createMemoryEventSink } from '../../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../../adapters/ledger/memory/memory-ledger.js';
import type { EventSink, HttpIntake, ObjectStore } from '../../../adapters/ports.js';
import { createAuthenticator } from '../../../app/auth.js';
import { createApp } from '../../../app/create-app.js';
import { createGateway } from '../../../app/gateway.js';
import { silentLogger } from '../../../app/logger.js';
import { testDataset } from '../../support/datasets.js';
import { ADMIN_TOKEN, VENDOR_KEY } from './test-gateway.js';

export function createInProcessGateway<Store extends ObjectStore>(options: {
  store: Store;
  intakes: HttpIntake[];
  /** Where the gateway publishes; the memory sink returned when absent. */
  sink?: EventSink;
}) {
  const { store } = options;
  const sink = createMemoryEventSink();
  const ledger = createMemoryLedger();
  const gateway = createGateway({
    store,
    sink: options.sink ?? sink,
    ledger,
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: 'this-instance',
    uploads: { maxBytes: 1 << 20, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { retry: { attempts: 1, baseDelayMs: 1 } },
  });
  const app = createApp({
    gateway,
    auth: createAuthenticator({ adminToken: ADMIN_TOKEN, vendorKeys: new Map([[VENDOR_KEY, 'acme']]) }),
    logger: silentLogger,
    intakes: options.intakes,
  });
  return { store, sink, ledger, gateway, app };
}
