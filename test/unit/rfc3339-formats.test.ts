/** The fast date and date-time checks give ajv-formats' answer on every input we can think of. */
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { describe, expect, test } from 'vitest';
import { isDate, isDateTime } from '../../schemas/rfc3339-formats.js';

const reference = {
  date: (fullFormats.date as { validate: (text: string) => boolean }).validate,
  dateTime: (fullFormats['date-time'] as { validate: (text: string) => boolean }).validate,
};

function* candidates(): Generator<string> {
  const dates = [
    '2024-02-29',
    '2023-02-29',
    '1900-02-29',
    '2000-02-29',
    '2026-12-31',
    '2026-13-01',
    '2026-00-10',
    '2026-04-31',
    '0000-01-01',
    '9999-12-31',
    '2026-1-01',
    '2026/01/01',
    '20260101',
    '2026-01-001',
    '２０２６-01-01',
  ];
  const times = [
    '00:00:00',
    '23:59:59',
    '23:59:60',
    '24:00:00',
    '23:60:00',
    '12:00:00.5',
    '12:00:00.',
    '12:00:00.123456789',
    '12:00',
    '1:00:00',
    '12:00:60',
    '23:59:60.999',
    '23:59:61',
    '00:59:60',
    '00:00:00,5',
  ];
  const zones = [
    '',
    'Z',
    'z',
    '+00:00',
    '-00:00',
    '+05:30',
    '+0530',
    '+05',
    '+05:',
    '+24:00',
    '-23:59',
    '+05:60',
    '+1',
    'Z ',
    'UTC',
    '-01:00',
    '+01:00',
  ];
  const separators = ['T', 't', ' ', '\t', '\u00a0', '_', '', 'TT'];
  for (const date of dates) {
    yield date;
    yield ` ${date}`;
    for (const time of times)
      for (const zone of zones) for (const separator of separators) yield `${date}${separator}${time}${zone}`;
  }
}

function* mutations(seed: string, count: number): Generator<string> {
  const alphabet = '0123456789-:.TtZz+ \u00a0x';
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
  for (let index = 0; index < count; index++) {
    const characters = [...seed];
    const position = next() % (characters.length + 1);
    const operation = next() % 3;
    const character = alphabet[next() % alphabet.length]!;
    if (operation === 0) characters.splice(position, 0, character);
    else if (operation === 1) characters.splice(position, 1);
    else characters[Math.min(position, characters.length - 1)] = character;
    yield characters.join('');
  }
}

describe('rfc3339 formats', () => {
  test('agree with ajv-formats on crafted dates, times, zones and separators', () => {
    let checked = 0;
    for (const text of candidates()) {
      expect({ text, date: isDate(text) }).toEqual({ text, date: reference.date(text) });
      expect({ text, dateTime: isDateTime(text) }).toEqual({ text, dateTime: reference.dateTime(text) });
      checked++;
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  test('agree with ajv-formats on 200k random mutations of valid values', () => {
    const seeds = [
      '2024-02-29T23:59:60Z',
      '2026-11-24T10:15:00.125+05:30',
      '2026-11-24 10:15:00-0800',
      '2026-11-24',
    ];
    let accepted = 0;
    for (const seed of seeds) {
      for (const text of mutations(seed, 50_000)) {
        const expected = { date: reference.date(text), dateTime: reference.dateTime(text) };
        expect({ text, date: isDate(text), dateTime: isDateTime(text) }).toEqual({ text, ...expected });
        if (expected.dateTime || expected.date) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
