/** What the catalog shows between versions: fields added, removed and changed, nested ones by their path. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatChange, schemaDiff } from '../../schemas/schema-diff.js';

const root = join(import.meta.dirname, '../..');
const read = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8')) as unknown;

describe('schemaDiff', () => {
  it('orders v1 -> v2: the one added optional column', () => {
    expect(
      schemaDiff(read('schemas/orders/v1.json'), read('schemas/orders/v2.json')).map(formatChange),
    ).toEqual([
      '+ channel: optional, type ["string","null"], enum ["web","store","phone","marketplace",null]',
    ]);
  });

  it('orders v2 -> the breaking v3: channel made required, note gone, comment new', () => {
    const lines = schemaDiff(
      read('schemas/orders/v2.json'),
      read('test/fixtures/schemas/orders/v3.json'),
    ).map(formatChange);
    expect(lines).toContain('~ channel: optional -> required');
    expect(lines).toContain('- note: optional, type ["string","null"], maxLength 2000');
    expect(lines.some((line) => line.startsWith('+ comment: optional'))).toBe(true);
  });

  it('names nested and array fields by path, and each changed keyword with both values', () => {
    const older = {
      type: 'object',
      properties: {
        customer: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        lines: {
          type: 'array',
          items: { type: 'object', properties: { sku: { type: 'string', maxLength: 10 } } },
        },
      },
    };
    const newer = {
      type: 'object',
      properties: {
        customer: {
          type: 'object',
          properties: { city: { type: ['string', 'null'] }, zip: { type: 'string' } },
        },
        lines: {
          type: 'array',
          items: { type: 'object', properties: { sku: { type: 'string', maxLength: 20 } } },
        },
      },
    };
    expect(schemaDiff(older, newer).map(formatChange)).toEqual([
      '~ customer.city: required -> optional',
      '~ customer.city: type: "string" -> ["string","null"]',
      '+ customer.zip: optional, type "string"',
      '~ lines[].sku: maxLength: 10 -> 20',
    ]);
  });

  it('ignores annotations: a new title or description changes no contract', () => {
    const schema = { type: 'object', properties: { id: { type: 'string' } } };
    expect(
      schemaDiff(schema, {
        ...schema,
        title: 'v2',
        properties: { id: { type: 'string', description: 'the id' } },
      }),
    ).toEqual([]);
  });
});
