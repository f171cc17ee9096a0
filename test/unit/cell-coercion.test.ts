/** How one CSV cell becomes the JSON value its column's schema declares, or a reason it cannot. */
import { describe, expect, it } from 'vitest';
import { coercerFor, InvalidCell, OMIT } from '../../workers/csv/cell-coercion.js';
import type { PropertySchema } from '../../schemas/dataset.js';

const coerce = (property: PropertySchema | undefined, cell: string, required = true) =>
  coercerFor(property, required)(cell);

const reasonOf = (value: unknown) =>
  value instanceof InvalidCell ? value.reason : `not rejected: ${String(value)}`;

describe('integer cells', () => {
  const integer = { type: 'integer' };

  it.each([
    ['42', 42],
    ['+7', 7],
    ['-7', -7],
    [' 12 ', 12],
    ['4.0', 4],
    ['4.', 4],
    ['007', 7],
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
  ])('reads %j as %d', (cell, value) => {
    expect(coerce(integer, cell)).toBe(value);
  });

  it.each(['1.5', '1e3', '0x10', '1_000', '1 000', 'one', '+', '-'])('rejects %j', (cell) => {
    expect(reasonOf(coerce(integer, cell))).toBe(`expected an integer, got ${JSON.stringify(cell)}`);
  });

  it.each(['9007199254740992', '9007199254740993', '-9007199254740993', '123456789012345678901234567890'])(
    'rejects %s, which a double cannot hold exactly',
    (cell) => {
      expect(reasonOf(coerce(integer, cell))).toContain('outside the exact range');
    },
  );

  it('shortens a long bad cell in the reason', () => {
    const reason = reasonOf(coerce(integer, 'x'.repeat(500)));
    expect(reason.length).toBeLessThan(100);
    expect(reason).toContain('...');
  });
});

describe('number cells', () => {
  const number = { type: 'number' };

  it.each([
    ['0', 0],
    ['12.50', 12.5],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['5.', 5],
    ['1e2', 100],
    ['1.25E-1', 0.125],
    [' 7.5 ', 7.5],
  ])('reads %j as %d', (cell, value) => {
    expect(coerce(number, cell)).toBe(value);
  });

  it.each(['1,5', 'abc', '.', '1e', 'NaN', 'Infinity', '-Infinity', '0x1F', '1 000', '€5'])(
    'rejects %j',
    (cell) => {
      expect(reasonOf(coerce(number, cell))).toBe(`expected a number, got ${JSON.stringify(cell)}`);
    },
  );

  it('rejects a number too large for a double', () => {
    expect(reasonOf(coerce(number, '1e400'))).toBe('number 1e400 is out of range');
  });

  it('reads a fraction when the column allows integers or numbers', () => {
    expect(coerce({ type: ['integer', 'number'] }, '1.5')).toBe(1.5);
    expect(coerce({ type: ['number', 'integer'] }, '2')).toBe(2);
  });
});

describe('boolean cells', () => {
  const boolean = { type: 'boolean' };

  it.each(['true', 'TRUE', 'True', 't', 'T', 'yes', 'YES', 'y', 'Y', '1', ' true '])(
    'reads %j as true',
    (cell) => {
      expect(coerce(boolean, cell)).toBe(true);
    },
  );

  it.each(['false', 'FALSE', 'f', 'F', 'no', 'No', 'n', 'N', '0', ' no '])('reads %j as false', (cell) => {
    expect(coerce(boolean, cell)).toBe(false);
  });

  it.each(['maybe', '2', 'on', 'off', 'truee'])('rejects %j', (cell) => {
    expect(reasonOf(coerce(boolean, cell))).toContain(`got ${JSON.stringify(cell)}`);
  });
});

describe('string and untyped cells', () => {
  it('keeps a string cell exactly as written, spaces included', () => {
    expect(coerce({ type: 'string' }, '  padded  ')).toBe('  padded  ');
    expect(coerce({ type: 'string', format: 'date' }, '2024-02-30')).toBe('2024-02-30');
  });

  it('keeps cells of columns the schema does not type, or does not know, as text', () => {
    expect(coerce({}, '007')).toBe('007');
    expect(coerce(undefined, 'true')).toBe('true');
  });

  it('tries the typed reading first and falls back to the text when the column also allows strings', () => {
    const integerOrString = { type: ['integer', 'string'] };
    expect(coerce(integerOrString, '12')).toBe(12);
    expect(coerce(integerOrString, 'twelve')).toBe('twelve');
    const booleanOrString = { type: ['boolean', 'string'] };
    expect(coerce(booleanOrString, 'yes')).toBe(true);
    expect(coerce(booleanOrString, 'perhaps')).toBe('perhaps');
  });

  it('reads a number-or-boolean column as a number first, then as a boolean', () => {
    const numberOrBoolean = { type: ['number', 'boolean'] };
    expect(coerce(numberOrBoolean, '1')).toBe(1);
    expect(coerce(numberOrBoolean, 'yes')).toBe(true);
    expect(coerce(numberOrBoolean, 'lots')).toBeInstanceOf(InvalidCell);
  });
});

describe('empty cells', () => {
  it('are null where the schema allows null, whatever else it allows', () => {
    for (const type of [
      ['integer', 'null'],
      ['boolean', 'null'],
      ['string', 'null'],
      ['null', 'number'],
    ]) {
      expect(coerce({ type }, '', true)).toBeNull();
      expect(coerce({ type }, '', false)).toBeNull();
    }
  });

  it('are "" for a plain string column, required or not', () => {
    expect(coerce({ type: 'string' }, '', true)).toBe('');
    expect(coerce({ type: 'string' }, '', false)).toBe('');
    expect(coerce(undefined, '', false)).toBe('');
  });

  it('are left out of the row for an optional column that cannot hold text or null', () => {
    expect(coerce({ type: 'integer' }, '', false)).toBe(OMIT);
    expect(coerce({ type: 'boolean' }, '', false)).toBe(OMIT);
  });

  it('reject a required column that cannot hold text or null', () => {
    expect(reasonOf(coerce({ type: 'integer' }, '', true))).toBe('required value is empty');
    expect(reasonOf(coerce({ type: 'number' }, '', true))).toBe('required value is empty');
    expect(reasonOf(coerce({ type: 'boolean' }, '', true))).toBe('required value is empty');
  });
});
