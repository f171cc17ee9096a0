/**
 * Blocks are sized by the pipeline, requests by the sink: a file goes out in few publishes and
 * checkpoints however small the sink's requests, and what a sink does not take, in part of a block, is
 * published again or dead-lettered by its index.
 */
import { describe, expect, it } from 'vitest';
import {
  createMemoryEventSink,
  type MemoryEventSinkOptions,
} from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink, Ledger } from '../../adapters/ports.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from './support/orders-csv.js';

const KEY = 'vendors/acme/orders/2024-05-01/orders.csv';
const dataset = testDataset();
const rowsOf = (events: ReadonlyArray<{ body: string }>) =>
  events.map((event) => (JSON.parse(event.body) as { rownumber: number }).rownumber);

/**
 * Ingests `csv`, its events into a memory sink of `options` and the rest (dead letters, the summary)
 * into a roomy one; counts publish calls and ledger checkpoints.
 */
async function ingest(csv: string, options: MemoryEventSinkOptions) {
  const store = createMemoryObjectStore();
  store.put(KEY, csv);
  const memory = createMemoryEventSink(options);
  const roomy = createMemoryEventSink();
  const publishes: Record<string, number> = {};
  const sink: EventSink = {
    capabilities: memory.capabilities,
    publish(topic, events) {
      publishes[topic] = (publishes[topic] ?? 0) + 1;
      return (topic === dataset.topic ? memory : roomy).publish(topic, events);
    },
    close: () => memory.close(),
  };
  const inner = createMemoryLedger();
  let checkpoints = 0;
  const ledger: Ledger = {
    ...inner,
    checkpoint(...args) {
      checkpoints++;
      return inner.checkpoint(...args);
    },
  };
  const result = await ingestFile(
    {
      store,
      sink,
      ledger,
      controlTopic: 'dropgate.files',
      owner: 'test',
      checkpointIntervalMs: 0,
      retry: { attempts: 3, baseDelayMs: 1 },
    },
    { dataset, key: KEY, mode: 'notification' },
  );
  return { result, memory, roomy, publishes, checkpoints };
}

describe('a sink with small requests', () => {
  it('takes 1,000 rows in one publish and one checkpoint, as 100 requests of SQS size', async () => {
    const { csv, goodRows } = ordersFile(1_000);
    const run = await ingest(csv, { maxRequestEvents: 10, maxRequestBytes: 1 << 20, maxInFlight: 10 });
    expect(run.result.status).toBe('ingested');
    expect(run.publishes).toEqual({ orders: 1, 'dropgate.files': 1 });
    expect(run.checkpoints).toBe(1);
    expect(run.memory.requests()).toHaveLength(100);
    expect(rowsOf(run.memory.events('orders')).sort((a, b) => a - b)).toEqual(goodRows);
  });

  it('publishes again only the events of a block a request did not take', async () => {
    const { csv, goodRows } = ordersFile(200);
    const run = await ingest(csv, {
      maxRequestEvents: 25,
      // The third request is throttled as a whole, the fifth loses two events; all once only.
      inject: ({ number }) => {
        if (number === 3) throw new Error('throttled');
        if (number === 5) {
          return [
            { index: 3, message: 'throttled', retryable: true },
            { index: 20, message: 'throttled', retryable: true },
          ];
        }
      },
    });
    expect(run.result.status).toBe('ingested');
    expect(run.publishes.orders).toBe(2);
    // The retry is one publish of the 27 events that did not get through: two requests.
    expect(run.memory.requests().map(({ events }) => events)).toEqual([
      25, 25, 25, 25, 25, 25, 25, 25, 25, 2,
    ]);
    const rows = rowsOf(run.memory.events('orders'));
    expect(rows).toHaveLength(goodRows.length);
    expect(rows.sort((a, b) => a - b)).toEqual(goodRows);
  });

  it('dead-letters an event larger than the sink accepts, by its row, and publishes the rest', async () => {
    const { csv, goodRows } = ordersFile(60);
    // Row 42's note makes its event the one above 700 bytes. Its dead letter, which holds the event, is
    // larger still: it goes to a roomier sink here.
    const long = csv.replace('note 42\n', `${'n'.repeat(400)}\n`);
    const run = await ingest(long, { maxRequestEvents: 10, maxMessageBytes: 700 });
    expect(run.result.status).toBe('ingested');
    expect(rowsOf(run.memory.events('orders'))).toEqual(goodRows.filter((row) => row !== 42));
    const letters = run.roomy.events('orders.dead-letter').map((event) => JSON.parse(event.body).data);
    expect(letters).toEqual([
      expect.objectContaining({
        row: 42,
        errors: [{ field: '', reason: expect.stringContaining('sink refused the event: event of') }],
      }),
    ]);
  });
});
