/** What the Hono app and its route modules share: the request context and the injected dependencies. */
import type { UploadReceiver } from '../adapters/ports.js';
import type { Authenticator } from './auth.js';
import type { Gateway } from './gateway.js';
import type { Logger } from './logger.js';

export interface AppEnv {
  Variables: { requestId: string };
}

export interface AppDependencies {
  gateway: Gateway;
  auth: Authenticator;
  logger: Logger;
  /** Present when the gateway serves signed uploads itself (local and memory stores). */
  receiver?: UploadReceiver;
}
