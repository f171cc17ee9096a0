/**
 * Structured JSON logs, one object per line with the `severity` Cloud Logging reads. Callers pass fields,
 * never secrets; what slips through anyway (a credential under a known name, a signed URL's query string,
 * a bearer token in a message) is redacted before a line is written, on every runtime.
 */
import { DropgateError } from '../adapters/errors.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * Fields every line logged inside a unit of work carries (a request's id, a file's key), without passing
 * a logger down through every call: `run` scopes them to a callback and everything it awaits. Node keeps
 * them in AsyncLocalStorage (app/node/log-context.ts); a runtime without it passes none.
 */
export interface LogContext {
  /** Runs `fn` with exactly `fields` as the context (a task's own, not added to an outer one's). */
  run<T>(fields: LogFields, fn: () => T): T;
  /** The fields of the innermost `run` this code runs inside. */
  current(): LogFields | undefined;
}

/** A request id from a client (`X-Request-Id`) is kept only if it is this short and plain. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The client's request id if it is safe to echo and log, else a fresh one. */
export function requestIdOf(header: string | undefined): string {
  return header !== undefined && CLIENT_REQUEST_ID.test(header) ? header : crypto.randomUUID();
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What `LOG_LEVEL` says, `info` when unset; an unknown level is an error naming the variable. */
export function logLevelOf(value: string | undefined): LogLevel {
  const level = (value ?? '').trim().toLowerCase() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new DropgateError(
      'CONFIG_INVALID',
      `LOG_LEVEL is "${value}"; it must be one of ${LOG_LEVELS.join(', ')}`,
      { context: { field: 'LOG_LEVEL' } },
    );
  }
  return level as LogLevel;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Whether a line of `level` is written when the logger is set to `threshold`. */
export const isLogged = (level: Exclude<LogLevel, 'silent'>, threshold: LogLevel) =>
  RANK[level] >= RANK[threshold];

/** Field names whose values are credentials, whatever they hold (compared without case, `-` or `_`). */
const SECRET_NAMES = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'token',
  'admintoken',
  'accesstoken',
  'idtoken',
  'bearer',
  'vendorkey',
  'apikey',
  'xapikey',
  'secret',
  'signingsecret',
  'clientsecret',
  'secretaccesskey',
  'sessiontoken',
  'password',
  'signature',
  'xgoogsignature',
  'xamzsignature',
  'xamzsecuritytoken',
  'xamzcredential',
  'credentials',
  'privatekey',
]);

export const REDACTED = '[redacted]';

/** A URL with a query string: signed upload URLs carry their signature and credential there. */
const URL_QUERY = /\b(https?:\/\/[^\s"'?#]+)\?[^\s"'#]*/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/** `text` with URL query strings and bearer or basic credentials replaced by `[redacted]`. */
export function redactText(text: string): string {
  return text.replace(URL_QUERY, `$1?${REDACTED}`).replace(BEARER, `$1 ${REDACTED}`);
}

/** `fields` with credentials redacted, recursively (plain objects and arrays, 8 levels deep). */
export function redactFields(fields: LogFields): LogFields {
  return redactValue(fields, 0) as LogFields;
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth >= 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const result: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) {
    result[name] = SECRET_NAMES.has(name.toLowerCase().replace(/[-_]/g, ''))
      ? REDACTED
      : redactValue(member, depth + 1);
  }
  return result;
}

/** The dependency-free logger (Workers, and Node's tests): one JSON line per call through `write`. */
export function createJsonLogger(
  write: (line: string) => void = (line) => console.log(line),
  level: LogLevel = 'info',
  context?: LogContext,
): Logger {
  const log =
    (name: Exclude<LogLevel, 'silent'>, severity: string) =>
    (message: string, fields: LogFields = {}) => {
      if (!isLogged(name, level)) return;
      write(
        JSON.stringify({
          severity,
          time: new Date().toISOString(),
          message: redactText(message),
          ...redactFields({ ...context?.current(), ...fields }),
        }),
      );
    };
  return {
    debug: log('debug', 'DEBUG'),
    info: log('info', 'INFO'),
    warn: log('warn', 'WARNING'),
    error: log('error', 'ERROR'),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
