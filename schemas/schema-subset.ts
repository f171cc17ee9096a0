/**
 * Whether every instance one JSON Schema accepts (the writer's) is accepted by another (the reader's),
 * decided keyword by keyword and conservatively: what cannot be proven is reported, never assumed. The
 * compatibility modes (compatibility.ts) are built on it. Local `$ref`s (`#/...`) are followed; `oneOf`
 * is treated as `anyOf` (its exclusivity is not checked), a writer's `allOf` is merged.
 */

export type Rule =
  | 'removed-field'
  | 'required-field-added'
  | 'required-field-dropped'
  | 'narrowed-type'
  | 'nullability'
  | 'narrowed-enum'
  | 'narrowed-range'
  | 'changed-format'
  | 'changed-pattern'
  | 'additional-properties'
  | 'narrowed-union'
  | 'unresolved-ref'
  | 'unsupported-keyword';

export interface SubsetIssue {
  /** JSON pointer of the keyword at issue, walking the reader's schema. */
  pointer: string;
  rule: Rule;
  message: string;
}

/** How the two sides are named in messages, e.g. `{ writer: 'v2', reader: 'v3' }`. */
export interface SideNames {
  writer: string;
  reader: string;
  /** Whether the reader is the newer version: names a field the reader lacks `removed`, else `new`. */
  readerIsNewer?: boolean;
}

type Schema = boolean | Record<string, unknown>;
type SchemaObject = Record<string, unknown>;

interface Walk {
  writerRoot: Schema;
  readerRoot: Schema;
  names: SideNames;
  issues: SubsetIssue[];
  /** Pairs of `$ref`s being compared, so recursive schemas end. */
  seen: Set<string>;
}

const ALL_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string', 'integer'];
const UNCHECKED = [
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'contains',
  'minContains',
  'maxContains',
  'unevaluatedProperties',
  'unevaluatedItems',
];

export function subsetIssues(writer: unknown, reader: unknown, names: SideNames): SubsetIssue[] {
  const walk: Walk = {
    writerRoot: writer as Schema,
    readerRoot: reader as Schema,
    names,
    issues: [],
    seen: new Set(),
  };
  compare(writer as Schema, reader as Schema, '', walk);
  return walk.issues;
}

function compare(writerIn: Schema, readerIn: Schema, pointer: string, walk: Walk): void {
  const issue = (rule: Rule, message: string, at = pointer) =>
    walk.issues.push({ pointer: at, rule, message });
  const { writer: W, reader: R } = walk.names;
  const writerRef = refOf(writerIn);
  const readerRef = refOf(readerIn);
  const writer = resolve(writerIn, walk.writerRoot);
  const reader = resolve(readerIn, walk.readerRoot);
  if (writer === undefined || reader === undefined) {
    const ref = writer === undefined ? writerRef : readerRef;
    return void issue('unresolved-ref', `$ref ${ref} is not a local reference the checker can follow`);
  }
  if (writerRef !== undefined || readerRef !== undefined) {
    const key = `${writerRef ?? pointer}|${readerRef ?? pointer}`;
    if (walk.seen.has(key)) return;
    walk.seen.add(key);
  }
  if (reader === true || writer === false) return;
  if (reader === false) return void issue('narrowed-type', `${R} accepts nothing here, ${W} accepted values`);
  const w = mergedAllOf(writer === true ? {} : writer);
  const r = reader;

  // A writer's alternatives must each be readable; a reader's alternatives need one that reads it.
  const writerAlternatives = alternativesOf(w);
  if (writerAlternatives) {
    const { keyword, list } = writerAlternatives;
    const rest = without(w, keyword);
    list.forEach((alternative, index) =>
      compare(mergeInto(rest, alternative), r, `${pointer}`, {
        ...walk,
        names: { ...walk.names, writer: `${W} (${keyword}/${index})` },
      }),
    );
    return;
  }
  const readerAlternatives = alternativesOf(r);
  if (readerAlternatives) {
    const { keyword, list } = readerAlternatives;
    const rest = without(r, keyword);
    const attempts = list.map((alternative) => {
      const trial: Walk = { ...walk, issues: [], seen: new Set(walk.seen) };
      compare(w, mergeInto(rest, alternative), pointer, trial);
      return trial.issues;
    });
    if (attempts.some((issues) => issues.length === 0)) return;
    const closest = attempts.reduce((best, issues) => (issues.length < best.length ? issues : best));
    return void issue(
      'narrowed-union',
      `no alternative of ${R}'s ${keyword} accepts everything ${W} allowed here; the closest: ${closest[0]!.message}`,
      `${pointer}/${keyword}`,
    );
  }
  if (Array.isArray(r.allOf)) {
    (r.allOf as Schema[]).forEach((member, index) => compare(w, member, `${pointer}/allOf/${index}`, walk));
  }

  compareValues(w, r, pointer, walk, issue);
  if (isObjectSchema(w) || isObjectSchema(r)) compareObjects(w, r, pointer, walk, issue);
  compareArrays(w, r, pointer, walk);
  for (const keyword of UNCHECKED) {
    if (r[keyword] !== undefined && !deepEqual(w[keyword], r[keyword])) {
      issue(
        'unsupported-keyword',
        `${keyword} differs and the checker cannot compare it; review it by hand`,
        `${pointer}/${keyword}`,
      );
    }
  }
}

type Report = (rule: Rule, message: string, at?: string) => void;

function compareValues(w: SchemaObject, r: SchemaObject, pointer: string, walk: Walk, issue: Report): void {
  const { writer: W, reader: R } = walk.names;
  const writerEnum = enumOf(w);
  const readerEnum = enumOf(r);
  const readerTypes = typesOf(r);
  if (readerTypes) {
    const writerTypes = writerEnum ? [...new Set(writerEnum.map(typeOfValue))] : (typesOf(w) ?? ALL_TYPES);
    const lost = writerTypes.filter(
      (type) => !readerTypes.includes(type) && !(type === 'integer' && readerTypes.includes('number')),
    );
    if (lost.length === 1 && lost[0] === 'null') {
      issue('nullability', `${W} allows null, ${R} does not`, `${pointer}/type`);
    } else if (lost.length > 0) {
      issue(
        'narrowed-type',
        `${W} allows ${lost.join(', ')}, ${R} only ${readerTypes.join(', ')}`,
        `${pointer}/type`,
      );
    }
  }
  if (readerEnum) {
    const at = `${pointer}/${r.enum !== undefined ? 'enum' : 'const'}`;
    if (!writerEnum)
      issue('narrowed-enum', `${R} allows only ${show(readerEnum)}, ${W} allowed any value`, at);
    else {
      const lost = writerEnum.filter((value) => !readerEnum.some((other) => deepEqual(value, other)));
      if (lost.length > 0) issue('narrowed-enum', `${W} allows ${show(lost)}, ${R} does not`, at);
    }
  }
  if (typeof r.format === 'string' && r.format !== w.format) {
    const was = typeof w.format === 'string' ? `format ${w.format}` : 'no format';
    issue('changed-format', `${R} requires format ${r.format}, ${W} had ${was}`, `${pointer}/format`);
  }
  if (typeof r.pattern === 'string' && r.pattern !== w.pattern) {
    const was = typeof w.pattern === 'string' ? `pattern ${w.pattern}` : 'no pattern';
    issue('changed-pattern', `${R} requires pattern ${r.pattern}, ${W} had ${was}`, `${pointer}/pattern`);
  }
  for (const [minimum, exclusive, maximum, exclusiveMax] of [
    ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'],
    ['minLength', undefined, 'maxLength', undefined],
    ['minItems', undefined, 'maxItems', undefined],
    ['minProperties', undefined, 'maxProperties', undefined],
  ] as const) {
    const readerLow = bound(r, minimum, exclusive);
    const writerLow = bound(w, minimum, exclusive);
    if (
      readerLow &&
      (!writerLow ||
        readerLow.value > writerLow.value ||
        (readerLow.value === writerLow.value && readerLow.exclusive && !writerLow.exclusive))
    ) {
      issue(
        'narrowed-range',
        `${R} requires ${describe(readerLow, '>')}, ${W} ${writerLow ? `allowed ${describe(writerLow, '>')}` : 'had no lower bound'}`,
        `${pointer}/${readerLow.keyword}`,
      );
    }
    const readerHigh = bound(r, maximum, exclusiveMax);
    const writerHigh = bound(w, maximum, exclusiveMax);
    if (
      readerHigh &&
      (!writerHigh ||
        readerHigh.value < writerHigh.value ||
        (readerHigh.value === writerHigh.value && readerHigh.exclusive && !writerHigh.exclusive))
    ) {
      issue(
        'narrowed-range',
        `${R} requires ${describe(readerHigh, '<')}, ${W} ${writerHigh ? `allowed ${describe(writerHigh, '<')}` : 'had no upper bound'}`,
        `${pointer}/${readerHigh.keyword}`,
      );
    }
  }
  if (typeof r.multipleOf === 'number') {
    const divides = typeof w.multipleOf === 'number' && Number.isInteger(w.multipleOf / r.multipleOf);
    if (!divides)
      issue(
        'narrowed-range',
        `${R} requires a multiple of ${r.multipleOf}, ${W} did not`,
        `${pointer}/multipleOf`,
      );
  }
  if (r.uniqueItems === true && w.uniqueItems !== true) {
    issue('narrowed-range', `${R} requires unique items, ${W} did not`, `${pointer}/uniqueItems`);
  }
}

function compareObjects(w: SchemaObject, r: SchemaObject, pointer: string, walk: Walk, issue: Report): void {
  const { writer: W, reader: R } = walk.names;
  const writerProperties = (w.properties ?? {}) as Record<string, Schema>;
  const readerProperties = (r.properties ?? {}) as Record<string, Schema>;
  const writerRequired = new Set((w.required ?? []) as string[]);
  const writerExtra = (w.additionalProperties ?? true) as Schema;
  const readerExtra = (r.additionalProperties ?? true) as Schema;
  for (const name of (r.required ?? []) as string[]) {
    if (writerRequired.has(name)) continue;
    const property = readerProperties[name];
    if (typeof property === 'object' && property.default !== undefined) continue;
    const was = name in writerProperties ? 'optional' : 'absent';
    issue(
      walk.names.readerIsNewer === false ? 'required-field-dropped' : 'required-field-added',
      `${R} requires ${name} (with no default), in ${W} it is ${was}`,
      `${pointer}/required`,
    );
  }
  for (const [name, property] of Object.entries(writerProperties)) {
    const at = `${pointer}/properties/${escape(name)}`;
    if (name in readerProperties) compare(property, readerProperties[name]!, at, walk);
    else if (readerExtra === false) {
      issue(
        walk.names.readerIsNewer === false ? 'additional-properties' : 'removed-field',
        walk.names.readerIsNewer === false
          ? `${name} is new in ${W}, and ${R} allows no other properties`
          : `${name} is in ${W} but not in ${R}, which allows no other properties (removed or renamed)`,
        at,
      );
    } else if (readerExtra !== true) compare(property, readerExtra, `${pointer}/additionalProperties`, walk);
  }
  for (const [name, property] of Object.entries(readerProperties)) {
    if (name in writerProperties || writerExtra === false) continue;
    const trial: Walk = { ...walk, issues: [], seen: new Set(walk.seen) };
    compare(writerExtra, property, `${pointer}/properties/${escape(name)}`, trial);
    if (trial.issues.length > 0) {
      issue(
        'additional-properties',
        `${name} is new in ${R} and constrains values ${W} let through as an additional property: ${trial.issues[0]!.message}`,
        `${pointer}/properties/${escape(name)}`,
      );
    }
  }
  if (writerExtra !== false) {
    if (readerExtra === false) {
      issue(
        'additional-properties',
        `${R} allows no properties beyond its own, ${W} allowed others`,
        `${pointer}/additionalProperties`,
      );
    } else if (readerExtra !== true)
      compare(writerExtra, readerExtra, `${pointer}/additionalProperties`, walk);
  }
}

function compareArrays(w: SchemaObject, r: SchemaObject, pointer: string, walk: Walk): void {
  const writerPrefix = (w.prefixItems ?? []) as Schema[];
  const readerPrefix = (r.prefixItems ?? []) as Schema[];
  const writerItems = (w.items ?? true) as Schema;
  readerPrefix.forEach((item, index) =>
    compare(writerPrefix[index] ?? writerItems, item, `${pointer}/prefixItems/${index}`, walk),
  );
  if (r.items !== undefined) {
    writerPrefix
      .slice(readerPrefix.length)
      .forEach((item) => compare(item, r.items as Schema, `${pointer}/items`, walk));
    compare(writerItems, r.items as Schema, `${pointer}/items`, walk);
  }
}

function refOf(schema: Schema): string | undefined {
  return typeof schema === 'object' && typeof schema.$ref === 'string' ? schema.$ref : undefined;
}

/** The schema with its local `$ref` chain followed (sibling keywords merged), or undefined if it cannot be. */
function resolve(schema: Schema, root: Schema): Schema | undefined {
  let current = schema;
  for (let hops = 0; typeof current === 'object' && typeof current.$ref === 'string'; hops++) {
    const ref = current.$ref;
    if (hops > 32 || !ref.startsWith('#')) return undefined;
    let target: unknown = root;
    for (const part of ref.slice(1).split('/').slice(1)) {
      const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
      target = typeof target === 'object' && target !== null ? (target as SchemaObject)[key] : undefined;
    }
    if (typeof target !== 'boolean' && (typeof target !== 'object' || target === null)) return undefined;
    const siblings = without(current, '$ref');
    current = Object.keys(siblings).length === 0 ? (target as Schema) : mergeInto(target as Schema, siblings);
  }
  return current;
}

function alternativesOf(schema: SchemaObject): { keyword: 'anyOf' | 'oneOf'; list: Schema[] } | undefined {
  if (Array.isArray(schema.anyOf)) return { keyword: 'anyOf', list: schema.anyOf as Schema[] };
  if (Array.isArray(schema.oneOf)) return { keyword: 'oneOf', list: schema.oneOf as Schema[] };
  return undefined;
}

function mergedAllOf(schema: SchemaObject): SchemaObject {
  if (!Array.isArray(schema.allOf)) return schema;
  return (schema.allOf as Schema[]).reduce<SchemaObject>(
    (merged, member) => mergeInto(merged, member) as SchemaObject,
    without(schema, 'allOf'),
  );
}

/** `extra`'s keywords over `base`'s (an approximation of their conjunction, exact for disjoint keywords). */
function mergeInto(base: Schema, extra: Schema): Schema {
  if (base === false || extra === false) return false;
  if (base === true) return extra;
  if (extra === true) return base;
  return { ...base, ...extra };
}

function without(schema: SchemaObject, keyword: string): SchemaObject {
  const { [keyword]: _dropped, ...rest } = schema;
  return rest;
}

function isObjectSchema(schema: SchemaObject): boolean {
  return (
    schema.properties !== undefined ||
    schema.required !== undefined ||
    schema.additionalProperties !== undefined
  );
}

function typesOf(schema: SchemaObject): string[] | undefined {
  if (schema.type === undefined) return undefined;
  return Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
}

function enumOf(schema: SchemaObject): unknown[] | undefined {
  if (schema.const !== undefined) return [schema.const];
  return Array.isArray(schema.enum) ? schema.enum : undefined;
}

function typeOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

interface Bound {
  keyword: string;
  value: number;
  exclusive: boolean;
}

/** The tighter of an inclusive and an exclusive bound. */
function bound(schema: SchemaObject, inclusive: string, exclusive: string | undefined): Bound | undefined {
  const plain =
    typeof schema[inclusive] === 'number'
      ? { keyword: inclusive, value: schema[inclusive] as number, exclusive: false }
      : undefined;
  const strict =
    exclusive && typeof schema[exclusive] === 'number'
      ? { keyword: exclusive, value: schema[exclusive] as number, exclusive: true }
      : undefined;
  if (!plain || !strict) return plain ?? strict;
  const lower = inclusive.startsWith('min');
  if (plain.value === strict.value) return strict;
  return (lower ? strict.value > plain.value : strict.value < plain.value) ? strict : plain;
}

const MEASURED: Record<string, string> = {
  minimum: 'values',
  exclusiveMinimum: 'values',
  maximum: 'values',
  exclusiveMaximum: 'values',
};

/** A bound as people say it: `values >= 1`, `length <= 64`. */
function describe(limit: Bound, direction: '>' | '<'): string {
  const what = MEASURED[limit.keyword] ?? limit.keyword.replace(/^(min|max)/, '').toLowerCase();
  return `${what} ${direction}${limit.exclusive ? '' : '='} ${limit.value}`;
}

function show(values: unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

function escape(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => deepEqual((a as SchemaObject)[key], (b as SchemaObject)[key]))
  );
}
