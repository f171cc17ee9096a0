/** The error model: retryability follows from the code (one table), and every code has one HTTP status. */
import { describe, expect, it } from 'vitest';
import {
  DropgateError,
  ERROR_CODES,
  asDropgateError,
  isRetryable,
  isRetryableCode,
  type ErrorCode,
} from '../../adapters/errors.js';
import { codeToStatus } from '../../app/http-errors.js';

/** What a retry can fix, written out again so a change to the table is a change to this test too. */
const RETRYABLE_CODES: ErrorCode[] = [
  'OBJECT_READ_FAILED',
  'PUBLISH_FAILED',
  'SHUTTING_DOWN',
  'OUT_OF_MEMORY',
  'INTERNAL',
];

describe('error codes', () => {
  it.each(ERROR_CODES)('%s is retryable exactly when the table says so', (code) => {
    const expected = RETRYABLE_CODES.includes(code);
    expect(isRetryableCode(code)).toBe(expected);
    expect(new DropgateError(code, 'm').retryable).toBe(expected);
    expect(isRetryable(new DropgateError(code, 'm'))).toBe(expected);
  });

  it('lists every code once, each retryable one among them', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES).toEqual(expect.arrayContaining(RETRYABLE_CODES));
  });

  it('tells a sink that did not take events from one that refused them for good', () => {
    expect(new DropgateError('PUBLISH_FAILED', 'outage').retryable).toBe(true);
    expect(new DropgateError('PUBLISH_REFUSED', 'too large').retryable).toBe(false);
  });

  it('counts anything but a DropgateError as an unexpected, retryable fault', () => {
    expect(isRetryable(new TypeError('x is undefined'))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
    const wrapped = asDropgateError(new TypeError('x is undefined'));
    expect(wrapped).toMatchObject({ code: 'INTERNAL', message: 'x is undefined', retryable: true });
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    const own = new DropgateError('FILE_UNREADABLE', 'bad');
    expect(asDropgateError(own)).toBe(own);
  });

  it.each(ERROR_CODES)('%s has an HTTP status, a 5xx when a retry can help', (code) => {
    const status = codeToStatus(code);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    if (isRetryableCode(code)) expect(status).toBeGreaterThanOrEqual(500);
  });
});
