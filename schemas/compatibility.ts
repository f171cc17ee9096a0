/**
 * Compatibility of a dataset's schema versions under a declared mode, as Confluent Schema Registry names
 * them. BACKWARD: consumers on the newer version read events of the older; FORWARD: consumers on the
 * older read events of the newer; FULL: both. The plain modes compare consecutive versions, the
 * `_TRANSITIVE` ones each version with every earlier one; NONE checks nothing.
 */
import { subsetIssues, type Rule } from './schema-subset.js';

export const COMPATIBILITY_MODES = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

export interface Finding {
  dataset: string;
  /** The older and the newer version compared. */
  older: number;
  newer: number;
  /** Which reading fails: `backward` (newer reads older events) or `forward` (older reads newer events). */
  direction: 'backward' | 'forward';
  /** JSON pointer of the keyword at issue, in the reading version's schema. */
  pointer: string;
  rule: Rule;
  message: string;
}

/** The findings of one pair of versions under `mode` (its transitive form compares the same way). */
export function checkPair(
  dataset: string,
  older: { version: number; schema: unknown },
  newer: { version: number; schema: unknown },
  mode: CompatibilityMode,
): Finding[] {
  const findings: Finding[] = [];
  const base = { dataset, older: older.version, newer: newer.version };
  const names = { old: `v${older.version}`, new: `v${newer.version}` };
  if (mode.startsWith('BACKWARD') || mode.startsWith('FULL')) {
    for (const issue of subsetIssues(older.schema, newer.schema, {
      writer: names.old,
      reader: names.new,
      readerIsNewer: true,
    })) {
      findings.push({ ...base, direction: 'backward', ...issue });
    }
  }
  if (mode.startsWith('FORWARD') || mode.startsWith('FULL')) {
    for (const issue of subsetIssues(newer.schema, older.schema, {
      writer: names.new,
      reader: names.old,
      readerIsNewer: false,
    })) {
      findings.push({ ...base, direction: 'forward', ...issue });
    }
  }
  return findings;
}

/** Every finding of a dataset's versions (any order) under `mode`; none means compatible. */
export function checkDataset(
  dataset: string,
  versions: ReadonlyMap<number, unknown>,
  mode: CompatibilityMode,
): Finding[] {
  if (mode === 'NONE') return [];
  const ordered = [...versions.entries()]
    .sort(([a], [b]) => a - b)
    .map(([version, schema]) => ({ version, schema }));
  const transitive = mode.endsWith('_TRANSITIVE');
  const findings: Finding[] = [];
  for (let index = 1; index < ordered.length; index++) {
    const earlier = transitive ? ordered.slice(0, index) : [ordered[index - 1]!];
    for (const older of earlier) findings.push(...checkPair(dataset, older, ordered[index]!, mode));
  }
  return findings;
}

/** One line a person reads: dataset, versions, mode, pointer, rule, then what breaks. */
export function formatFinding(finding: Finding, mode: CompatibilityMode): string {
  const { dataset, older, newer } = finding;
  const reading =
    finding.direction === 'backward'
      ? `consumers on v${newer} cannot read every v${older} event`
      : `consumers on v${older} cannot read every v${newer} event`;
  return `${dataset} v${older} -> v${newer} breaks ${mode}: ${reading}: ${finding.pointer || '/'} [${finding.rule}] ${finding.message}`;
}
