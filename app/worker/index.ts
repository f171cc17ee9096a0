/**
 * Cloudflare Workers entry. For now it serves `/healthz` only; its bundle pulls in the ingestion core
 * (parsing, validation, envelopes) so that building it proves the core stays Workers-compatible.
 */
import { Hono } from 'hono';
import { ingestFile } from '../../workers/ingest-file.js';

const app = new Hono();
app.get('/healthz', (context) =>
  context.json({ status: 'ok', runtime: 'workerd', core: typeof ingestFile === 'function' }),
);

export default app;
