import { describe, expect, it } from 'vitest';
import { utf8Length } from '../../adapters/event-sink/utf8-length.js';
import { seededRandom } from '../faults/support/figures.js';

const encoder = new TextEncoder();

describe('utf8Length', () => {
  it('counts what TextEncoder writes: ASCII, 2-, 3- and 4-byte characters, lone surrogates', () => {
    for (const text of [
      '',
      'orders',
      'é',
      '✓',
      '😀',
      'a😀b',
      '\ud800',
      '\udc00',
      'x\ud800',
      '\ud800\ud800\udc00',
    ])
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).byteLength);
  });

  it('agrees with TextEncoder on 20,000 random strings of any UTF-16 units', () => {
    const random = seededRandom(20);
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff];
    for (let round = 0; round < 20_000; round++) {
      const text = String.fromCharCode(
        ...Array.from({ length: Math.floor(random() * 12) }, () =>
          random() < 0.5 ? units[Math.floor(random() * units.length)]! : Math.floor(random() * 0x10000),
        ),
      );
      expect(utf8Length(text)).toBe(encoder.encode(text).byteLength);
    }
  });
});
