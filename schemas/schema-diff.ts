/**
 * What changed between two versions of a schema, field by field, for people reading the event catalog:
 * fields added and removed, and each keyword of a field that changed (type, format, enum, bounds,
 * whether it is required). It judges nothing; whether a change breaks consumers is compatibility.ts's.
 */

export interface SchemaChange {
  change: 'added' | 'removed' | 'changed';
  /** Dotted path of the field (`customer.address.city`; `[]` marks array items); empty for the root. */
  field: string;
  /** What changed, e.g. `optional, type ["string","null"]` or `type: "string" -> ["string","null"]`. */
  detail: string;
}

type SchemaObject = Record<string, unknown>;

/** Keywords that hold subschemas, walked rather than compared as values. */
const WALKED = new Set(['properties', 'items', 'required', '$defs', 'definitions']);
/** Keywords for people, not for validation: a change in them is no change to the contract. */
const ANNOTATIONS = new Set(['title', 'description', 'examples', '$comment', '$schema', '$id']);

/** The changes from `older` to `newer`, in the newer's field order, removed fields after. */
export function schemaDiff(older: unknown, newer: unknown): SchemaChange[] {
  const changes: SchemaChange[] = [];
  walk(asObject(older), asObject(newer), '', changes);
  return changes;
}

/** One line of a change: `+ channel: optional, type ...`, `- note: ...`, `~ quantity: minimum: 1 -> 0`. */
export function formatChange(change: SchemaChange): string {
  const mark = { added: '+', removed: '-', changed: '~' }[change.change];
  return `${mark} ${change.field || '(root)'}: ${change.detail}`;
}

function walk(older: SchemaObject, newer: SchemaObject, path: string, changes: SchemaChange[]): void {
  const keywords = [...new Set([...Object.keys(older), ...Object.keys(newer)])].filter(
    (keyword) => !WALKED.has(keyword) && !ANNOTATIONS.has(keyword),
  );
  const differing = keywords.filter(
    (keyword) => JSON.stringify(older[keyword]) !== JSON.stringify(newer[keyword]),
  );
  if (differing.length > 0) {
    const detail = differing
      .map((keyword) => `${keyword}: ${shown(older[keyword])} -> ${shown(newer[keyword])}`)
      .join('; ');
    changes.push({ change: 'changed', field: path, detail });
  }
  const olderProperties = asObject(older.properties);
  const newerProperties = asObject(newer.properties);
  const olderRequired = new Set(asStrings(older.required));
  const newerRequired = new Set(asStrings(newer.required));
  for (const [name, schema] of Object.entries(newerProperties)) {
    const field = path ? `${path}.${name}` : name;
    if (!Object.hasOwn(olderProperties, name)) {
      changes.push({ change: 'added', field, detail: describe(asObject(schema), newerRequired.has(name)) });
      continue;
    }
    if (olderRequired.has(name) !== newerRequired.has(name)) {
      const [from, to] = newerRequired.has(name) ? ['optional', 'required'] : ['required', 'optional'];
      changes.push({ change: 'changed', field, detail: `${from} -> ${to}` });
    }
    walk(asObject(olderProperties[name]), asObject(schema), field, changes);
  }
  for (const [name, schema] of Object.entries(olderProperties)) {
    if (Object.hasOwn(newerProperties, name)) continue;
    const field = path ? `${path}.${name}` : name;
    changes.push({ change: 'removed', field, detail: describe(asObject(schema), olderRequired.has(name)) });
  }
  if (older.items !== undefined || newer.items !== undefined) {
    walk(asObject(older.items), asObject(newer.items), `${path}[]`, changes);
  }
}

/** A field as it is: required or optional, then its constraints. */
function describe(schema: SchemaObject, required: boolean): string {
  const constraints = Object.entries(schema)
    .filter(([keyword]) => !ANNOTATIONS.has(keyword) && keyword !== 'required')
    .map(([keyword, value]) => `${keyword} ${shown(value)}`);
  return [required ? 'required' : 'optional', ...constraints].join(', ');
}

const shown = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));

function asObject(value: unknown): SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as SchemaObject) : {};
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
