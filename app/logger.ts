/** Structured JSON logs, one object per line. Callers pass fields, never secrets or signed URLs. */

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createJsonLogger(write: (line: string) => void = (line) => console.log(line)): Logger {
  const log =
    (severity: string) =>
    (message: string, fields: LogFields = {}) =>
      write(JSON.stringify({ severity, time: new Date().toISOString(), message, ...fields }));
  return { info: log('INFO'), warn: log('WARNING'), error: log('ERROR') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
