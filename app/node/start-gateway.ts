/** Starts the gateway on Node (Cloud Run, or a laptop on the embedded defaults) and resumes unfinished files. */
import { createAdaptorServer } from '@hono/node-server';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { wireLocalAdapters } from './wire.js';
import { createAuthenticator } from '../auth.js';
import { createApp } from '../create-app.js';
import { createGateway, type Gateway } from '../gateway.js';
import { iconvTextDecoding } from './iconv-text-decoding.js';
import { createIngestPools } from './ingest-threads.js';
import { createJobQueue, type JobQueue } from '../job-queue.js';
import type { Logger } from '../logger.js';
import { localCredentials, type LoadedConfig } from './load-config.js';

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  jobs: JobQueue;
  /** Credentials that were generated for local use (empty when all came from the environment). */
  printable: { vendor?: string; vendorKey?: string; adminToken?: string };
  close(): Promise<void>;
}

export async function startGateway(
  config: LoadedConfig,
  logger: Logger,
  options: { port?: number } = {},
): Promise<RunningGateway> {
  let handler: (request: Request) => Response | Promise<Response> = () =>
    new Response(JSON.stringify({ error: { code: 'STARTING', message: 'gateway is starting' } }), {
      status: 503,
    });
  const server = createAdaptorServer({ fetch: (request) => handler(request) });
  const port = options.port ?? config.environment.PORT;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = config.environment.DROPGATE_PUBLIC_URL ?? `http://localhost:${address.port}`;

  const { credentials, signingSecret, generated } = await localCredentials(config);
  const adapters = await wireLocalAdapters({ dataDir: config.dataDir, publicUrl: url, signingSecret });
  const jobs = createJobQueue({
    concurrency: 2,
    maxAttempts: 8,
    baseDelayMs: 1000,
    onError: (name, error) => logger.error('job crashed', { job: name, error: (error as Error).stack }),
  });
  const shutdown = new AbortController();
  const pools = createIngestPools(config.file.ingestThreads);
  const gateway = createGateway({
    ...adapters,
    datasets: config.datasets,
    controlTopic: config.file.controlTopic,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    uploads: config.file.uploads,
    jobs,
    logger,
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
    receiver: adapters.receiver,
  }).fetch;
  await gateway.resumeUnfinished();

  const [vendorKey, vendor] = [...credentials.vendorKeys][0] ?? [];
  return {
    url,
    gateway,
    jobs,
    printable: {
      ...(generated.includes('vendorKey') || !config.environment.DROPGATE_VENDOR_KEYS
        ? { vendor, vendorKey }
        : {}),
      ...(!config.environment.DROPGATE_ADMIN_TOKEN ? { adminToken: credentials.adminToken } : {}),
    },
    /** Stops taking requests; running ingestions stop at their next batch, recording a checkpoint. */
    async close() {
      shutdown.abort();
      jobs.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await jobs.idle();
      await pools.close();
      await adapters.sink.close();
    },
  };
}
