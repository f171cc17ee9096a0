/**
 * JSON Schema `date` and `date-time` checks that accept exactly what ajv-formats' full mode accepts
 * (RFC 3339, real calendar days, leap seconds only at 23:59 UTC, time zone required on date-time) but
 * read characters instead of running regexes: ajv-formats spends ~560 ns a row on these two formats,
 * these ~40 ns. A differential test holds them to ajv-formats' answers.
 */
import type { Format, FormatDefinition } from 'ajv';
import { fullFormats } from 'ajv-formats/dist/formats.js';

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const WHITESPACE = /\s/;

export function isDate(text: string): boolean {
  return text.length === 10 && dateAt(text);
}

export function isDateTime(text: string): boolean {
  if (text.length < 19) return false;
  const separator = text.charCodeAt(10);
  const isSeparator = separator === 84 || separator === 116 || WHITESPACE.test(text[10]!);
  return isSeparator && dateAt(text) && timeAt(text, 11);
}

/** The formats the row validator uses: ajv-formats' full set with the two fast checks in place. */
export const formats: Record<string, Format> = {
  ...fullFormats,
  date: { ...(fullFormats.date as FormatDefinition<string>), validate: isDate },
  'date-time': { ...(fullFormats['date-time'] as FormatDefinition<string>), validate: isDateTime },
};

function isDigitAt(text: string, at: number): boolean {
  const code = text.charCodeAt(at);
  return code >= 48 && code <= 57;
}

/** The two-digit number at `at`, or -1 unless both characters are ASCII digits. */
function pair(text: string, at: number): number {
  return isDigitAt(text, at) && isDigitAt(text, at + 1)
    ? (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48
    : -1;
}

function dateAt(text: string): boolean {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return false;
  const century = pair(text, 0);
  const yearOfCentury = pair(text, 2);
  const month = pair(text, 5);
  const day = pair(text, 8);
  if (century < 0 || yearOfCentury < 0 || month < 1 || month > 12 || day < 1) return false;
  const year = century * 100 + yearOfCentury;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS[month]!);
}

/** HH:MM:SS[.fraction](Z | +HH[[:]MM] | -HH[[:]MM]) from `at` to the end. */
function timeAt(text: string, at: number): boolean {
  const hour = pair(text, at);
  const minute = pair(text, at + 3);
  const wholeSecond = pair(text, at + 6);
  if (text.charCodeAt(at + 2) !== 58 || text.charCodeAt(at + 5) !== 58) return false;
  if (hour < 0 || minute < 0 || wholeSecond < 0) return false;
  let index = at + 8;
  let fraction = false;
  if (text.charCodeAt(index) === 46) {
    const start = ++index;
    while (isDigitAt(text, index)) index++;
    if (index === start) return false;
    fraction = index > start;
  }
  const zone = text.charCodeAt(index);
  let zoneHour = 0;
  let zoneMinute = 0;
  let sign = 1;
  if (zone === 90 || zone === 122) {
    index++;
  } else if (zone === 43 || zone === 45) {
    sign = zone === 45 ? -1 : 1;
    zoneHour = pair(text, index + 1);
    if (zoneHour < 0) return false;
    index += 3;
    if (index < text.length) {
      if (text.charCodeAt(index) === 58) index++;
      zoneMinute = pair(text, index);
      if (zoneMinute < 0) return false;
      index += 2;
    }
  } else {
    return false;
  }
  if (index !== text.length || zoneHour > 23 || zoneMinute > 59) return false;
  const second = wholeSecond + (fraction ? 0.5 : 0);
  if (hour <= 23 && minute <= 59 && second < 60) return true;
  // A leap second is valid only at 23:59 UTC.
  const utcMinute = minute - zoneMinute * sign;
  const utcHour = hour - zoneHour * sign - (utcMinute < 0 ? 1 : 0);
  return (utcHour === 23 || utcHour === -1) && (utcMinute === 59 || utcMinute === -1) && second < 61;
}
