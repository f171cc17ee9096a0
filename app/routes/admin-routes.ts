/**
 * Operator endpoints, admin token only: replay a file by key or every file under a prefix, backfill what
 * the ledger never saw, read the load history and a file's ingestion state.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { DropgateError } from '../../adapters/errors.js';
import type { AppDependencies, AppEnv } from '../app-env.js';
import { fileRow } from '../file-row.js';
import { parseHistoryFilters } from '../history-query.js';
import { jsonBody, keyAfter } from './request-body.js';

const FILES_PATH = '/admin/files/';

const backfillRequest = z
  .object({
    prefix: z.string().max(1_024),
    since: z.iso.datetime({ offset: true }).optional(),
    dryRun: z.boolean().optional(),
    cursor: z.string().min(1).max(4_096).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();

/** `{ objectKey }` replays one file; `{ prefix, ... }` every file a listing step finds. */
const replayRequest = z
  .object({
    objectKey: z.string().min(1).optional(),
    prefix: z.string().max(1_024).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    dryRun: z.boolean().optional(),
    cursor: z.string().min(1).max(4_096).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  })
  .strict()
  .superRefine((body, context) => {
    if (body.objectKey !== undefined && body.prefix !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['prefix'],
        message: 'give either objectKey (one file) or prefix (every file under it), not both',
      });
    } else if (body.objectKey === undefined && body.prefix === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['objectKey'],
        message: 'give objectKey (one file) or prefix (every file under it)',
      });
    } else if (body.objectKey !== undefined) {
      for (const field of ['since', 'until', 'dryRun', 'cursor', 'limit'] as const) {
        if (body[field] !== undefined) {
          context.addIssue({ code: 'custom', path: [field], message: 'goes with prefix, not objectKey' });
        }
      }
    }
  });

export function adminRoutes({ gateway, auth }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.use('/admin/*', async (context, next) => {
    if (!(await auth.isAdmin(context.req.header('authorization')))) {
      throw new DropgateError('UNAUTHORIZED', 'the admin token is required: Authorization: Bearer <token>');
    }
    await next();
  });

  routes.post('/admin/replay', async (context) => {
    const { objectKey, prefix, ...range } = await jsonBody(context, replayRequest);
    if (objectKey === undefined) {
      const result = await gateway.replayListing({ prefix: prefix!, ...range });
      return context.json(result, result.dryRun || result.replayed + result.new === 0 ? 200 : 202);
    }
    const scheduled = await gateway.replay(objectKey);
    return context.json(
      {
        objectKey,
        ...scheduled,
        status: 'scheduled',
        statusUrl: `${FILES_PATH}${objectKey.split('/').map(encodeURIComponent).join('/')}`,
      },
      202,
    );
  });

  routes.post('/admin/backfill', async (context) => {
    const request = await jsonBody(context, backfillRequest);
    const result = await gateway.backfill(request);
    return context.json(result, result.dryRun || result.recorded === 0 ? 200 : 202);
  });

  // Before `/admin/files/*`, which would match this path too.
  routes.get('/admin/files', async (context) => {
    for (const [name, values] of Object.entries(context.req.queries())) {
      if (values.length > 1)
        throw new DropgateError('BAD_REQUEST', `invalid query: ${name} is given more than once`);
    }
    const page = await gateway.history(parseHistoryFilters(context.req.query()));
    return context.json({
      files: page.records.map(fileRow),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
  });

  routes.get(`${FILES_PATH}*`, async (context) => {
    const key = keyAfter(context, FILES_PATH);
    const record = await gateway.fileStatus(key);
    if (!record) throw new DropgateError('NOT_FOUND', `no ingestion is recorded for ${key}`);
    // The latest version's record as before, and every version as the load history shows it.
    return context.json({ ...record, versions: (await gateway.versions(key)).map(fileRow) });
  });

  return routes;
}
