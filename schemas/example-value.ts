/**
 * A value a schema accepts, to show consumers what its events look like: the schema's own `examples`,
 * `const`, `default` or first `enum` value when it gives one, else one made from its type, format,
 * pattern and bounds. Every declared property is filled, optional ones too, so the example shows each
 * field. The catalog validates what comes out; a pattern no candidate meets yields a value that fails.
 */

type SchemaObject = Record<string, unknown>;

/** Values for string formats, RFC 3339 times among them (rfc3339-formats.ts). */
const FORMAT_EXAMPLES: Record<string, string> = {
  'date-time': '2026-11-24T10:00:00Z',
  date: '2026-11-24',
  time: '10:00:00Z',
  email: 'orders@example.com',
  'idn-email': 'orders@example.com',
  hostname: 'example.com',
  'idn-hostname': 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  uri: 'https://example.com/',
  'uri-reference': 'https://example.com/',
  iri: 'https://example.com/',
  url: 'https://example.com/',
  uuid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  duration: 'P1D',
};

/** Strings tried in turn against a pattern and length bounds. */
const STRING_CANDIDATES = ['example', 'EXAMPLE', 'EUR', 'ABC', 'abc', 'A-1', '12345', '1', 'a', 'A'];

export function exampleValue(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 16) return null;
  const object = schema as SchemaObject;
  if (Array.isArray(object.examples) && object.examples.length > 0) return object.examples[0];
  if ('const' in object) return object.const;
  if ('default' in object) return object.default;
  if (Array.isArray(object.enum) && object.enum.length > 0) {
    return object.enum.find((value) => value !== null) ?? object.enum[0];
  }
  if (typeof object.$ref === 'string' && object.$ref.startsWith('#/')) {
    return exampleValue(resolvePointer(root, object.$ref.slice(1)), root, depth + 1);
  }
  for (const keyword of ['oneOf', 'anyOf', 'allOf'] as const) {
    const options = object[keyword];
    if (Array.isArray(options) && options.length > 0) {
      const choice = options.find((option) => (option as SchemaObject)?.type !== 'null') ?? options[0];
      return exampleValue({ ...object, [keyword]: undefined, ...(choice as SchemaObject) }, root, depth + 1);
    }
  }
  const types = Array.isArray(object.type) ? object.type : [object.type];
  const type = types.find((candidate) => candidate !== 'null') ?? types[0];
  switch (type ?? (object.properties ? 'object' : undefined)) {
    case 'string':
      return exampleString(object);
    case 'integer':
      return exampleNumber(object, true);
    case 'number':
      return exampleNumber(object, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const count = Math.max(1, Number(object.minItems ?? 1));
      return Array.from({ length: count }, () => exampleValue(object.items ?? {}, root, depth + 1));
    }
    case 'object':
      return Object.fromEntries(
        Object.entries((object.properties ?? {}) as Record<string, unknown>).map(([name, property]) => [
          name,
          exampleValue(property, root, depth + 1),
        ]),
      );
    default:
      return null;
  }
}

function exampleString(schema: SchemaObject): string {
  if (typeof schema.format === 'string' && FORMAT_EXAMPLES[schema.format] !== undefined) {
    return FORMAT_EXAMPLES[schema.format]!;
  }
  const minLength = Number(schema.minLength ?? 0);
  const maxLength = Number(schema.maxLength ?? Infinity);
  const pattern = typeof schema.pattern === 'string' ? safePattern(schema.pattern) : undefined;
  const fits = (value: string) =>
    value.length >= minLength && value.length <= maxLength && (!pattern || pattern.test(value));
  const found = STRING_CANDIDATES.find(fits);
  if (found !== undefined) return found;
  const padded = 'example'
    .padEnd(minLength, 'x')
    .slice(0, Number.isFinite(maxLength) ? maxLength : undefined);
  return padded;
}

function exampleNumber(schema: SchemaObject, integer: boolean): number {
  const minimum =
    typeof schema.minimum === 'number'
      ? schema.minimum
      : typeof schema.exclusiveMinimum === 'number'
        ? schema.exclusiveMinimum + (integer ? 1 : 0.5)
        : undefined;
  const maximum =
    typeof schema.maximum === 'number'
      ? schema.maximum
      : typeof schema.exclusiveMaximum === 'number'
        ? schema.exclusiveMaximum - (integer ? 1 : 0.5)
        : undefined;
  let value = integer ? 1 : 9.5;
  if (minimum !== undefined && value < minimum) value = integer ? Math.ceil(minimum) : minimum;
  if (maximum !== undefined && value > maximum) value = integer ? Math.floor(maximum) : maximum;
  return value;
}

function safePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

function resolvePointer(root: unknown, pointer: string): unknown {
  let node = root;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    node = typeof node === 'object' && node !== null ? (node as SchemaObject)[key] : undefined;
  }
  return node;
}
