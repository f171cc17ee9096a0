/** EventBytesWriter.writeJson must give exactly the bytes of TextEncoder over JSON.stringify. */
import { describe, expect, it } from 'vitest';
import { EventBytesWriter, newBytes } from '../../workers/event-bytes.js';
import { RowBlockBuilder, rowBlocks, type RowBlock } from '../../workers/row-block.js';
import type { RowSource } from '../../workers/rows.js';
import { random, randomNumbers, randomObject } from '../support/random-json.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function written(value: unknown, capacity = 16): Uint8Array {
  const writer = new EventBytesWriter(newBytes, capacity);
  writer.writeJson(value);
  return writer.take();
}

function expectSameAsStringify(value: unknown) {
  const expected = encoder.encode(JSON.stringify(value) ?? '');
  const actual = written(value);
  // Compared as text first for a readable failure, then byte for byte.
  expect(decoder.decode(actual)).toBe(decoder.decode(expected));
  expect(actual).toEqual(expected);
}

describe('EventBytesWriter.writeJson', () => {
  it.each([
    ['a plain ASCII row', { id: 'ORD-1', quantity: 8, price: 60.27, gift: false, note: null }],
    ['strings that need escapes', { q: 'she said "hi"', b: 'back\\slash', c: 'tab\there', n: 'two\nlines' }],
    ['control characters and DEL', { c: '\u0000\u0001\u001f', del: '\u007f' }],
    ['non-ASCII text', { city: 'Zoë, 東京', party: '🎉', separator: '\u2028' }],
    ['lone surrogates', { high: '\ud83c', low: 'x\udf89y' }],
    ['numbers JSON writes its own way', { z: -0, big: 1e21, small: 5e-7, nan: NaN, inf: -Infinity }],
    ['keys left out', { a: undefined, b: () => 1, c: Symbol('s'), d: 1 }],
    ['integer-like keys, which come first in order', { b: 1, 2: 'two', a: 3, 1: 'one' }],
    ['keys that need escapes', { 'with "quote"': 1, ü: 2, '\n': 3 }],
    ['nested objects and arrays', { list: [1, 'a', null, { x: [true] }], struct: { inner: { deep: 'v' } } }],
    [
      'a Date and an object with toJSON',
      { at: new Date(Date.UTC(2024, 4, 1)), custom: { toJSON: () => 'X' } },
    ],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1, b: 'two' })],
    ['an empty object', {}],
    ['a long ASCII string', { note: 'x'.repeat(5000) }],
    ['a long non-ASCII string', { note: 'é'.repeat(5000) }],
  ])('writes %s as JSON.stringify does', (_label, value) => {
    expectSameAsStringify(value);
  });

  it('writes 2,000 random values as JSON.stringify does', () => {
    const next = random(20261124);
    for (let index = 0; index < 2000; index++) expectSameAsStringify(randomObject(next, 0));
  });

  it.each([
    ['integers around 32 bits', [0, 1, 9, 10, 2147483647, 2147483648, -2147483647, -2147483648, -2147483649]],
    ['decimals below 1', [0.5, 0.05, 0.000001, 1e-7, -0.000001, 0.1 + 0.2, 1 / 3, 0.999999999]],
    ['prices', [60.27, 20.8, 100.1, 1.005, 4.35, 8.675309, 999999999.9, 123456789.5, -12.5]],
    ['numbers that need more than 9 decimals or 31 bits', [1234567.123456789, 21474836.48, 2 ** 53, 1e21]],
    ['the extremes', [Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, -Number.MAX_SAFE_INTEGER]],
  ])('writes %s as JSON.stringify does', (_label, values) => {
    for (const value of values) expectSameAsStringify(value);
  });

  it('writes 200,000 random numbers as JSON.stringify does', () => {
    const numbers = randomNumbers(random(20261125), 200_000);
    const writer = new EventBytesWriter(newBytes, 1 << 20);
    for (const value of numbers) {
      writer.writeJson(value);
      writer.writeJson(',');
    }
    expect(decoder.decode(writer.take())).toBe(
      numbers.map((value) => `${JSON.stringify(value)}","`).join(''),
    );
  });

  it('throws as JSON.stringify does on a BigInt', () => {
    expect(() => written({ big: 1n })).toThrow(TypeError);
  });

  it('writes rows whose keys shift position, one writer for all, as JSON.stringify does', () => {
    // The writer keeps the last key it wrote at each member position; every row here breaks that.
    const next = random(20261202);
    const many = Object.fromEntries(Array.from({ length: 70 }, (_, index) => [`c${index}`, index]));
    const rows: unknown[] = [
      { a: 1, b: 2, c: 3 },
      { b: 2, a: 1, c: 3 },
      { a: 1, c: 3 },
      { a: undefined, b: 2, c: 3 },
      { c: { a: 1, b: { c: 3 } }, a: [{ b: 1 }] },
      many,
      { ...many, c3: undefined, extra: 'x' },
      { a: 1, b: 2, c: 3 },
    ];
    for (let index = 0; index < 500; index++) rows.push(randomObject(next, 0));
    const writer = new EventBytesWriter(newBytes, 16);
    for (const row of rows) writer.writeJson(row);
    expect(decoder.decode(writer.take())).toBe(rows.map((row) => JSON.stringify(row)).join(''));
  });

  it('writes a row number again from the digits it wrote', () => {
    const writer = new EventBytesWriter(newBytes, 4);
    writer.writeJson('id-');
    const start = writer.length;
    writer.writeUint(4294967296);
    writer.writeJson(',');
    writer.writeAgain(start, 10);
    expect(decoder.decode(writer.take())).toBe('"id-"4294967296","4294967296');
  });

  it('grows its buffer as needed and hands the filled part over', () => {
    const writer = new EventBytesWriter(newBytes, 4);
    writer.writeJson({ note: 'x'.repeat(100) });
    writer.writeUint(1234567890);
    const bytes = writer.take();
    expect(decoder.decode(bytes)).toBe(`${JSON.stringify({ note: 'x'.repeat(100) })}1234567890`);
    expect(writer.length).toBe(0);
    writer.writeUint(0);
    expect(decoder.decode(writer.take())).toBe('0');
  });
});

describe('RowBlockBuilder blocks', () => {
  it('own their buffers: transferring an empty block leaves the builder and other blocks whole', () => {
    const builder = new RowBlockBuilder({
      head: '{"id":"x-',
      validate: () => null,
      renderRaw: (raw) => raw,
      skipThrough: 0,
      startRow: 0,
    });
    const row = (n: number) => ({ row: n, line: n + 1, values: { n }, issues: [], raw: null });
    const transfer = (block: RowBlock) =>
      structuredClone(block, {
        transfer: [block.bytes.buffer, block.ends.buffer, block.rows.buffer] as ArrayBuffer[],
      });

    builder.add([row(1)]);
    const first = transfer(builder.take());
    // Empty blocks, one after another, as a row group whose rows are all rejected gives.
    const empty = [transfer(builder.take()), transfer(builder.take())];
    builder.add([row(2), row(3)]);
    const last = transfer(builder.take());

    const text = (block: RowBlock) => new TextDecoder().decode(block.bytes);
    expect(text(first)).toBe('{"id":"x-1","rownumber":1,"data":{"n":1}}\n');
    expect(empty.map((block) => [block.bytes.length, block.ends.length])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(text(last)).toBe(
      '{"id":"x-2","rownumber":2,"data":{"n":2}}\n{"id":"x-3","rownumber":3,"data":{"n":3}}\n',
    );
    expect([...last.ends]).toEqual([42, 84]);
    expect([...last.rows]).toEqual([2, 3]);
  });
});

describe('EventBytesWriter buffers', () => {
  it('are sized from what blocks held, even when the allocator hands out larger ones', () => {
    const asked: number[] = [];
    // Like the pool's threads, which round buffers up by a quarter.
    const writer = new EventBytesWriter((bytes) => {
      asked.push(bytes);
      return new Uint8Array(Math.ceil(bytes * 1.25));
    }, 1000);
    const row = { note: 'x'.repeat(90) };
    const size = 50 * JSON.stringify(row).length;
    for (let block = 0; block < 100; block++) {
      for (let index = 0; index < 50; index++) writer.writeJson(row);
      expect(writer.take().length).toBe(size);
    }
    expect(Math.max(...asked)).toBeLessThanOrEqual(2 * size);
  });
});

describe('rowBlocks made in place', () => {
  const source = (batches: number, rows: number): RowSource => ({
    rows: (async function* () {
      for (let batch = 0; batch < batches; batch++) {
        yield Array.from({ length: rows }, (_, index) => {
          const row = batch * rows + index + 1;
          return { row, line: row + 1, values: { row, note: 'x'.repeat(50) }, issues: [], raw: null };
        });
      }
    })(),
    renderRaw: (raw) => raw,
  });
  const options = { head: '{"id":"x-', validate: () => null, skipThrough: 0, startRow: 0 };
  const size = { rows: 100, bytes: 1 << 20 };

  it('reuse the buffer of a block once it is released, once only', async () => {
    const blocks = rowBlocks(source(4, 100), size, options);
    const first = (await blocks.next()).value as RowBlock;
    const firstText = new TextDecoder().decode(first.bytes);
    const whole = new Uint8Array(first.bytes.buffer);
    whole[whole.length - 1] = 0x7a;
    first.release!();
    first.release!();

    const second = (await blocks.next()).value as RowBlock;
    const third = (await blocks.next()).value as RowBlock;
    expect(second.bytes.buffer).toBe(first.bytes.buffer);
    expect(new Uint8Array(second.bytes.buffer).at(-1)).toBe(0x7a);
    // Released twice, the buffer was still handed out once.
    expect(third.bytes.buffer).not.toBe(second.bytes.buffer);
    expect(new TextDecoder().decode(second.bytes)).toBe(
      firstText.replace(/\d+/g, (n) => String(Number(n) + 100)),
    );
  });
});
