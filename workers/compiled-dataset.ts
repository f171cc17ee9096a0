/** A dataset ready to ingest: its versions, the one a file is read with, and those files may not name. */
import { DropgateError } from '../adapters/errors.js';
import type { DatasetDefinition } from '../schemas/dataset.js';
import type { RowValidator } from '../schemas/row-validator.js';
import { versionNamedByKey } from '../schemas/schema-versions.js';

export interface CompiledDataset extends DatasetDefinition {
  validate: RowValidator;
  /**
   * Every version of the dataset's schema by N, this one included, when the dataset is configured from a
   * folder of versions; absent for a dataset configured from one schema file (one version).
   */
  versions?: ReadonlyMap<number, CompiledDataset>;
  /** Versions files may no longer be written for (config `retired`). */
  retired?: readonly number[];
  /** Set on a version a file named but may not use (retired, unknown): why the file is rejected. */
  refused?: string;
}

/**
 * The version a file at `key` is validated and stamped with: the one a `v<N>` folder of its key names,
 * else the dataset's default (`dataset` itself). A dataset configured from one schema file has one
 * version and its keys are not searched. A version that is retired or unknown comes back with `refused`
 * set, so the pipeline rejects the file (after claiming it, so the ledger and the summary say why).
 */
export function datasetVersionFor(dataset: CompiledDataset, key: string): CompiledDataset {
  if (!dataset.versions) return dataset;
  const named = versionNamedByKey(key);
  if (named === undefined || named === dataset.schemaVersion) return dataset;
  const refusal = versionRefusal(dataset, named);
  if (refusal) {
    return { ...(dataset.versions.get(named) ?? dataset), schemaVersion: named, refused: refusal.message };
  }
  return dataset.versions.get(named)!;
}

/** Why files may not be written for version `version` of `dataset`, or undefined when they may. */
export function versionRefusal(dataset: CompiledDataset, version: number): DropgateError | undefined {
  const known = dataset.versions ? [...dataset.versions.keys()] : [dataset.schemaVersion];
  const live = known.filter((candidate) => !dataset.retired?.includes(candidate));
  const context = { dataset: dataset.name, schemaVersion: version };
  if (dataset.retired?.includes(version)) {
    return new DropgateError(
      'SCHEMA_VERSION_REFUSED',
      `version ${version} of dataset ${dataset.name} is retired; files must be written for ${describe(live)}`,
      { context },
    );
  }
  if (!known.includes(version)) {
    return new DropgateError(
      'SCHEMA_VERSION_REFUSED',
      `dataset ${dataset.name} has no schema version ${version}; files must be written for ${describe(live)}`,
      { context },
    );
  }
  return undefined;
}

function describe(versions: number[]): string {
  const names = versions.sort((a, b) => a - b).map((version) => `v${version}`);
  return names.length === 1 ? names[0]! : `one of ${names.join(', ')}`;
}
