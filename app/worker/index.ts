/**
 * Cloudflare Workers entry: `fetch` serves the same Hono app as Node (uploads, admin, file status,
 * health, metrics), `queue` consumes R2 event notifications, `scheduled` runs the cron backfill, and
 * LedgerDurableObject holds the ledger. The config and the precompiled validators come from the build
 * (`dropgate-worker-build`, see wrangler.toml). Logs honour the `LOG_LEVEL` var, as on Node.
 */
import { config, folders, schemas, validators } from 'dropgate-worker-build';
import { asDropgateError } from '../../adapters/errors.js';
import { fromAjv } from '../../schemas/row-validator.js';
import { webTextDecoding } from '../../workers/text-decoding.js';
import { createAuthenticator } from '../auth.js';
import { compileDatasets, configFileSchema, parseOrExplain } from '../config.js';
import { createApp } from '../create-app.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createJsonLogger, logLevelOf, type Logger } from '../logger.js';
import { scheduledBackfill } from '../scheduled-backfill.js';
import { createTextMetrics } from '../text-metrics.js';
import { wireWorker, workerConfigOf, type QueueMessageLike, type WorkerAdapters } from './wire.js';

export { LedgerDurableObject } from './wire.js';

interface Running {
  gateway: Gateway;
  logger: Logger;
  fetch: (request: Request) => Response | Promise<Response>;
  intake: ReturnType<WorkerAdapters['intake']>;
  /** One tick of the cron backfill; absent when the config has no `scheduledBackfill`. */
  backfillTick?: () => Promise<unknown>;
}

interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

/** For a Worker that cannot start (LOG_LEVEL unread or refused); a started one logs at its LOG_LEVEL. */
const startLogger = createJsonLogger();
/**
 * Per isolate, like everything in module scope: it starts at zero in each new isolate and is gone when
 * the isolate is evicted (docs/deploy-workers.md says what that means for scraping).
 */
const metrics = createTextMetrics();
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
  const logger = createJsonLogger(
    undefined,
    logLevelOf(env.LOG_LEVEL === undefined ? undefined : String(env.LOG_LEVEL)),
  );
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
    metrics,
    ingest: { textDecoding: webTextDecoding },
  });
  const app = createApp({
    gateway,
    auth: createAuthenticator(adapters.credentials),
    logger,
    metrics,
    intakes: [],
  });
  const intake = adapters.intake({
    accept: (result, mode, options) => gateway.accept(result, mode, options),
    onRetry: (message) => logger.warn('notification not acknowledged, retried', message),
  });
  const settings = file.scheduledBackfill;
  const backfillTick = settings
    ? () =>
        scheduledBackfill(
          { gateway, cursors: adapters.ledger, bucket: adapters.store.bucket, logger },
          settings,
        )
    : undefined;
  return { gateway, logger, fetch: app.fetch, intake, ...(backfillTick ? { backfillTick } : {}) };
}

function startFailed(error: unknown): Response {
  const { code, message } = asDropgateError(error);
  startLogger.error('the Worker cannot start', { code, error: message });
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
    running.logger.debug('notification batch', { queue: batch.queue, messages: batch.messages.length });
    await running.intake.handle(batch.messages);
  },

  /** A cron trigger (wrangler.toml `[triggers] crons`): one step of the scheduled backfill. */
  async scheduled(_controller: unknown, env: Record<string, unknown>, context: ExecutionContextLike) {
    // A Worker that cannot start throws: the invocation is marked failed in the Cron Events.
    const running = await startOnce(env);
    if (!running.backfillTick) {
      running.logger.warn('a cron trigger fired, but the config has no scheduledBackfill: nothing to do');
      return;
    }
    try {
      await running.backfillTick();
    } finally {
      // The versions it recorded are ingested in the background: keep the invocation until they end.
      context.waitUntil(running.gateway.idle());
    }
  },
};
