/** One JSON error shape for every endpoint: `{ error: { code, message, requestId } }`. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DropgateError, type ErrorCode } from '../adapters/errors.js';
import type { Logger } from './logger.js';

export function codeToStatus(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'BAD_REQUEST':
    case 'DATASET_UNKNOWN':
      return 400;
    case 'UNAUTHORIZED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
    case 'OBJECT_NOT_FOUND':
      return 404;
    case 'CONFLICT':
    case 'LEASE_LOST':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'NO_DATASET_MATCHES':
    case 'FILE_UNREADABLE':
      return 422;
    case 'OBJECT_VERSION_GONE':
      return 410;
    case 'PUBLISH_FAILED':
    case 'OBJECT_READ_FAILED':
    case 'RETRY_LATER':
    case 'SHUTTING_DOWN':
      return 503;
    default:
      return 500;
  }
}

export function errorResponse(context: Context, error: unknown, logger: Logger): Response {
  const requestId = context.get('requestId') as string;
  if (error instanceof DropgateError) {
    const status = codeToStatus(error.code);
    if (status >= 500) logger.error('request failed', { requestId, code: error.code, error: error.message });
    return context.json({ error: { code: error.code, message: error.message, requestId } }, status);
  }
  logger.error('unexpected error', {
    requestId,
    error: error instanceof Error ? error.stack : String(error),
  });
  return context.json({ error: { code: 'INTERNAL', message: 'internal error', requestId } }, 500);
}
