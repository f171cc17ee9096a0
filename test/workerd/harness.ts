/**
 * A test-only Worker: ingests the POSTed CSV with the real core and memory adapters inside workerd, and
 * answers with every event published, so the test can compare them with the same run on Node.
 */
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { fromAjv } from '../../schemas/row-validator.js';
import ordersV1 from '../../schemas/orders/v1.json' with { type: 'json' };
import { ingestFile } from '../../workers/ingest-file.js';
import validate from './generated/orders-v1.validator.js';
import { harnessDataset, runHarness } from './run-harness.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const result = await runHarness(
      {
        store: createMemoryObjectStore({ chunkSize: 1024 }),
        sink: createMemoryEventSink(),
        ledger: createMemoryLedger(),
        ingestFile,
      },
      harnessDataset(ordersV1, fromAjv(validate)),
      {
        key: url.searchParams.get('key') ?? 'vendors/acme/orders/file.csv',
        updated: url.searchParams.get('updated') ?? '2026-01-01T00:00:00.000Z',
        bytes: new Uint8Array(await request.arrayBuffer()),
      },
      url.searchParams.has('segmentBytes') ? Number(url.searchParams.get('segmentBytes')) : undefined,
    );
    return Response.json(result);
  },
};
