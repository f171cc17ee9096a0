/**
 * One route per configured HTTP intake: the intake turns the request into landings, the gateway records
 * (and, inline, ingests) them, and the intake answers. A landing not yet safe to acknowledge (a fault, a
 * lease held by another instance) gets 503 with Retry-After, so the sender delivers it again.
 */
import { Hono } from 'hono';
import { DropgateError } from '../../adapters/errors.js';
import type { AppDependencies, AppEnv } from '../app-env.js';

export function intakeRoutes({ gateway, intakes }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  for (const intake of intakes) {
    routes.on(intake.method, intake.path, async (context) => {
      const result = await intake.receive(context.req.raw);
      const outcomes = await gateway.accept(result, intake.mode);
      const waiting = outcomes.filter((outcome) => !outcome.ack);
      if (waiting.length > 0) {
        const retryAfter = Math.max(...waiting.map((outcome) => outcome.retryAfterSeconds ?? 10));
        context.header('retry-after', String(retryAfter));
        throw new DropgateError(
          'RETRY_LATER',
          waiting
            .map((outcome) => `${outcome.landing.key}: ${outcome.status}: ${outcome.reason ?? ''}`)
            .join('; '),
          { context: { retryAfterSeconds: retryAfter } },
        );
      }
      return intake.respond(result, outcomes);
    });
  }
  return routes;
}
