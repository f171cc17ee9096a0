/**
 * The product Worker (app/worker/index.ts) under Miniflare with every binding it needs: an R2 bucket,
 * the Durable Object ledger, the notification queue with its consumer and dead-letter queue, and output
 * queues that a second Worker (the recorder) drains into KV, so a test reads back what was published.
 * The bundle is built as `wrangler deploy` builds it (the build step precompiles the validators), with
 * esbuild directly and a test config, so it takes a second and never touches .wrangler/generated.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';
import { Miniflare, Response as MiniflareResponse, type Request as MiniflareRequest } from 'miniflare';
import type { R2BucketBinding } from '../../../adapters/object-store/r2/r2-object-store.js';
import { generateWorkerModules } from '../../../app/node/generate-worker-modules.js';

export const root = join(import.meta.dirname, '../../..');

export const BUCKET = 'dropgate-test-uploads';
export const QUEUES = {
  notifications: 'dropgate-notifications',
  deadLetters: 'dropgate-notifications-dlq',
  files: 'dropgate-files',
  orders: 'dropgate-orders',
  ordersDeadLetter: 'dropgate-orders-dead-letter',
};
/** Deliveries of a notification before it goes to the dead-letter queue (wrangler.toml: max_retries). */
export const MAX_RETRIES = 2;

export const SECRETS = {
  DROPGATE_ADMIN_TOKEN: 'admin-token-for-the-edge-tests',
  DROPGATE_VENDOR_KEYS: 'acme=acme-key-for-the-edge-tests',
  R2_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
  R2_ACCESS_KEY_ID: 'test-access-key-id',
  R2_SECRET_ACCESS_KEY: 'test-secret-access-key',
};

/** The topics the edge config publishes to: the control topic, the dataset's and its dead-letter topic. */
export const TOPICS = ['dropgate-files', 'orders', 'orders-dead-letter'];

/** The Worker's config: Queues as its sink, or `sink` (a cloud's, published to over HTTP). */
export function edgeConfig(
  overrides: { rowsPerMessage?: Record<string, number>; sink?: unknown; budgetSeconds?: number } = {},
) {
  return {
    controlTopic: 'dropgate-files',
    store: { type: 'r2', bucket: BUCKET, binding: 'BUCKET' },
    sink: overrides.sink ?? {
      type: 'cloudflare-queues',
      bindings: {
        'dropgate-files': 'FILES_QUEUE',
        orders: 'ORDERS_QUEUE',
        'orders-dead-letter': 'ORDERS_DEAD_LETTER_QUEUE',
      },
      rowsPerMessage: overrides.rowsPerMessage ?? {},
    },
    ledger: { type: 'durable-object', binding: 'LEDGER' },
    // Short delays: the tests wait for real redeliveries.
    intake: [
      {
        type: 'r2-queue',
        firstRetrySeconds: 0,
        maxRetrySeconds: 1,
        ...(overrides.budgetSeconds ? { budgetSeconds: overrides.budgetSeconds } : {}),
      },
    ],
    datasets: [
      {
        name: 'orders',
        match: 'vendors/*/orders/**',
        schema: join(root, 'schemas/orders'),
        eventType: 'OrderReceived',
        topic: 'orders',
        deadLetterTopic: 'orders-dead-letter',
      },
    ],
  };
}

/** Bundles the product Worker for `config` into a temporary folder; returns the script's path. */
export async function bundleEdgeWorker(
  config: unknown,
): Promise<{ script: string; remove(): Promise<void> }> {
  // Inside the package, so the generated validators resolve ajv's runtime from its node_modules.
  await mkdir(join(root, '.wrangler/test'), { recursive: true });
  const directory = await mkdtemp(join(root, '.wrangler/test/edge-'));
  const configPath = join(directory, 'dropgate.config.json');
  await writeFile(configPath, JSON.stringify(config));
  await generateWorkerModules(configPath, join(directory, 'generated'), root);
  const script = join(directory, 'index.js');
  await build({
    entryPoints: [join(root, 'app/worker/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    alias: { 'dropgate-worker-build': join(directory, 'generated/worker-build.js') },
    outfile: script,
    logLevel: 'warning',
  });
  return { script, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** `handle`, written with Node's fetch types, as a Miniflare outbound service (undici's own classes). */
function webHandler(handle: (request: Request) => Promise<Response>) {
  return async (request: MiniflareRequest) => {
    const body = ['GET', 'HEAD'].includes(request.method) ? undefined : await request.arrayBuffer();
    const answer = await handle(
      new Request(request.url, { method: request.method, headers: [...request.headers], body }),
    );
    return new MiniflareResponse(await answer.arrayBuffer(), {
      status: answer.status,
      headers: [...answer.headers],
    });
  };
}

/** Drains every output queue and the dead-letter queue into KV `RECEIVED` as `<queue>/<message id>`. */
const RECORDER = `
export default {
  async queue(batch, env) {
    for (const message of batch.messages) {
      const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
      await env.RECEIVED.put(batch.queue + '/' + Date.now() + '-' + message.id, body);
      message.ack();
    }
  },
};`;

/**
 * Miniflare running the bundled Worker with `bindings` as its vars and secrets. `onLine`, when given,
 * receives each line the Worker writes to stdout (its logs) instead of the console; `maxRetries` is the
 * notification consumer's deliveries before the dead-letter queue; `outbound` answers every fetch the
 * Worker makes (a cloud's API served from the test).
 */
export function startEdgeMiniflare(
  script: string,
  bindings: Record<string, string> = SECRETS,
  options: {
    onLine?: (line: string) => void;
    maxRetries?: number;
    outbound?: (request: Request) => Promise<Response>;
  } = {},
) {
  const { onLine, maxRetries = MAX_RETRIES, outbound } = options;
  const drain = { maxBatchSize: 100, maxBatchTimeout: 0 };
  return new Miniflare({
    ...(onLine ? { handleRuntimeStdio: (stdout: Readable) => eachLine(stdout, onLine) } : {}),
    workers: [
      {
        name: 'dropgate',
        modules: true,
        scriptPath: script,
        compatibilityDate: '2026-04-01',
        bindings,
        ...(outbound ? { outboundService: webHandler(outbound) } : {}),
        r2Buckets: { BUCKET },
        durableObjects: { LEDGER: { className: 'LedgerDurableObject', useSQLite: true } },
        queueProducers: {
          NOTIFICATIONS: { queueName: QUEUES.notifications },
          FILES_QUEUE: { queueName: QUEUES.files },
          ORDERS_QUEUE: { queueName: QUEUES.orders },
          ORDERS_DEAD_LETTER_QUEUE: { queueName: QUEUES.ordersDeadLetter },
        },
        queueConsumers: {
          [QUEUES.notifications]: {
            maxBatchSize: 10,
            maxBatchTimeout: 0,
            maxRetries,
            deadLetterQueue: QUEUES.deadLetters,
          },
        },
      },
      {
        name: 'recorder',
        modules: true,
        script: RECORDER,
        compatibilityDate: '2026-04-01',
        kvNamespaces: ['RECEIVED'],
        queueConsumers: {
          [QUEUES.files]: drain,
          [QUEUES.orders]: drain,
          [QUEUES.ordersDeadLetter]: drain,
          [QUEUES.deadLetters]: drain,
        },
      },
    ],
  });
}

function eachLine(stream: Readable, onLine: (line: string) => void) {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
}

/** Message bodies received so far on `queue`, in the order received. */
interface KvLike {
  list(options: { prefix: string; cursor?: string }): Promise<{
    keys: Array<{ name: string }>;
    list_complete: boolean;
    cursor?: string;
  }>;
  get(key: string): Promise<string | null>;
  delete(key: string): Promise<void>;
}

const recorded = async (miniflare: Miniflare) =>
  (await miniflare.getKVNamespace('RECEIVED', 'recorder')) as unknown as KvLike;

/** Forgets every message received so far. */
export async function forgetReceived(miniflare: Miniflare): Promise<void> {
  const kv = await recorded(miniflare);
  const { keys } = await kv.list({ prefix: '' });
  await Promise.all(keys.map((key) => kv.delete(key.name)));
}

export async function received(miniflare: Miniflare, queue: string): Promise<string[]> {
  const kv = await recorded(miniflare);
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: `${queue}/`, ...(cursor ? { cursor } : {}) });
    keys.push(...page.keys.map((key) => key.name));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  keys.sort(
    (left, right) => Number(left.split('/')[1]!.split('-')[0]) - Number(right.split('/')[1]!.split('-')[0]),
  );
  return Promise.all(keys.map(async (key) => (await kv.get(key))!));
}

const HEADER = 'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at';
/** An orders row (quantity 0 is refused by the schema). */
export const row = (id: string, quantity = 1) => `${id},c1,SKU-1,${quantity},9.99,EUR,2026-11-24T10:00:00Z`;
export const csv = (...rows: string[]) => [HEADER, ...rows, ''].join('\n');

/** A notification as R2 sends it (developers.cloudflare.com/r2/buckets/event-notifications/). */
export function notification(action: string, key: string, object: { size?: number; eTag?: string } = {}) {
  return {
    account: SECRETS.R2_ACCOUNT_ID,
    action,
    bucket: BUCKET,
    object: { key, ...object },
    eventTime: new Date().toISOString(),
    ...(action === 'CopyObject' ? { copySource: { bucket: BUCKET, object: 'elsewhere.csv' } } : {}),
  };
}

/** Puts a CSV object through the R2 binding (no notification is sent); its key, size and etag. */
export async function putObject(miniflare: Miniflare, key: string, text: string) {
  const bucket = (await miniflare.getR2Bucket('BUCKET', 'dropgate')) as unknown as R2BucketBinding;
  const object = await bucket.put(key, text, { httpMetadata: { contentType: 'text/csv' } });
  return { key, size: object!.size, eTag: object!.etag };
}

/** Sends message bodies to the notification queue. */
export async function notify(miniflare: Miniflare, ...bodies: unknown[]) {
  const queue = await miniflare.getQueueProducer('NOTIFICATIONS', 'dropgate');
  await queue.sendBatch(bodies.map((body) => ({ body, contentType: 'json' as const })));
}

/** `GET /admin/files/<key>`: the key's ledger record, or undefined when none is. */
export async function fileStatus(miniflare: Miniflare, key: string) {
  const response = await miniflare.dispatchFetch(`http://localhost/admin/files/${key}`, {
    headers: { authorization: `Bearer ${SECRETS.DROPGATE_ADMIN_TOKEN}` },
  });
  return response.status === 200
    ? ((await response.json()) as { state: string; attempts: number })
    : undefined;
}

/** Waits until `check` holds (polling), or fails after `timeoutMs` with what it last saw. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting; last saw ${String(JSON.stringify(value)).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
