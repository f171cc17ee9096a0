/** Builds the Hono app from injected dependencies; knows nothing of the runtime it is served on. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DropgateError } from '../adapters/errors.js';
import type { AppDependencies, AppEnv } from './app-env.js';
import { errorResponse } from './http-errors.js';
import { requestIdOf } from './logger.js';
import { adminPageRoutes } from './routes/admin-page-routes.js';
import { adminRoutes } from './routes/admin-routes.js';
import { intakeRoutes } from './routes/intake-routes.js';
import { schemaRoutes } from './routes/schema-routes.js';
import { uploadRoutes } from './routes/upload-routes.js';

/** Largest JSON request body, in bytes. */
const JSON_BODY_LIMIT = 64 * 1024;

export function createApp(deps: AppDependencies): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (context, next) => {
    const requestId = requestIdOf(context.req.header('x-request-id'));
    context.set('requestId', requestId);
    const started = Date.now();
    // Every line logged while the request is handled (an inline ingestion's too) carries its id.
    await (deps.logContext ? deps.logContext.run({ requestId }, next) : next());
    context.header('x-request-id', requestId);
    // The path only: query strings carry upload signatures.
    deps.logger.info('request', {
      requestId,
      method: context.req.method,
      path: new URL(context.req.url).pathname,
      status: context.res.status,
      durationMs: Date.now() - started,
    });
  });
  app.onError((error, context) => errorResponse(context, error, deps.logger));
  app.notFound((context) =>
    context.json(
      {
        error: {
          code: 'NOT_FOUND',
          message: `no route for ${context.req.method} ${context.req.path}`,
          requestId: context.get('requestId'),
        },
      },
      404,
    ),
  );

  // JSON requests are small; a larger body is refused before it is buffered. Uploads go to intakes.
  const jsonLimit = bodyLimit({
    maxSize: JSON_BODY_LIMIT,
    onError: () => {
      throw new DropgateError(
        'PAYLOAD_TOO_LARGE',
        `request bodies here are limited to ${JSON_BODY_LIMIT} bytes`,
      );
    },
  });
  app.use('/v1/uploads', jsonLimit);
  app.use('/admin/*', jsonLimit);

  app.get('/healthz', (context) => context.json({ status: 'ok' }));
  app.route('/', uploadRoutes(deps));
  app.route('/', intakeRoutes(deps));
  // Before the admin routes: their token check covers all of /admin/ but the page's own files.
  app.route('/', adminPageRoutes());
  app.route('/', adminRoutes(deps));
  app.route('/', schemaRoutes(deps));
  const { metrics } = deps;
  if (metrics) {
    app.get('/metrics', async (context) => {
      if (!(await deps.auth.isAdmin(context.req.header('authorization')))) {
        throw new DropgateError('UNAUTHORIZED', 'the admin token is required: Authorization: Bearer <token>');
      }
      const { contentType, body } = await metrics.render();
      return context.body(body, 200, { 'content-type': contentType });
    });
  }
  return app;
}
