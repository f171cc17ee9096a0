/**
 * Cloudflare Workers entry: `fetch` serves the same Hono app as Node (uploads, admin, file status,
 * health), `queue` consumes R2 event notifications, and LedgerDurableObject holds the ledger. The config
 * and the precompiled validators come from the build (`dropgate-worker-build`, see wrangler.toml).
 */
import { config, folders, schemas, validators } from 'dropgate-worker-build';
import { asDropgateError } from '../../adapters/errors.js';
import { fromAjv } from '../../schemas/row-validator.js';
import { webTextDecoding } from '../../workers/text-decoding.js';
import { createAuthenticator } from '../auth.js';
import { compileDatasets, configFileSchema, parseOrExplain } from '../config.js';
import { createApp } from '../create-app.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createJsonLogger } from '../logger.js';
import { wireWorker, workerConfigOf, type QueueMessageLike, type WorkerAdapters } from './wire.js';

export { LedgerDurableObject } from './wire.js';

interface Running {
  gateway: Gateway;
  fetch: (request: Request) => Response | Promise<Response>;
  intake: ReturnType<WorkerAdapters['intake']>;
}

interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

const logger = createJsonLogger();
/** One gateway per isolate and environment, started by the first request or batch. */
const started = new WeakMap<object, Promise<Running>>();

function startOnce(env: Record<string, unknown>): Promise<Running> {
  let running = started.get(env);
  if (!running) {
    running = start(env);
    started.set(env, running);
  }
  return running;
}

async function start(env: Record<string, unknown>): Promise<Running> {
  const file = parseOrExplain(configFileSchema, config, 'the config bundled at build time');
  const workerConfig = workerConfigOf(file);
  const adapters = wireWorker(workerConfig, env);
  const datasets = await compileDatasets(
    file.datasets,
    {
      read: async (path) => {
        if (!(path in schemas)) throw new Error('it was not bundled at build time');
        return schemas[path];
      },
      list: async (path) => folders[path],
    },
    (_schema, path) => {
      const validate = validators[path];
      // Workers refuse code generation at run time: only what the build precompiled can validate.
      if (!validate) throw new Error(`no validator was precompiled for ${path}: rebuild the Worker`);
      return fromAjv(validate);
    },
    webTextDecoding,
    file.schemaBaseUrl ? { schemaBaseUrl: file.schemaBaseUrl } : {},
  );
  const gateway = createGateway({
    store: adapters.store,
    sink: adapters.sink,
    ledger: adapters.ledger,
    datasets,
    controlTopic: file.controlTopic,
    owner: `worker:${crypto.randomUUID()}`,
    uploads: file.uploads,
    logger,
    ingest: { textDecoding: webTextDecoding },
  });
  const app = createApp({ gateway, auth: createAuthenticator(adapters.credentials), logger, intakes: [] });
  const intake = adapters.intake({
    accept: (result, mode, options) => gateway.accept(result, mode, options),
    onRetry: (message) => logger.warn('notification not acknowledged, retried', message),
  });
  return { gateway, fetch: app.fetch, intake };
}

function startFailed(error: unknown): Response {
  const { code, message } = asDropgateError(error);
  logger.error('the Worker cannot start', { code, error: message });
  return Response.json({ error: { code, message } }, { status: 503 });
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, context: ExecutionContextLike) {
    let running: Running;
    try {
      running = await startOnce(env);
    } catch (error) {
      return startFailed(error);
    }
    const response = await running.fetch(request);
    // A replay runs after its answer (the gateway's background ingestion): keep the isolate until it ends.
    context.waitUntil(running.gateway.idle());
    return response;
  },

  async queue(batch: { queue: string; messages: readonly QueueMessageLike[] }, env: Record<string, unknown>) {
    // A Worker that cannot start throws, so the platform retries the whole batch (then dead-letters it).
    const running = await startOnce(env);
    await running.intake.handle(batch.messages);
  },
};
