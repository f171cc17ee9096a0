/**
 * Dropgate's own events get versioned schemas in the registry like any dataset's: `file-summary`
 * (`FileIngested`, `FileRejected` on the control topic) and `dead-letter` (`RowRejected` on each dataset's
 * dead-letter topic), under `schemas/_dropgate/<name>/v<N>.json`; events carry the latest version.
 */
import fileSummaryV1 from './_dropgate/file-summary/v1.json' with { type: 'json' };
import deadLetterV1 from './_dropgate/dead-letter/v1.json' with { type: 'json' };
import type { RowSchema } from './dataset.js';
import type { CompatibilityMode } from './compatibility.js';

/** The folder (and registry name prefix) of the control schemas; no dataset name can start with `_`. */
export const CONTROL_NAMESPACE = '_dropgate';

/** Consumers of Dropgate's own events may lag behind or run ahead of the gateway: both ways must read. */
export const CONTROL_COMPATIBILITY: CompatibilityMode = 'FULL_TRANSITIVE';

export type ControlSchemaName = 'file-summary' | 'dead-letter';

export interface ControlSchema {
  name: ControlSchemaName;
  /** The CloudEvents types whose `data` the schema describes. */
  eventTypes: readonly string[];
  /** Every version by N, oldest first. */
  versions: ReadonlyMap<number, RowSchema>;
}

export const CONTROL_SCHEMAS: readonly ControlSchema[] = [
  {
    name: 'file-summary',
    eventTypes: ['FileIngested', 'FileRejected'],
    versions: new Map([[1, fileSummaryV1 as RowSchema]]),
  },
  {
    name: 'dead-letter',
    eventTypes: ['RowRejected'],
    versions: new Map([[1, deadLetterV1 as RowSchema]]),
  },
];

/** The version events of `name` carry: its latest. */
export function controlSchemaVersion(name: ControlSchemaName): number {
  const schema = CONTROL_SCHEMAS.find((candidate) => candidate.name === name)!;
  return Math.max(...schema.versions.keys());
}

/**
 * The `dataschema` URI of a control schema's version (default the latest, which events carry), as
 * dataschemaUri names a dataset's: `<schemaBaseUrl>/_dropgate/<name>/v<N>`, else
 * `urn:dropgate:schema:_dropgate/<name>:v<N>`.
 */
export function controlDataschemaUri(
  name: ControlSchemaName,
  schemaBaseUrl?: string,
  version = controlSchemaVersion(name),
): string {
  if (schemaBaseUrl !== undefined)
    return `${schemaBaseUrl.replace(/\/+$/, '')}/${CONTROL_NAMESPACE}/${name}/v${version}`;
  return `urn:dropgate:schema:${CONTROL_NAMESPACE}/${name}:v${version}`;
}
