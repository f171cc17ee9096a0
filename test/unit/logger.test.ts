/** Log redaction and levels: what a caller passes by mistake is redacted, LOG_LEVEL filters lines. */
import { describe, expect, it } from 'vitest';
import { createJsonLogger, logLevelOf, redactFields, REDACTED } from '../../app/logger.js';
import { createPinoLogger } from '../../app/node/pino-logger.js';

const SIGNED =
  'https://storage.googleapis.com/bucket/vendors/acme/a.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=5f2a9c0e';

describe('redaction', () => {
  it('redacts credentials by name, signed URL queries and bearer tokens anywhere in the fields', () => {
    const redacted = redactFields({
      key: 'vendors/acme/a.csv',
      url: SIGNED,
      headers: { Authorization: 'Bearer admin-token-123', 'x-amz-security-token': 'abc', accept: 'text/csv' },
      error: `PUT ${SIGNED} failed: header Authorization: Bearer admin-token-123 refused`,
      nested: [{ signingSecret: 's3cr3t', rows: 3 }],
    });
    expect(redacted).toEqual({
      key: 'vendors/acme/a.csv',
      url: `https://storage.googleapis.com/bucket/vendors/acme/a.csv?${REDACTED}`,
      headers: { Authorization: REDACTED, 'x-amz-security-token': REDACTED, accept: 'text/csv' },
      error: `PUT https://storage.googleapis.com/bucket/vendors/acme/a.csv?${REDACTED} failed: header Authorization: Bearer ${REDACTED} refused`,
      nested: [{ signingSecret: REDACTED, rows: 3 }],
    });
  });

  it('applies in both loggers, messages included', () => {
    for (const make of [
      (write: (line: string) => void) => createJsonLogger(write),
      (write: (line: string) => void) => createPinoLogger({ level: 'info', destination: { write } }),
    ]) {
      const lines: string[] = [];
      make((line) => lines.push(line)).warn(`upload to ${SIGNED} failed`, { authorization: 'Bearer t0k3n' });
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain('5f2a9c0e');
      expect(lines[0]).not.toContain('t0k3n');
      expect(JSON.parse(lines[0]!)).toMatchObject({ severity: 'WARNING', authorization: REDACTED });
    }
  });
});

describe('levels', () => {
  it('reads LOG_LEVEL, info when unset, and refuses an unknown level naming the variable', () => {
    expect(logLevelOf(undefined)).toBe('info');
    expect(logLevelOf('WARN')).toBe('warn');
    expect(() => logLevelOf('verbose')).toThrow(/LOG_LEVEL is "verbose"; it must be one of debug, info/);
  });

  it('drops lines below the level, on pino and on the dependency-free logger', () => {
    for (const make of [
      (write: (line: string) => void) => createJsonLogger(write, 'warn'),
      (write: (line: string) => void) => createPinoLogger({ level: 'warn', destination: { write } }),
    ]) {
      const lines: string[] = [];
      const logger = make((line) => lines.push(line));
      logger.info('hidden');
      logger.warn('shown');
      logger.error('shown too', { code: 'X' });
      expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual([
        'shown',
        'shown too',
      ]);
    }
  });

  it('drops debug lines at info (the default), and writes them redacted at debug', () => {
    for (const make of [
      (write: (line: string) => void, level: 'info' | 'debug') => createJsonLogger(write, level),
      (write: (line: string) => void, level: 'info' | 'debug') =>
        createPinoLogger({ level, destination: { write } }),
    ]) {
      for (const level of ['info', 'debug'] as const) {
        const lines: string[] = [];
        const logger = make((line) => lines.push(line), level);
        logger.debug(`listing ${SIGNED}`, { token: 'admin-token-123', header: 'Bearer t0k3n' });
        logger.info('shown');
        const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        if (level === 'info') {
          expect(parsed.map((line) => line.message)).toEqual(['shown']);
          continue;
        }
        expect(parsed.map((line) => line.severity)).toEqual(['DEBUG', 'INFO']);
        expect(parsed[0]).toMatchObject({ token: REDACTED, header: `Bearer ${REDACTED}` });
        for (const secret of ['5f2a9c0e', 'admin-token-123', 't0k3n']) expect(lines[0]).not.toContain(secret);
      }
    }
  });
});
