/** What the Hono app and its route modules share: the request context and the injected dependencies. */
import type { HttpIntake } from '../adapters/ports.js';
import type { Authenticator } from './auth.js';
import type { Gateway } from './gateway.js';
import type { LogContext, Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';

export interface AppEnv {
  Variables: { requestId: string };
}

export interface AppDependencies {
  gateway: Gateway;
  auth: Authenticator;
  logger: Logger;
  /** Scopes a request's id to every line logged while it is handled, where the runtime can. */
  logContext?: LogContext;
  /** The HTTP intakes that run, each answering its own route (the config's `intake` list). */
  intakes: HttpIntake[];
  /** Served at `GET /metrics` (admin token) when given. */
  metrics?: GatewayMetrics;
}
