/**
 * The pipeline the Workers bench measures, the same code on both runtimes: one file put in a memory store
 * (or already in R2, for the file larger than an isolate's memory),
 * ingested with a memory ledger into the Cloudflare Queues sink over the queue bindings given (Queue
 * producers inside workerd; bindings that take and drop each batch on Node, which has no Queues). Web
 * APIs only, so it bundles into a Worker.
 */
import {
  createCloudflareQueuesEventSink,
  type QueueBinding,
} from '../adapters/event-sink/cloudflare-queues/cloudflare-queues-event-sink.js';
import { createMemoryLedger } from '../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../adapters/object-store/memory/memory-object-store.js';
import type { ObjectStore } from '../adapters/ports.js';
import { defaultCsvOptions, type RowSchema } from '../schemas/dataset.js';
import type { RowValidator } from '../schemas/row-validator.js';
import { ingestFile } from '../workers/ingest-file.js';
import { webTextDecoding } from '../workers/text-decoding.js';

/** The topics the bench's dataset publishes to. */
export const BENCH_TOPICS = ['orders', 'orders-dead-letter', 'files'] as const;

export interface QueuePipelineRun {
  format: 'csv' | 'parquet';
  /** The file, put in a memory store; or `stored`, a file already in a store (R2 for the large line). */
  bytes?: Uint8Array;
  stored?: { store: ObjectStore; key: string };
  schema: RowSchema;
  validate: RowValidator;
  queues: ReadonlyMap<string, QueueBinding>;
  /** Events a message on the rows topic (1: one a message). */
  rowsPerMessage: number;
}

/** Ingests the file; answers the rows read and the messages the bindings took. */
export async function runQueuePipeline(run: QueuePipelineRun): Promise<{ rows: number; rejected: number }> {
  const { store, key } = run.stored ?? inMemory(run.format, run.bytes!);
  const sink = createCloudflareQueuesEventSink({
    queues: run.queues,
    rowsPerMessage: new Map([['orders', run.rowsPerMessage]]),
  });
  const result = await ingestFile(
    {
      store,
      sink,
      ledger: createMemoryLedger(),
      controlTopic: 'files',
      owner: 'bench',
      textDecoding: webTextDecoding,
    },
    {
      dataset: {
        name: 'orders',
        match: '**',
        format: run.format,
        schema: run.schema,
        schemaVersion: 1,
        eventType: 'OrderReceived',
        topic: 'orders',
        deadLetterTopic: 'orders-dead-letter',
        csv: defaultCsvOptions,
        validate: run.validate,
      },
      key,
      mode: 'notification',
    },
  );
  if (result.status !== 'ingested') throw new Error(`bench ingestion ended ${result.status}`);
  return { rows: result.summary.rowsRead, rejected: result.summary.rowsRejected };
}

function inMemory(format: string, bytes: Uint8Array): { store: ObjectStore; key: string } {
  const store = createMemoryObjectStore({ bucket: 'bench' });
  const key = `vendors/bench/orders/file.${format}`;
  store.put(key, bytes);
  return { store, key };
}

/** Queue bindings that take every batch and keep nothing: the sink's work without a queue behind it. */
export function droppingQueues(): Map<string, QueueBinding> {
  const dropping: QueueBinding = { send: async () => undefined, sendBatch: async () => undefined };
  return new Map(BENCH_TOPICS.map((topic) => [topic, dropping]));
}
