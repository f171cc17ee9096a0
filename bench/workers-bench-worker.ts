/**
 * The Workers bench's Worker (bundled by workers-bench.ts): POST /ingest?format=csv|parquet&queues=real|drop
 * with the file as the body runs queue-pipeline.ts inside workerd, into the Queue producers ORDERS,
 * ORDERS_DEAD_LETTER and FILES or into dropping bindings, and answers the rows read.
 */
import type { QueueBinding } from '../adapters/event-sink/cloudflare-queues/cloudflare-queues-event-sink.js';
import { fromAjv } from '../schemas/row-validator.js';
import datasets from 'dropgate-bench-datasets';
import { droppingQueues, runQueuePipeline } from './queue-pipeline.js';

type Env = Record<'ORDERS' | 'ORDERS_DEAD_LETTER' | 'FILES', QueueBinding>;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const format = url.searchParams.get('format') === 'parquet' ? 'parquet' : 'csv';
    const queues =
      url.searchParams.get('queues') === 'drop'
        ? droppingQueues()
        : new Map([
            ['orders', env.ORDERS],
            ['orders-dead-letter', env.ORDERS_DEAD_LETTER],
            ['files', env.FILES],
          ]);
    const dataset = datasets[format];
    const result = await runQueuePipeline({
      format,
      bytes: new Uint8Array(await request.arrayBuffer()),
      schema: dataset.schema,
      validate: fromAjv(dataset.validate),
      queues,
      rowsPerMessage: Number(url.searchParams.get('rowsPerMessage') ?? 1),
    });
    return Response.json(result);
  },
};
