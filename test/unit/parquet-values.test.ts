/** Parquet timestamps and dates render exactly, at every unit, across the whole RFC 3339 year range. */
import { describe, expect, test } from 'vitest';
import { converterFor, parsers, temporalFormat } from '../../workers/parquet/parquet-values.js';

const MIN_SECOND = Date.UTC(1, 0, 1) / 1000;
const MAX_SECOND = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;

function expected(seconds: number, fraction: string): string {
  const date = new Date(0);
  date.setTime(seconds * 1000);
  return `${date.toISOString().slice(0, 19)}.${fraction}Z`;
}

describe('parquet timestamps', () => {
  test('match Date at millisecond, microsecond and nanosecond units over 100k instants', () => {
    let state = 12345;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
    const instants = [MIN_SECOND, MAX_SECOND, -1, 0, 1, 951782400, 1709164800, 4107542400];
    for (let index = 0; index < 100_000; index++) {
      instants.push(MIN_SECOND + Math.floor((next() / 2147483648) * (MAX_SECOND - MIN_SECOND)));
    }
    for (const seconds of instants) {
      const fraction = next() % 1_000_000_000;
      const nanos = String(fraction).padStart(9, '0');
      const whole = BigInt(seconds);
      expect(parsers.timestampFromMilliseconds!(whole * 1000n + BigInt(Math.floor(fraction / 1e6)))).toBe(
        expected(seconds, nanos.slice(0, 3)),
      );
      expect(
        parsers.timestampFromMicroseconds!(whole * 1_000_000n + BigInt(Math.floor(fraction / 1e3))),
      ).toBe(expected(seconds, nanos.slice(0, 6)));
      expect(parsers.timestampFromNanoseconds!(whole * 1_000_000_000n + BigInt(fraction))).toBe(
        expected(seconds, nanos),
      );
    }
  });

  test('dates before the epoch and leap days', () => {
    expect(parsers.dateFromDays!(-1)).toBe('1969-12-31');
    expect(parsers.dateFromDays!(19782)).toBe('2024-02-29');
    expect(parsers.timestampFromMicroseconds!(-1n)).toBe('1969-12-31T23:59:59.999999Z');
  });
});

describe('parquet timestamp columns', () => {
  const micros = temporalFormat({ name: 'at', converted_type: 'TIMESTAMP_MICROS' })!;
  const nanos = temporalFormat({
    name: 'at',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' },
  })!;

  test('render a number (an INT64 read as one) as they render its bigint', () => {
    for (const value of [0, -1, 1, 1_700_000_000_123_456, -62_135_596_800_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(micros(value)).toBe(micros(BigInt(value)));
      expect(nanos(value)).toBe(nanos(BigInt(value)));
    }
  });

  test('match Date over a week of consecutive seconds and back and forth across days', () => {
    const start = Date.UTC(2024, 1, 26) / 1000;
    const seconds = Array.from({ length: 7 * 86_400 }, (_, index) => start + index);
    // Days interleaved: each value's day differs from the one before.
    seconds.push(...seconds.slice(0, 2000).flatMap((second) => [second, second + 3 * 86_400 + 1]));
    for (const second of seconds) {
      expect(micros(second * 1_000_000 + 7)).toBe(
        `${new Date(second * 1000).toISOString().slice(0, 19)}.000007Z`,
      );
    }
  });
});

describe('parquet DECIMAL columns', () => {
  test('render a number (an INT32, or an INT64 read as one) as they render its bigint', () => {
    let state = 20261202;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const values = [0, 1, -1, 5, -5, 9, 10, 99, 100, 101, 999, 1000, -1000, 2147483647, -2147483648];
    values.push(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER);
    for (let index = 0; index < 20_000; index++) {
      values.push(Math.round((next() - 0.5) * 10 ** Math.floor(next() * 16)));
    }
    for (const scale of [0, 1, 2, 3, 4, 6]) {
      const element = {
        name: 'amount',
        type: 'INT64',
        converted_type: 'DECIMAL',
        scale,
        precision: 18,
      } as const;
      const convert = converterFor({ element, children: [], count: 1, path: ['amount'] }, { type: 'string' });
      const noIssues = () => expect.unreachable();
      for (const value of values) expect(convert(value, noIssues)).toBe(convert(BigInt(value), noIssues));
    }
  });
});

describe('dates and timestamps outside RFC 3339 years', () => {
  const DAY = 86_400_000;

  test('are written as Date writes them (expanded years), whole, as far as Date reaches', () => {
    for (const days of [Date.UTC(10000, 0, 1) / DAY, Date.UTC(-1, 11, 31) / DAY, 1e8, -1e8 + 1]) {
      expect(parsers.dateFromDays!(days)).toBe(new Date(days * DAY).toISOString().slice(0, -14));
    }
    expect(parsers.dateFromDays!(Date.UTC(10000, 0, 1) / DAY)).toBe('+010000-01-01');
  });

  test('past the years Date reaches (DuckDB writes dates up to year 5881580) are written, not thrown at', () => {
    // A day counted as an INT32: 2^31 - 1 days is 5881580-07-11, the last DuckDB's DATE holds.
    expect(parsers.dateFromDays!(2 ** 31 - 1)).toBe('+5881580-07-11');
    expect(parsers.dateFromDays!(-(2 ** 31))).toBe('-5877641-06-23');
    expect(parsers.timestampFromMilliseconds!(2n ** 63n - 1n)).toBe('+292278994-08-17T07:12:55.807Z');
    expect(parsers.timestampFromMicroseconds!(-(2n ** 63n))).toBe('-290308-12-21T19:59:05.224192Z');
  });
});
