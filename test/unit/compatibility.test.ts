/** Pairs of schema versions with the verdict each compatibility mode must give, and the rule it names. */
import { describe, expect, it } from 'vitest';
import {
  checkDataset,
  checkPair,
  formatFinding,
  type CompatibilityMode,
} from '../../schemas/compatibility.js';

const closed = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const open = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
});
const text = { type: 'string' };

/** [case, older, newer, the rule BACKWARD finds (null: compatible), the rule FORWARD finds]. */
const PAIRS: Array<[string, unknown, unknown, string | null, string | null]> = [
  ['identical', closed({ a: text }, ['a']), closed({ a: text }, ['a']), null, null],
  [
    'optional field added, closed',
    closed({ a: text }),
    closed({ a: text, b: text }),
    null,
    'additional-properties',
  ],
  [
    'optional field added, open',
    open({ a: text }),
    open({ a: text, b: text }),
    'additional-properties',
    null,
  ],
  ['unconstrained field added, open', open({ a: text }), open({ a: text, b: {} }), null, null],
  [
    'optional field removed, closed',
    closed({ a: text, b: text }),
    closed({ a: text }),
    'removed-field',
    null,
  ],
  [
    'required field removed, closed',
    closed({ a: text, b: text }, ['b']),
    closed({ a: text }),
    'removed-field',
    'required-field-dropped',
  ],
  [
    'optional field removed, open',
    open({ a: text, b: text }),
    open({ a: text }),
    null,
    'additional-properties',
  ],
  [
    'field renamed, closed',
    closed({ a: text }, ['a']),
    closed({ b: text }, ['b']),
    'required-field-added',
    'required-field-dropped',
  ],
  [
    'required field added without default',
    closed({ a: text }),
    closed({ a: text, b: text }, ['b']),
    'required-field-added',
    'additional-properties',
  ],
  [
    'required field added with a default',
    closed({ a: text }),
    closed({ a: text, b: { type: 'string', default: 'x' } }, ['b']),
    null,
    'additional-properties',
  ],
  [
    'optional field made required',
    closed({ a: text }),
    closed({ a: text }, ['a']),
    'required-field-added',
    null,
  ],
  [
    'type narrowed number -> integer',
    closed({ a: { type: 'number' } }),
    closed({ a: { type: 'integer' } }),
    'narrowed-type',
    null,
  ],
  [
    'type widened integer -> number',
    closed({ a: { type: 'integer' } }),
    closed({ a: { type: 'number' } }),
    null,
    'narrowed-type',
  ],
  [
    'type changed string -> boolean',
    closed({ a: text }),
    closed({ a: { type: 'boolean' } }),
    'narrowed-type',
    'narrowed-type',
  ],
  [
    'null no longer allowed',
    closed({ a: { type: ['string', 'null'] } }),
    closed({ a: text }),
    'nullability',
    null,
  ],
  [
    'null newly allowed',
    closed({ a: text }),
    closed({ a: { type: ['string', 'null'] } }),
    null,
    'nullability',
  ],
  [
    'enum narrowed',
    closed({ a: { enum: ['x', 'y', 'z'] } }),
    closed({ a: { enum: ['x', 'y'] } }),
    'narrowed-enum',
    null,
  ],
  [
    'enum widened',
    closed({ a: { enum: ['x'] } }),
    closed({ a: { enum: ['x', 'y'] } }),
    null,
    'narrowed-enum',
  ],
  [
    'enum added to a free string',
    closed({ a: text }),
    closed({ a: { type: 'string', enum: ['x'] } }),
    'narrowed-enum',
    null,
  ],
  [
    'minimum raised',
    closed({ a: { type: 'number', minimum: 0 } }),
    closed({ a: { type: 'number', minimum: 1 } }),
    'narrowed-range',
    null,
  ],
  [
    'minimum made exclusive',
    closed({ a: { type: 'number', minimum: 0 } }),
    closed({ a: { type: 'number', exclusiveMinimum: 0 } }),
    'narrowed-range',
    null,
  ],
  [
    'maximum lowered',
    closed({ a: { type: 'integer', maximum: 10 } }),
    closed({ a: { type: 'integer', maximum: 9 } }),
    'narrowed-range',
    null,
  ],
  [
    'maxLength lowered',
    closed({ a: { type: 'string', maxLength: 64 } }),
    closed({ a: { type: 'string', maxLength: 32 } }),
    'narrowed-range',
    null,
  ],
  [
    'minimum dropped',
    closed({ a: { type: 'number', minimum: 0 } }),
    closed({ a: { type: 'number' } }),
    null,
    'narrowed-range',
  ],
  [
    'format changed date -> date-time',
    closed({ a: { type: 'string', format: 'date' } }),
    closed({ a: { type: 'string', format: 'date-time' } }),
    'changed-format',
    'changed-format',
  ],
  [
    'format added',
    closed({ a: text }),
    closed({ a: { type: 'string', format: 'email' } }),
    'changed-format',
    null,
  ],
  [
    'pattern changed',
    closed({ a: { type: 'string', pattern: '^[A-Z]{3}$' } }),
    closed({ a: { type: 'string', pattern: '^[A-Z]{2}$' } }),
    'changed-pattern',
    'changed-pattern',
  ],
  [
    'nested object gains a required field',
    closed({ address: closed({ city: text }) }),
    closed({ address: closed({ city: text, zip: text }, ['zip']) }),
    'required-field-added',
    'additional-properties',
  ],
  [
    'nested object field narrowed',
    closed({ address: closed({ zip: { type: ['string', 'integer'] } }) }),
    closed({ address: closed({ zip: text }) }),
    'narrowed-type',
    null,
  ],
  [
    'array items narrowed',
    closed({ tags: { type: 'array', items: { type: ['string', 'null'] } } }),
    closed({ tags: { type: 'array', items: text } }),
    'nullability',
    null,
  ],
  [
    'array minItems raised',
    closed({ tags: { type: 'array', items: text } }),
    closed({ tags: { type: 'array', items: text, minItems: 1 } }),
    'narrowed-range',
    null,
  ],
  [
    'array of objects gains a field',
    closed({ lines: { type: 'array', items: closed({ sku: text }) } }),
    closed({ lines: { type: 'array', items: closed({ sku: text, qty: { type: 'integer' } }) } }),
    null,
    'additional-properties',
  ],
  [
    'anyOf loses an alternative',
    closed({ a: { anyOf: [text, { type: 'integer' }] } }),
    closed({ a: { anyOf: [text] } }),
    'narrowed-union',
    null,
  ],
  [
    'oneOf gains an alternative',
    closed({ a: { oneOf: [text] } }),
    closed({ a: { oneOf: [text, { type: 'integer' }] } }),
    null,
    'narrowed-union',
  ],
  [
    'anyOf replaced by one of its alternatives',
    closed({ a: { anyOf: [text, { type: 'null' }] } }),
    closed({ a: text }),
    'nullability',
    null,
  ],
  [
    '$ref target narrowed',
    { ...closed({ price: { $ref: '#/$defs/money' } }), $defs: { money: { type: 'number' } } },
    { ...closed({ price: { $ref: '#/$defs/money' } }), $defs: { money: { type: 'integer' } } },
    'narrowed-type',
    null,
  ],
  [
    '$ref to a recursive tree, unchanged',
    {
      $defs: { node: closed({ name: text, children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
      $ref: '#/$defs/node',
    },
    {
      $defs: { node: closed({ name: text, children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
      $ref: '#/$defs/node',
    },
    null,
    null,
  ],
  [
    '$ref to another document',
    closed({ a: { $ref: 'https://example.com/a.json' } }),
    closed({ a: { $ref: 'https://example.com/a.json' } }),
    'unresolved-ref',
    'unresolved-ref',
  ],
  ['additionalProperties closed', open({ a: text }), closed({ a: text }), 'additional-properties', null],
  [
    'additionalProperties narrowed',
    { type: 'object', additionalProperties: text },
    { type: 'object', additionalProperties: { type: 'string', maxLength: 5 } },
    'narrowed-range',
    null,
  ],
  [
    'a keyword the checker does not compare',
    closed({ a: { type: 'string', not: { const: 'x' } } }),
    closed({ a: { type: 'string', not: { const: 'y' } } }),
    'unsupported-keyword',
    'unsupported-keyword',
  ],
];

const rulesOf = (older: unknown, newer: unknown, mode: CompatibilityMode, direction: string) =>
  checkPair('d', { version: 1, schema: older }, { version: 2, schema: newer }, mode)
    .filter((finding) => finding.direction === direction)
    .map((finding) => finding.rule);

describe.each(PAIRS)('%s', (_name, older, newer, backward, forward) => {
  it(`BACKWARD: ${backward ?? 'compatible'}`, () => {
    const rules = rulesOf(older, newer, 'BACKWARD', 'backward');
    if (backward === null) expect(rules).toEqual([]);
    else expect(rules).toContain(backward);
    expect(rulesOf(older, newer, 'BACKWARD', 'forward')).toEqual([]);
  });

  it(`FORWARD: ${forward ?? 'compatible'}`, () => {
    const rules = rulesOf(older, newer, 'FORWARD', 'forward');
    if (forward === null) expect(rules).toEqual([]);
    else expect(rules).toContain(forward);
  });

  it(`FULL: ${backward === null && forward === null ? 'compatible' : 'breaking'}`, () => {
    const findings = checkPair('d', { version: 1, schema: older }, { version: 2, schema: newer }, 'FULL');
    expect(findings.length === 0).toBe(backward === null && forward === null);
  });

  it('NONE: compatible', () => {
    expect(
      checkDataset(
        'd',
        new Map([
          [1, older],
          [2, newer],
        ]),
        'NONE',
      ),
    ).toEqual([]);
  });
});

describe('transitive modes', () => {
  // v2 makes `a` required with a default; v3 drops the default: each step reads the one before, v3 not v1.
  const versions = new Map<number, unknown>([
    [1, closed({ a: text })],
    [2, closed({ a: { type: 'string', default: 'x' } }, ['a'])],
    [3, closed({ a: text }, ['a'])],
  ]);

  it('BACKWARD compares consecutive versions only', () => {
    expect(checkDataset('orders', versions, 'BACKWARD')).toEqual([]);
  });

  it('BACKWARD_TRANSITIVE compares each version with every earlier one', () => {
    const findings = checkDataset('orders', versions, 'BACKWARD_TRANSITIVE');
    expect(findings.map(({ older, newer, rule, pointer }) => ({ older, newer, rule, pointer }))).toEqual([
      { older: 1, newer: 3, rule: 'required-field-added', pointer: '/required' },
    ]);
  });

  it('FULL_TRANSITIVE also reads newer events with older consumers', () => {
    const findings = checkDataset('orders', versions, 'FULL_TRANSITIVE');
    expect(findings.some((finding) => finding.direction === 'forward')).toBe(false);
    expect(findings).toHaveLength(1);
  });
});

describe('formatFinding', () => {
  it('names dataset, versions, mode, JSON pointer and rule, then what breaks', () => {
    const [finding] = checkPair(
      'orders',
      { version: 2, schema: closed({ quantity: { type: 'number', minimum: 0 } }) },
      { version: 3, schema: closed({ quantity: { type: 'integer', minimum: 0 } }) },
      'BACKWARD',
    );
    expect(formatFinding(finding!, 'BACKWARD')).toBe(
      'orders v2 -> v3 breaks BACKWARD: consumers on v3 cannot read every v2 event: ' +
        '/properties/quantity/type [narrowed-type] v2 allows number, v3 only integer',
    );
  });
});
