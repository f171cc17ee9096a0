/** One JSON error shape for every endpoint: `{ error: { code, message, requestId } }`. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DropgateError, type ErrorCode } from '../adapters/errors.js';
import type { Logger } from './logger.js';

/**
 * Every code's HTTP status, in one table: a new code does not compile until it has one. A retryable
 * fault is a 5xx (503 where trying again later is the remedy), so clients retry what Dropgate would.
 */
const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  CONFIG_INVALID: 500,
  DATASET_UNKNOWN: 400,
  NO_DATASET_MATCHES: 422,
  SCHEMA_INVALID: 500,
  SCHEMA_VERSION_REFUSED: 422,
  OBJECT_NOT_FOUND: 404,
  OBJECT_VERSION_GONE: 410,
  OBJECT_READ_FAILED: 503,
  FILE_UNREADABLE: 422,
  LEASE_LOST: 409,
  PUBLISH_FAILED: 503,
  PUBLISH_REFUSED: 502,
  SHUTTING_DOWN: 503,
  TIME_BUDGET_SPENT: 503,
  RETRY_LATER: 503,
  LEDGER_UNAVAILABLE: 503,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  OUT_OF_MEMORY: 500,
  INTERNAL: 500,
  INVARIANT_BROKEN: 500,
};

export function codeToStatus(code: ErrorCode): ContentfulStatusCode {
  return STATUS[code];
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
