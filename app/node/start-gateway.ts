/** Starts the gateway on Node (Cloud Run, or a laptop on the embedded defaults) and resumes unfinished files. */
import { createAdaptorServer } from '@hono/node-server';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { wireAdapters } from './wire.js';
import { describeError } from '../../adapters/errors.js';
import { createAuthenticator } from '../auth.js';
import { createApp } from '../create-app.js';
import { createGateway, type Gateway } from '../gateway.js';
import { iconvTextDecoding } from './iconv-text-decoding.js';
import { nodeLogContext } from './log-context.js';
import { createIngestPools } from './ingest-threads.js';
import { createPrometheusMetrics } from './prometheus-metrics.js';
import { startTracing } from './start-tracing.js';
import type { Logger } from '../logger.js';
import { localCredentials, type LoadedConfig } from './load-config.js';

/** How long requests in flight may take to finish once the gateway is told to stop. */
const CLOSE_GRACE_MS = 5_000;

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  /** Credentials that were generated for local use (empty when all came from the environment). */
  printable: { vendor?: string; vendorKey?: string; adminToken?: string };
  close(): Promise<void>;
}

export async function startGateway(
  config: LoadedConfig,
  logger: Logger,
  options: { port?: number } = {},
): Promise<RunningGateway> {
  // Before the port is taken: OTEL_* variables Dropgate cannot follow stop the start.
  const tracing = await startTracing();
  let handler: (request: Request) => Response | Promise<Response> = () =>
    new Response(JSON.stringify({ error: { code: 'STARTING', message: 'gateway is starting' } }), {
      status: 503,
    });
  const server = createAdaptorServer({ fetch: (request) => handler(request) });
  // A client that half-closes (shuts its sending side) after its whole body still gets its answer: by
  // default Node aborts such requests, and the upload would be lost.
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const port = options.port ?? config.environment.PORT;
  const { credentials, signingSecret, generated } = await localCredentials(config);
  // Credentials Dropgate made up itself mean a laptop, not a deployment: serve it to this machine only.
  const env = config.environment;
  const localOnly = !env.DROPGATE_ADMIN_TOKEN || !env.DROPGATE_SIGNING_SECRET || !env.DROPGATE_VENDOR_KEYS;
  const host = env.HOST ?? (localOnly ? '127.0.0.1' : '0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = config.environment.DROPGATE_PUBLIC_URL ?? `http://${shownHost}:${address.port}`;

  let adapters;
  try {
    adapters = await wireAdapters({
      file: config.file,
      dataDir: config.dataDir,
      publicUrl: url,
      signingSecret,
      logger,
    });
  } catch (error) {
    // A gateway that cannot start gives its port back and fails, so a supervisor restarts it.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await tracing?.shutdown();
    throw error;
  }
  const shutdown = new AbortController();
  const pools = createIngestPools(config.file.ingestThreads);
  const metrics = createPrometheusMetrics();
  const gateway = createGateway({
    ...adapters,
    datasets: config.datasets,
    controlTopic: config.file.controlTopic,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    uploads: config.file.uploads,
    logger,
    logContext: nodeLogContext,
    metrics,
    ingest: {
      signal: shutdown.signal,
      textDecoding: iconvTextDecoding,
      segmentPool: pools.segmentPool,
      rowGroupPool: pools.rowGroupPool,
    },
  });
  handler = createApp({
    gateway,
    auth: createAuthenticator(credentials),
    logger,
    logContext: nodeLogContext,
    intakes: adapters.intakes,
    metrics,
  }).fetch;
  for (const consumer of adapters.queueConsumers)
    consumer.start((result) => gateway.accept(result, 'inline'));
  const resumed = await gateway.resumeUnfinished();
  if (resumed > 0) logger.info('resuming unfinished files', { count: resumed });
  const sweeps =
    config.file.resumeIntervalSeconds > 0
      ? setInterval(() => {
          gateway
            .resumeUnfinished('retryable')
            .catch((error: unknown) =>
              logger.warn('sweeping the ledger failed', { error: describeError(error) }),
            );
        }, config.file.resumeIntervalSeconds * 1000)
      : undefined;

  const [vendorKey, vendor] = [...credentials.vendorKeys][0] ?? [];
  return {
    url,
    gateway,
    printable: {
      ...(generated.includes('vendorKey') || !config.environment.DROPGATE_VENDOR_KEYS
        ? { vendor, vendorKey }
        : {}),
      ...(!config.environment.DROPGATE_ADMIN_TOKEN ? { adminToken: credentials.adminToken } : {}),
    },
    /**
     * Stops taking connections, lets requests in flight finish for a few seconds (an upload answered 201
     * is recorded), and stops running ingestions at their next block with a checkpoint; what was recorded
     * and not finished is resumed by the next start.
     */
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      clearInterval(sweeps);
      shutdown.abort();
      gateway.stop();
      // Messages in flight settle as their ingestions stop at a checkpoint: left for redelivery, not deleted.
      await Promise.all(adapters.queueConsumers.map((consumer) => consumer.stop()));
      let grace: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closed, new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(grace);
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await gateway.idle();
      await pools.close();
      await adapters.close();
      await tracing?.shutdown();
    },
  };
}
