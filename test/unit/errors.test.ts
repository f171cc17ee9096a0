/** The error model: retryability follows from the code (one table), and every code has one HTTP status. */
import { describe, expect, it } from 'vitest';
import {
  DropgateError,
  ERROR_CODES,
  asDropgateError,
  deserializeError,
  isRetryable,
  isRetryableCode,
  serializeError,
  type ErrorCode,
} from '../../adapters/errors.js';
import { codeToStatus } from '../../app/http-errors.js';

/** What a retry can fix, written out again so a change to the table is a change to this test too. */
const RETRYABLE_CODES: ErrorCode[] = [
  'OBJECT_READ_FAILED',
  'PUBLISH_FAILED',
  'SHUTTING_DOWN',
  'TIME_BUDGET_SPENT',
  'RETRY_LATER',
  'LEDGER_UNAVAILABLE',
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

describe('errors between threads', () => {
  /** What postMessage does to a message: a structured clone. */
  const acrossThreads = (error: unknown) => deserializeError(structuredClone(serializeError(error)));

  it.each(ERROR_CODES)('%s keeps its code, message, context and retryability', (code) => {
    const original = new DropgateError(code, `a ${code} fault`, {
      context: { line: 4182, field: 'unit_price', columns: ['a', 'b'] },
    });
    const copy = acrossThreads(original);
    expect(copy).toBeInstanceOf(DropgateError);
    expect(copy).toMatchObject({
      code,
      message: `a ${code} fault`,
      retryable: original.retryable,
      context: { line: 4182, field: 'unit_price', columns: ['a', 'b'] },
    });
  });

  it('survives JSON as well', () => {
    const original = new DropgateError('FILE_UNREADABLE', 'unterminated quote', { context: { line: 7 } });
    const copy = deserializeError(JSON.parse(JSON.stringify(serializeError(original))));
    expect(copy).toMatchObject({ code: 'FILE_UNREADABLE', retryable: false, context: { line: 7 } });
  });

  it('carries an error of no known kind as a retryable INTERNAL fault with its message', () => {
    expect(acrossThreads(new RangeError('offset out of bounds'))).toMatchObject({
      code: 'INTERNAL',
      message: 'offset out of bounds',
      retryable: true,
    });
  });

  it('carries a context a structured clone could not copy, with the uncopyable values as text', () => {
    const original = new DropgateError('INTERNAL', 'm', { context: { line: 3, render: () => 'x' } });
    const serialized = serializeError(original);
    expect(() => structuredClone(serialized)).not.toThrow();
    expect(acrossThreads(original).context).toEqual({ line: 3, render: expect.stringContaining('=>') });
  });

  it('reads a code it does not know as INTERNAL, keeping that code in the context', () => {
    const copy = deserializeError({
      code: 'FROM_THE_FUTURE' as ErrorCode,
      message: 'm',
      context: { line: 2 },
    });
    expect(copy).toMatchObject({ code: 'INTERNAL', context: { line: 2, code: 'FROM_THE_FUTURE' } });
  });
});
