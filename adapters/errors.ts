/** The one error type for faults: a code callers switch on, whether retrying can help, and context. */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DATASET_UNKNOWN'
  | 'NO_DATASET_MATCHES'
  | 'SCHEMA_INVALID'
  | 'OBJECT_NOT_FOUND'
  | 'OBJECT_VERSION_GONE'
  | 'OBJECT_READ_FAILED'
  | 'FILE_UNREADABLE'
  | 'LEASE_LOST'
  | 'PUBLISH_FAILED'
  | 'SHUTTING_DOWN'
  /** Not acknowledged yet (a fault, or a lease held elsewhere): the sender should deliver it again. */
  | 'RETRY_LATER'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  /** A thread of an ingestion pool ran out of its capped heap; the work can run where there is no cap. */
  | 'OUT_OF_MEMORY'
  | 'INTERNAL';

export class DropgateError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DropgateError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
  }
}

export function isDropgateError(error: unknown, code?: ErrorCode): error is DropgateError {
  return error instanceof DropgateError && (code === undefined || error.code === code);
}

/** A message safe to show: the error's own message, never a stack. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
