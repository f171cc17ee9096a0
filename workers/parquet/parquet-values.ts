/**
 * Parquet values to JSON, faithfully:
 * - INT64 stays a number within +/-(2^53 - 1) and becomes its exact decimal string beyond;
 * - DECIMAL(p, s) is its exact decimal string with s fraction digits ("5.00"), or a number when the
 *   dataset's schema types the column as number or integer and not string;
 * - DATE is "YYYY-MM-DD"; TIMESTAMP is RFC 3339 UTC with the unit's digits (".123", ".123456",
 *   ".123456789"); naive timestamps are rendered as UTC too; TIME is "HH:MM:SS" and the unit's digits;
 * - ENUM is its string;
 * - binary (unannotated BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY) is base64; LIST is an array, STRUCT and MAP
 *   are objects, recursively; a repeated field without a LIST annotation is an array too, `[]` when
 *   empty; null is null, and a null column is a present key;
 * - NaN and infinities, which JSON cannot carry, reject the row.
 */
import type { ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet';
import { typesOf, type PropertySchema } from '../../schemas/dataset.js';
import type { FieldIssue } from '../../schemas/row-validator.js';

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** Timestamps and dates straight to strings, keeping every digit hyparquet would drop with a Date. */
export const parsers: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (value: bigint) => timestamp(value, 1_000n, 3),
  timestampFromMicroseconds: (value: bigint) => timestamp(value, 1_000_000n, 6),
  timestampFromNanoseconds: (value: bigint) => timestamp(value, 1_000_000_000n, 9),
  dateFromDays: (days: number) => date(days),
};

/** Dates made, by day number: a column holds few distinct dates, and making each took 5% of the bench. */
const dates = new Map<number, string>();

function date(days: number): string {
  let text = dates.get(days);
  if (text === undefined) {
    if (dates.size >= 4096) dates.clear();
    text = civilDate(days);
    dates.set(days, text);
  }
  return text;
}

let lastSecond = Number.NaN;
let lastPrefix = '';

/**
 * A timestamp of `value` units (`perSecond` of them a second) as RFC 3339 UTC with `digits` fraction
 * digits. `value` is a number when the row source read it as one (exact: within +/-(2^53 - 1)).
 */
function timestamp(value: bigint | number, perSecond: bigint, digits: number): string {
  let seconds: number;
  let fraction: number | string;
  if (typeof value === 'number' || (value <= MAX_EXACT && value >= -MAX_EXACT)) {
    // Exact in float64: skip BigInt arithmetic, the common case for millisecond and microsecond units.
    const count = Number(value);
    const unit = Number(perSecond);
    seconds = Math.floor(count / unit);
    fraction = count - seconds * unit;
  } else {
    let whole = value / perSecond;
    let rest = value % perSecond;
    if (rest < 0n) {
      rest += perSecond;
      whole -= 1n;
    }
    fraction = rest.toString().padStart(digits, '0');
    // Past 2^53 seconds (some 285 million years) a float64 no longer holds every second: days do.
    if (whole > MAX_EXACT || whole < -MAX_EXACT) {
      let days = whole / 86_400n;
      let ofDay = whole % 86_400n;
      if (ofDay < 0n) {
        ofDay += 86_400n;
        days -= 1n;
      }
      return `${civilDate(Number(days))}T${clockTime(Number(ofDay))}.${fraction}Z`;
    }
    seconds = Number(whole);
  }
  if (seconds !== lastSecond) {
    lastSecond = seconds;
    lastPrefix = civilTime(seconds);
  }
  return `${lastPrefix}.${fraction === 0 ? ZEROS[digits] : String(fraction).padStart(digits, '0')}Z`;
}

/** `ZEROS[n]` is n zeros: the fraction of most timestamps a warehouse unloads. */
const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000', '00000000', '000000000'];

let lastDay = Number.NaN;
let lastDayPrefix = '';

/**
 * `YYYY-MM-DDTHH:MM:SS` of Unix seconds. The date part is made once per day (rows of a file often share
 * days).
 */
function civilTime(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  if (days !== lastDay) {
    lastDay = days;
    lastDayPrefix = `${civilDate(days)}T`;
  }
  return `${lastDayPrefix}${clockTime(seconds - days * 86_400)}`;
}

/** `HH:MM:SS` of a second of the day. */
function clockTime(ofDay: number): string {
  return `${two(Math.floor(ofDay / 3600))}:${two(Math.floor((ofDay % 3600) / 60))}:${two(ofDay % 60)}`;
}

/**
 * `YYYY-MM-DD` of a day number (days since 1970-01-01), by integer arithmetic (Hinnant's days-to-civil
 * algorithm). Years outside 0-9999 take ISO 8601's expanded form (`+010000-01-01`), as Date writes them,
 * for any year: Parquet's INT32 days and INT64 timestamps reach millions of years, past Date's range.
 */
function civilDate(days: number): string {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText =
    year >= 0 && year <= 9999
      ? String(year).padStart(4, '0')
      : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${yearText}-${two(month)}-${two(day)}`;
}

function two(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

export function isDecimal(element: SchemaElement): boolean {
  return element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL';
}

/**
 * The formatter of a DATE or TIMESTAMP column's raw values (days as a number, units as a bigint), or
 * undefined for other columns. These columns are read raw (see the row source's `withRawValues`) and
 * formatted a row at a time: a row group of timestamps held as strings took 33 MB per 100k values,
 * held raw 0.8 MB.
 */
export function temporalFormat(element: SchemaElement): ((value: unknown) => string) | undefined {
  const logical = element.logical_type as { type?: string; unit?: string } | undefined;
  if (element.converted_type === 'DATE' || logical?.type === 'DATE') {
    return (value) => parsers.dateFromDays!(Number(value));
  }
  const unit =
    element.converted_type === 'TIMESTAMP_MILLIS'
      ? 'MILLIS'
      : element.converted_type === 'TIMESTAMP_MICROS'
        ? 'MICROS'
        : logical?.type === 'TIMESTAMP'
          ? logical.unit
          : undefined;
  if (unit === undefined) return undefined;
  const perSecond = unit === 'MILLIS' ? 1_000n : unit === 'NANOS' ? 1_000_000_000n : 1_000_000n;
  const digits = unit === 'MILLIS' ? 3 : unit === 'NANOS' ? 9 : 6;
  return (value) => timestamp(typeof value === 'number' ? value : BigInt(value as bigint), perSecond, digits);
}

/** Converts one value of a column; issues go to `report` with the field's dotted path. */
export type ValueConverter = (value: unknown, report: (issue: FieldIssue) => void) => unknown;

/** Builds the converter for a top-level column from its schema node and the dataset's property. */
export function converterFor(node: SchemaTree, property: PropertySchema | undefined): ValueConverter {
  const types = typesOf(property);
  const holdsString = types.length === 0 || types.includes('string');
  const wantsNumber = types.includes('number') || types.includes('integer');
  return build(node, node.element.name, !holdsString && wantsNumber, holdsString);
}

/**
 * `asItem`: `node` is a list's item, converted one value at a time, even when it is the repeated field
 * itself (a two-level list).
 */
function build(
  node: SchemaTree,
  path: string,
  decimalAsNumber: boolean,
  holdsString = true,
  asItem = false,
): ValueConverter {
  const { element } = node;
  // hyparquet builds fresh arrays and objects for every row, so they are converted in place.
  if (isList(node)) {
    const repeated = node.children[0]!;
    const item = repeated.children.length === 1 ? repeated.children[0]! : repeated;
    const convertItem = build(item, `${path}[]`, false, true, item === repeated);
    return (value, report) => {
      if (!Array.isArray(value)) return null;
      for (let index = 0; index < value.length; index++) value[index] = convertItem(value[index], report);
      return value;
    };
  }
  if (!asItem && element.repetition_type === 'REPEATED') {
    // A repeated field without a LIST annotation (parquetjs-lite and other older writers write them) is,
    // by the Parquet spec's backward-compatibility rules, a required list of its values: never null, and
    // hyparquet gives null for an empty repeated primitive.
    const convertItem = build(node, `${path}[]`, false, true, true);
    return (value, report) => {
      if (!Array.isArray(value)) return [];
      for (let index = 0; index < value.length; index++) value[index] = convertItem(value[index], report);
      return value;
    };
  }
  if (isMap(node)) {
    const valueNode = node.children[0]!.children.find((child) => child.element.name === 'value')!;
    const convertEntry = build(valueNode, `${path}{}`, false);
    return (value, report) => {
      if (value === null || value === undefined) return null;
      const map = value as Record<string, unknown>;
      for (const key of Object.keys(map)) map[key] = convertEntry(map[key], report);
      return map;
    };
  }
  if (node.children.length > 0) {
    const fields = node.children.map((child) => ({
      name: child.element.name,
      convert: build(child, `${path}.${child.element.name}`, false),
    }));
    return (value, report) => {
      if (value === null || value === undefined) return null;
      const struct = value as Record<string, unknown>;
      for (const field of fields) struct[field.name] = field.convert(struct[field.name], report);
      return struct;
    };
  }
  if (isDecimal(element)) {
    const scale = element.scale ?? 0;
    return (value) => {
      if (value === null || value === undefined) return null;
      const text = decimalText(unscaled(value), scale);
      return decimalAsNumber ? Number(text) : text;
    };
  }
  if (element.converted_type === 'ENUM' || element.logical_type?.type === 'ENUM') {
    const decoder = new TextDecoder();
    return (value) => (value instanceof Uint8Array ? decoder.decode(value) : (value ?? null));
  }
  const temporal = temporalFormat(element);
  if (temporal) return (value) => (value === null || value === undefined ? null : temporal(value));
  const timeDigits = timeOfDayDigits(element);
  if (timeDigits !== undefined) {
    return (value) =>
      value === null || value === undefined ? null : timeOfDay(BigInt(value as number), timeDigits);
  }
  return (value, report) => primitive(value, path, holdsString, report);
}

/** Fraction digits of a TIME column (3, 6 or 9), or undefined for other columns. */
function timeOfDayDigits(element: SchemaElement): number | undefined {
  if (element.converted_type === 'TIME_MILLIS') return 3;
  if (element.converted_type === 'TIME_MICROS') return 6;
  if (element.logical_type?.type !== 'TIME') return undefined;
  const unit = (element.logical_type as { unit?: string }).unit;
  return unit === 'MILLIS' ? 3 : unit === 'NANOS' ? 9 : 6;
}

/** `HH:MM:SS.fraction` of a time of day counted in units of 10^-digits seconds. */
function timeOfDay(value: bigint, digits: number): string {
  const perSecond = 10n ** BigInt(digits);
  const seconds = Number(value / perSecond);
  const fraction = (value % perSecond).toString().padStart(digits, '0');
  return `${two(Math.floor(seconds / 3600))}:${two(Math.floor((seconds % 3600) / 60))}:${two(seconds % 60)}.${fraction}`;
}

function primitive(
  value: unknown,
  path: string,
  holdsString: boolean,
  report: (issue: FieldIssue) => void,
): unknown {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'bigint':
      if (value <= MAX_EXACT && value >= -MAX_EXACT) return Number(value);
      if (!holdsString) {
        report({
          field: path,
          reason: `integer ${value} is outside the exact range of +/-2^53; type the column as string to keep it exact`,
        });
      }
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) report({ field: path, reason: `${value} cannot be represented in JSON` });
      return value;
    case 'object':
      return value instanceof Uint8Array ? base64(value) : value;
    default:
      return value;
  }
}

/**
 * The unscaled integer of a DECIMAL stored as INT32, INT64 or big-endian two's complement bytes; a
 * number when it came as one (INT32, or INT64 the row source read as an exact number).
 */
function unscaled(value: unknown): bigint | number {
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  const bytes = value as Uint8Array;
  let result = 0n;
  for (const byte of bytes) result = (result << 8n) | BigInt(byte);
  if (bytes.length > 0 && bytes[0]! & 0x80) result -= 1n << BigInt(bytes.length * 8);
  return result;
}

function decimalText(value: bigint | number, scale: number): string {
  if (typeof value === 'number' && scale <= 3) return smallScaleText(value, scale);
  const negative = value < 0;
  const digits = String(negative ? -value : value).padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** `FRACTIONS[scale][n]`: n with `scale` digits ("05"), for the scales of most prices and amounts. */
const FRACTIONS = [1, 10, 100, 1000].map((count, scale) =>
  Array.from({ length: count }, (_, fraction) => `.${String(fraction).padStart(scale, '0')}`),
);

/** decimalText of a safe integer at scale 0 to 3, with fewer intermediate strings. */
function smallScaleText(value: number, scale: number): string {
  if (scale === 0) return String(value);
  const magnitude = value < 0 ? -value : value;
  const unit = scale === 1 ? 10 : scale === 2 ? 100 : 1000;
  // Exact: `%` of integers is, and the difference is a multiple of `unit` below 2^53.
  const fraction = magnitude % unit;
  const text = `${(magnitude - fraction) / unit}${FRACTIONS[scale]![fraction]!}`;
  return value < 0 ? `-${text}` : text;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let index = 0; index < bytes.length; index += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  }
  return btoa(binary);
}

/** hyparquet's own test for list-like columns (three-level LIST). */
function isList(node: SchemaTree): boolean {
  const child = node.children[0];
  return (
    node.element.converted_type === 'LIST' &&
    node.children.length === 1 &&
    child!.children.length <= 1 &&
    child!.element.repetition_type === 'REPEATED'
  );
}

/** hyparquet's own test for map-like columns (MAP with a repeated key/value group). */
function isMap(node: SchemaTree): boolean {
  const child = node.children[0];
  return (
    node.element.converted_type === 'MAP' &&
    node.children.length === 1 &&
    child!.children.length === 2 &&
    child!.element.repetition_type === 'REPEATED'
  );
}
