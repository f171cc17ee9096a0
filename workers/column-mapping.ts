/** A file's column names matched to its schema's properties under the dataset's drift rules, any format. */
import type { ColumnDrift, ColumnRules, RowSchema } from '../schemas/dataset.js';
import type { DropgateError } from '../adapters/errors.js';
import { setColumn } from './rows.js';

/** What becomes of one column of the file. */
export interface MappedColumn {
  /** The property the column sets; for a column the schema does not declare, its own name. */
  name: string;
  /** `value`: a property of the row; `rescue`: kept in the row's `rescued`; `ignore`: dropped. */
  kind: 'value' | 'rescue' | 'ignore';
}

/** How a file's columns are read, and how they differ from the schema. */
export interface ColumnMapping {
  /** One per column of the file, in the file's order. */
  columns: MappedColumn[];
  drift: ColumnDrift;
}

/** How problems are worded: CSV names its header (line 1), Parquet its columns. */
export interface ColumnMappingContext {
  /** What a message names the columns after, e.g. `the header has a, b`. */
  holder: string;
  fail(message: string): DropgateError;
}

/**
 * Matches the column names (trimmed, non-empty, distinct) to the schema's properties under the rules:
 * the same name, an alias, or (insensitive) the same letters ignoring case and whitespace. Rejects two
 * columns standing for one property, a missing required property, and a column the rules (or the
 * schema) refuse.
 */
export function columnMapping(
  names: string[],
  schema: RowSchema,
  rules: ColumnRules | undefined,
  context: ColumnMappingContext,
): ColumnMapping {
  const properties = schema.properties ?? {};
  const mapped = propertiesOf(names, schema, rules);
  const holder = new Map<string, string>();
  const renamed: Record<string, string> = {};
  for (const [index, property] of mapped.entries()) {
    if (property === undefined) continue;
    const name = names[index]!;
    const other = holder.get(property);
    if (other !== undefined) {
      throw context.fail(`columns "${other}" and "${name}" both stand for property ${property}`);
    }
    holder.set(property, name);
    if (name !== property) setColumn(renamed, name, property);
  }
  const missingRequired = (schema.required ?? []).filter((name) => !holder.has(name));
  if (missingRequired.length > 0) {
    throw context.fail(
      `missing required column(s) ${missingRequired.join(', ')}; ${context.holder} has ${names.join(', ')}`,
    );
  }
  const added = names.filter((_, index) => mapped[index] === undefined);
  const unknown = rules?.unknown ?? (schema.additionalProperties === false ? 'reject' : 'allowed');
  if (added.length > 0 && unknown === 'reject') {
    throw context.fail(
      rules?.unknown === 'reject'
        ? `column(s) ${added.join(', ')} are not in the schema, and the dataset's drift rule is reject`
        : `column(s) ${added.join(', ')} are not in the schema, which allows no other columns`,
    );
  }
  const columns = names.map((name, index): MappedColumn => {
    const property = mapped[index];
    if (property !== undefined) return { name: property, kind: 'value' };
    return { name, kind: unknown === 'rescue' || unknown === 'ignore' ? unknown : 'value' };
  });
  const missing = Object.keys(properties).filter((property) => !holder.has(property));
  return { columns, drift: { added, missing, renamed, unknown } };
}

/** Whether the file's columns differ from the schema in a way its summary reports. */
export function driftFound(drift: ColumnDrift): boolean {
  return drift.added.length + drift.missing.length + Object.keys(drift.renamed).length > 0;
}

/** Case and whitespace fold, for `matching: 'insensitive'`. */
const folded = (name: string) => name.toLowerCase().replace(/\s+/g, '');

/** The property each column name stands for: the same name, an alias, or (insensitive) a folded match. */
function propertiesOf(names: string[], schema: RowSchema, rules: ColumnRules | undefined) {
  const properties = schema.properties ?? {};
  // Object.hasOwn: a column named constructor is not taken for a declared property.
  const declared = (name: string) => Object.hasOwn(properties, name);
  const insensitive = rules?.matching === 'insensitive';
  const keyOf = insensitive ? folded : (name: string) => name;
  const byAlias = new Map<string, string>();
  for (const [property, aliases] of Object.entries(rules?.aliases ?? {})) {
    for (const alias of aliases) byAlias.set(keyOf(alias), property);
  }
  const byFolded = new Map<string, string>();
  if (insensitive) for (const property of Object.keys(properties)) byFolded.set(folded(property), property);
  return names.map((name) =>
    declared(name)
      ? name
      : (byAlias.get(keyOf(name)) ?? (insensitive ? byFolded.get(folded(name)) : undefined)),
  );
}
