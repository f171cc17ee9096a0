/** Edits of a JSON document at random places: values replaced by others of any type, keys dropped or added. */
import fc from 'fast-check';

type Json = unknown;
type Path = Array<string | number>;

/** Every path into `value` (the root included), objects' keys and arrays' indices. */
export function pathsOf(value: Json, path: Path = []): Path[] {
  const paths: Path[] = [path];
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...pathsOf(item, [...path, index])));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...path, key]));
  }
  return paths;
}

export type JsonEdit =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: Json };

/** Values a config or request field should not hold, and some it should, of every JSON type. */
const odd: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    'a\r\nb',
    -1,
    0,
    1.5,
    2 ** 53,
    1e308,
    -0,
    true,
    null,
    [],
    {},
    'x'.repeat(5_000),
    'v2.json',
    'https://example.com/',
  ),
);

export const jsonEditArbitrary: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: odd }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype')),
    value: odd,
  }),
);

/** `document` with `edit` applied (a copy); positions are taken modulo the document's paths. */
export function applyEdit(document: Json, edit: JsonEdit): Json {
  const copy = structuredClone(document);
  const paths = pathsOf(copy);
  const path = paths[edit.at % paths.length]!;
  if (path.length === 0) {
    if (edit.kind === 'replace') return edit.value;
    if (edit.kind === 'add' && copy !== null && typeof copy === 'object' && !Array.isArray(copy)) {
      Object.defineProperty(copy, edit.key, {
        value: edit.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  type Node = Record<string | number, Json>;
  const parent = path.slice(0, -1).reduce<Node>((node, key) => node[key] as Node, copy as Node);
  const last = path[path.length - 1]!;
  if (edit.kind === 'replace') parent[last] = edit.value;
  else if (edit.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      // An own property even for __proto__, as JSON.parse makes one.
      Object.defineProperty(target, edit.key, {
        value: edit.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (Array.isArray(target)) target.push(edit.value);
  }
  return copy;
}
