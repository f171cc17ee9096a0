/** Example values the catalog shows meet their schemas: the repository's own, and each keyword's choice. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleValue } from '../../schemas/example-value.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { CONTROL_SCHEMAS } from '../../schemas/control-schemas.js';
import type { RowSchema } from '../../schemas/dataset.js';

const root = join(import.meta.dirname, '../..');
const compile = createAjvValidatorFactory();

const repositorySchemas: Array<[string, RowSchema]> = [
  ...readdirSync(join(root, 'schemas/orders')).map((name): [string, RowSchema] => [
    `orders/${name}`,
    JSON.parse(readFileSync(join(root, 'schemas/orders', name), 'utf8')) as RowSchema,
  ]),
  ...CONTROL_SCHEMAS.flatMap((control) =>
    [...control.versions].map(([version, schema]): [string, RowSchema] => [
      `${control.name}/v${version}`,
      schema,
    ]),
  ),
];

describe('exampleValue', () => {
  it.each(repositorySchemas)('%s: the example validates, every property filled', (name, schema) => {
    const example = exampleValue(schema) as Record<string, unknown>;
    expect(compile(schema, name)(example)).toBeNull();
    expect(Object.keys(example)).toEqual(Object.keys(schema.properties ?? {}));
  });

  it('prefers examples, then const, default and the first non-null enum value', () => {
    expect(exampleValue({ type: 'string', examples: ['A-7'], default: 'x' })).toBe('A-7');
    expect(exampleValue({ const: 3 })).toBe(3);
    expect(exampleValue({ type: 'integer', default: 5 })).toBe(5);
    expect(exampleValue({ enum: [null, 'web'] })).toBe('web');
  });

  it('makes values from formats, patterns, bounds, nullable types, $ref and arrays', () => {
    const schema = {
      type: 'object',
      $defs: { money: { type: 'number', exclusiveMinimum: 10, maximum: 12 } },
      properties: {
        at: { type: 'string', format: 'date-time' },
        on: { type: ['null', 'string'], format: 'date' },
        code: { type: 'string', pattern: '^[A-Z]{3}$' },
        name: { type: 'string', minLength: 12 },
        count: { type: 'integer', minimum: 4 },
        price: { $ref: '#/$defs/money' },
        tags: { type: 'array', items: { type: 'string', format: 'uuid' }, minItems: 2 },
        either: { oneOf: [{ type: 'null' }, { type: 'boolean' }] },
      },
    };
    const example = exampleValue(schema);
    expect(example).toEqual({
      at: '2026-11-24T10:00:00Z',
      on: '2026-11-24',
      code: 'EUR',
      name: 'examplexxxxx',
      count: 4,
      price: 10.5,
      tags: ['7c9e6679-7425-40de-944b-e07fc1f90ae7', '7c9e6679-7425-40de-944b-e07fc1f90ae7'],
      either: true,
    });
    expect(compile(schema as RowSchema, 'inline')(example as Record<string, unknown>)).toBeNull();
  });
});
