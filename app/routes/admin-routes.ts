/** Operator endpoints, admin token only: replay a file by key, read a file's ingestion state. */
import { Hono } from 'hono';
import { z } from 'zod';
import { DropgateError } from '../../adapters/errors.js';
import type { AppDependencies, AppEnv } from '../app-env.js';
import { jsonBody, keyAfter } from './request-body.js';

const FILES_PATH = '/admin/files/';

export function adminRoutes({ gateway, auth }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.use('/admin/*', async (context, next) => {
    if (!(await auth.isAdmin(context.req.header('authorization')))) {
      throw new DropgateError('UNAUTHORIZED', 'the admin token is required: Authorization: Bearer <token>');
    }
    await next();
  });

  routes.post('/admin/replay', async (context) => {
    const { objectKey } = await jsonBody(context, z.object({ objectKey: z.string().min(1) }).strict());
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

  routes.get(`${FILES_PATH}*`, async (context) => {
    const key = keyAfter(context, FILES_PATH);
    const record = await gateway.fileStatus(key);
    if (!record) throw new DropgateError('NOT_FOUND', `no ingestion is recorded for ${key}`);
    return context.json(record);
  });

  return routes;
}
