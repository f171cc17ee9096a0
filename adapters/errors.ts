/** The one error type for faults: a code callers switch on, whether retrying can help, and context. */

/**
 * Every code, and whether trying the same work again can succeed. Retryability belongs to the code, never
 * to a throw site: a fault that can go either way gets two codes (PUBLISH_FAILED, PUBLISH_REFUSED).
 */
const RETRYABLE = {
  CONFIG_INVALID: false,
  DATASET_UNKNOWN: false,
  NO_DATASET_MATCHES: false,
  SCHEMA_INVALID: false,
  /** A file names a schema version its dataset does not have, or has retired. */
  SCHEMA_VERSION_REFUSED: false,
  OBJECT_NOT_FOUND: false,
  OBJECT_VERSION_GONE: false,
  /** The store did not serve the bytes (network, throttling); the same read can succeed later. */
  OBJECT_READ_FAILED: true,
  FILE_UNREADABLE: false,
  /** Another worker holds the file now, and finishes it. */
  LEASE_LOST: false,
  /** The sink did not take events (an outage, throttling); publishing them again can succeed. */
  PUBLISH_FAILED: true,
  /** The sink refused events for good (too large, malformed); publishing them again cannot succeed. */
  PUBLISH_REFUSED: false,
  /** The process is stopping; the work resumes from its checkpoint, here after a restart or elsewhere. */
  SHUTTING_DOWN: true,
  /**
   * The invocation's time budget is spent (a Worker near its CPU or wall-clock limit): the attempt stopped
   * at a block with a checkpoint, and the next delivery resumes from it.
   */
  TIME_BUDGET_SPENT: true,
  /** Not acknowledged yet (a fault, or a lease held elsewhere): the sender should deliver it again. */
  RETRY_LATER: true,
  /** The ledger did not answer (lease renewals failed for a whole lease): the attempt stops, to resume. */
  LEDGER_UNAVAILABLE: true,
  UNAUTHORIZED: false,
  FORBIDDEN: false,
  BAD_REQUEST: false,
  NOT_FOUND: false,
  CONFLICT: false,
  PAYLOAD_TOO_LARGE: false,
  /** A thread of an ingestion pool ran out of its capped heap; the work can run where there is no cap. */
  OUT_OF_MEMORY: true,
  /** An unexpected fault (a thread that stopped, an error of no known kind); another attempt may succeed. */
  INTERNAL: true,
  /** Dropgate's own bookkeeping disagrees with itself (a bug): the same input fails the same way again. */
  INVARIANT_BROKEN: false,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof RETRYABLE;

/** Every code, in the order of the table. */
export const ERROR_CODES = Object.keys(RETRYABLE) as ErrorCode[];

export function isRetryableCode(code: ErrorCode): boolean {
  return RETRYABLE[code];
}

export class DropgateError extends Error {
  readonly code: ErrorCode;
  /** Whether trying the same work again can succeed: follows from `code`. */
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DropgateError';
    this.code = code;
    this.retryable = RETRYABLE[code];
    this.context = options.context ?? {};
  }
}

export function isDropgateError(error: unknown, code?: ErrorCode): error is DropgateError {
  return error instanceof DropgateError && (code === undefined || error.code === code);
}

/** Whether retrying can help after `error`; what is not a DropgateError is an unexpected fault (INTERNAL). */
export function isRetryable(error: unknown): boolean {
  return error instanceof DropgateError ? error.retryable : RETRYABLE.INTERNAL;
}

/** `error` as a DropgateError: itself, or an INTERNAL fault carrying its message. */
export function asDropgateError(error: unknown): DropgateError {
  if (error instanceof DropgateError) return error;
  return new DropgateError('INTERNAL', describeError(error), { cause: error });
}

/** A message safe to show: the error's own message, never a stack. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An error as plain data that survives a structured clone (postMessage between threads) or JSON. There is
 * no `retryable` field: retryability is the code's, so it comes back with the code.
 */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  context: Record<string, unknown>;
}

/** Any thrown value as a SerializedError; what is not a DropgateError becomes an INTERNAL fault. */
export function serializeError(error: unknown): SerializedError {
  const { code, message, context } = asDropgateError(error);
  return { code, message, context: cloneable(context) };
}

/** The DropgateError a SerializedError describes; an unknown code (another version) becomes INTERNAL. */
export function deserializeError(serialized: SerializedError): DropgateError {
  const { code, message, context } = serialized;
  if (Object.hasOwn(RETRYABLE, code)) return new DropgateError(code, message, { context });
  return new DropgateError('INTERNAL', message, { context: { ...context, code } });
}

/** `context` as a structured clone can copy it: values it cannot copy (functions, say) become strings. */
function cloneable(context: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(context);
  } catch {
    return Object.fromEntries(
      Object.entries(context).map(([key, value]) => {
        try {
          return [key, structuredClone(value)];
        } catch {
          return [key, String(value)];
        }
      }),
    );
  }
}
