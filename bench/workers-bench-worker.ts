/**
 * The Workers bench's Worker (bundled by workers-bench.ts): POST /ingest?format=csv|parquet&queues=real|drop
 * with the file as the body runs queue-pipeline.ts inside workerd, into the Queue producers ORDERS,
 * ORDERS_DEAD_LETTER and FILES or into dropping bindings, and answers the rows read. With `r2=<key>` the
 * file is not in the body but in the R2 bucket BUCKET, read through the r2 store as a deployment reads it;
 * PUT /put?key=<key> puts it there.
 */
import type { QueueBinding } from '../adapters/event-sink/cloudflare-queues/cloudflare-queues-event-sink.js';
import { createR2ObjectStore, type R2BucketBinding } from '../adapters/object-store/r2/r2-object-store.js';
import { fromAjv } from '../schemas/row-validator.js';
import datasets from 'dropgate-bench-datasets';
import { droppingQueues, runQueuePipeline } from './queue-pipeline.js';

/** workerd's TransformStream of a declared length (not in TypeScript's DOM types). */
declare const FixedLengthStream: new (length: number) => TransformStream<Uint8Array, Uint8Array>;

type Env = Record<'ORDERS' | 'ORDERS_DEAD_LETTER' | 'FILES', QueueBinding> & { BUCKET?: R2BucketBinding };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/put') {
      // The large line's file, streamed into R2, which wants its length known: Miniflare's entry hands the
      // body on as a stream of unknown length, so the length comes as a parameter.
      const fixed = new FixedLengthStream(Number(url.searchParams.get('length')));
      const piped = request.body!.pipeTo(fixed.writable);
      await env.BUCKET!.put(url.searchParams.get('key')!, fixed.readable);
      await piped;
      return new Response(null, { status: 204 });
    }
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
    const stored = url.searchParams.get('r2');
    const result = await runQueuePipeline({
      format,
      ...(stored
        ? {
            stored: {
              // The credentials only sign upload URLs, which the bench never asks for.
              store: createR2ObjectStore({
                binding: env.BUCKET!,
                bucket: 'bench',
                accountId: 'bench',
                accessKeyId: 'bench',
                secretAccessKey: 'bench',
              }),
              key: stored,
            },
          }
        : { bytes: new Uint8Array(await request.arrayBuffer()) }),
      schema: dataset.schema,
      validate: fromAjv(dataset.validate),
      queues,
      rowsPerMessage: Number(url.searchParams.get('rowsPerMessage') ?? 1),
    });
    return Response.json(result);
  },
};
