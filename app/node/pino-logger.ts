/**
 * The Logger on Node, backed by pino: JSON lines with Cloud Logging's `severity`, an ISO `time` and
 * `message`, fields redacted as everywhere (app/logger.ts), the level from LOG_LEVEL.
 */
import pino, { type DestinationStream } from 'pino';
import {
  logLevelOf,
  redactFields,
  redactText,
  type LogContext,
  type LogFields,
  type LogLevel,
  type Logger,
} from '../logger.js';
import { nodeLogContext } from './log-context.js';

const SEVERITY: Record<string, string> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
};

export function createPinoLogger(
  options: { level?: LogLevel; destination?: DestinationStream; context?: LogContext } = {},
): Logger {
  const context = options.context ?? nodeLogContext;
  const logger = pino(
    {
      level: options.level ?? logLevelOf(process.env.LOG_LEVEL),
      messageKey: 'message',
      // No pid and hostname on every line: Cloud Run and the like add the instance themselves.
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? label.toUpperCase() }) },
      // The request id, file key or trace the line was logged under; a call's own fields win.
      mixin: () => redactFields(context.current() ?? {}),
    },
    // Synchronous writes to stdout (pino's default): a line written before a crash is not lost.
    options.destination ?? pino.destination(1),
  );
  const log =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields: LogFields = {}) => {
      if (logger.isLevelEnabled(level)) logger[level](redactFields(fields), redactText(message));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
