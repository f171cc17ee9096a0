/**
 * Turns CSV cells (always text) into the JSON types a dataset's schema declares, column by column.
 *
 * - integer: optional sign and digits (`1.0` allowed), within +/-2^53; number: decimal or exponent form;
 *   boolean: true/false, t/f, yes/no, y/n, 1/0 (any case). Surrounding spaces are ignored for all three.
 * - string (and untyped columns): the cell exactly as written.
 * - An empty cell is null where the schema allows null, "" for a plain string, left out when the column
 *   is optional, and a rejection when it is required.
 */
import { typesOf, type PropertySchema } from '../../schemas/dataset.js';

/** A cell that cannot become its column's type; allocated only for bad cells. */
export class InvalidCell {
  constructor(readonly reason: string) {}
}

/** Marks a cell whose property is left out of the row. */
export const OMIT: unique symbol = Symbol('omit');

export type CellCoercer = (cell: string) => unknown;

const INTEGER = /^\s*[+-]?\d+(?:\.0*)?\s*$/;
const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

export function coercerFor(property: PropertySchema | undefined, required: boolean): CellCoercer {
  const types = typesOf(property);
  const nullable = types.includes('null');
  const convert = converterFor(types);
  const acceptsString = types.length === 0 || types.includes('string');
  const onEmpty: unknown = nullable
    ? null
    : acceptsString
      ? ''
      : required
        ? new InvalidCell('required value is empty')
        : OMIT;
  return (cell) => (cell === '' ? onEmpty : convert(cell));
}

function converterFor(types: string[]): CellCoercer {
  const attempts: CellCoercer[] = [];
  // Every integer is a number: a column that allows numbers reads fractions too.
  if (types.includes('number')) attempts.push(toNumber);
  else if (types.includes('integer')) attempts.push(toInteger);
  if (types.includes('boolean')) attempts.push(toBoolean);
  if (attempts.length === 0 || types.includes('string'))
    return attempts.length === 0 ? identity : firstOf(attempts, true);
  return firstOf(attempts, false);
}

function firstOf(attempts: CellCoercer[], fallBackToString: boolean): CellCoercer {
  if (attempts.length === 1 && !fallBackToString) return attempts[0]!;
  return (cell) => {
    let failure: unknown;
    for (const attempt of attempts) {
      const value = attempt(cell);
      if (!(value instanceof InvalidCell)) return value;
      failure ??= value;
    }
    return fallBackToString ? cell : failure;
  };
}

const identity: CellCoercer = (cell) => cell;

function toInteger(cell: string): unknown {
  if (!INTEGER.test(cell)) return new InvalidCell(`expected an integer, got ${quote(cell)}`);
  const value = Number(cell);
  return Number.isSafeInteger(value)
    ? value
    : new InvalidCell(`integer ${cell.trim()} is outside the exact range of +/-2^53`);
}

function toNumber(cell: string): unknown {
  if (!NUMBER.test(cell)) return new InvalidCell(`expected a number, got ${quote(cell)}`);
  const value = Number(cell);
  return Number.isFinite(value) ? value : new InvalidCell(`number ${cell.trim()} is out of range`);
}

function toBoolean(cell: string): unknown {
  const word = cell.trim().toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  return new InvalidCell(`expected a boolean (true/false, yes/no, 1/0), got ${quote(cell)}`);
}

function quote(cell: string): string {
  return JSON.stringify(cell.length > 40 ? `${cell.slice(0, 40)}...` : cell);
}
