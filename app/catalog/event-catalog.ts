/**
 * The event catalog's content, from the config and the schemas: each event type Dropgate publishes (each
 * dataset's row event, then its own control events), its topics and owner, every schema version with
 * what changed since the one before and whether that breaks the declared mode, and an example event
 * built by the pipeline's own envelope code from values the schema accepts.
 */
import type { ConfigFile } from '../config.js';
import type { CompiledDataset } from '../../workers/compiled-dataset.js';
import { dataschemaUri, type DatasetDefinition, type RowSchema } from '../../schemas/dataset.js';
import { checkPair, formatFinding, type CompatibilityMode } from '../../schemas/compatibility.js';
import {
  CONTROL_COMPATIBILITY,
  CONTROL_NAMESPACE,
  CONTROL_SCHEMAS,
  controlDataschemaUri,
  type ControlSchemaName,
} from '../../schemas/control-schemas.js';
import { formatChange, schemaDiff } from '../../schemas/schema-diff.js';
import { exampleValue } from '../../schemas/example-value.js';
import { createAjvValidatorFactory, type RowValidator } from '../../schemas/row-validator.js';
import {
  fileFingerprint,
  fileSummaryEvent,
  rejectionEvent,
  rowEventHead,
  type FileContext,
} from '../../workers/envelope.js';
import { RowBlockBuilder } from '../../workers/row-block.js';

export interface CatalogVersion {
  version: number;
  retired: boolean;
  dataschema: string;
  schema: RowSchema;
  /** Changes since the version before (none for the first), one line each. */
  changes: string[];
  /** Why consumers cannot read across from the version before under the mode; empty when they can. */
  breaks: string[];
  /** A whole CloudEvent as the pipeline publishes it for this version. */
  example: Record<string, unknown>;
  /** Why the example does not meet the schema (a pattern no generated value meets); empty when it does. */
  exampleIssues: string[];
}

export interface CatalogEntry {
  eventType: string;
  /** The dataset's name, or the control schema's registry name (`_dropgate/file-summary`). */
  schemaName: string;
  kind: 'dataset' | 'control';
  description: string;
  owner?: string;
  /** Where the events go. */
  topics: string[];
  /** Where a dataset's rejected rows go. */
  deadLetterTopic?: string;
  compatibility: CompatibilityMode;
  /** Oldest first. */
  versions: CatalogVersion[];
}

export interface EventCatalog {
  entries: CatalogEntry[];
}

/** Example values of the object an example event is about. */
const EXAMPLE_OBJECT = {
  version: '1732442400000000',
  updated: '2026-11-24T10:00:00Z',
  size: 52_431,
};

/** `datasets` are loadConfig's compiled ones, in `file.datasets`' order. */
export async function buildEventCatalog(
  file: ConfigFile,
  datasets: CompiledDataset[],
): Promise<EventCatalog> {
  const entries: CatalogEntry[] = [];
  const bucket = bucketOf(file);
  const source = sourceOf(file);
  for (const [index, dataset] of datasets.entries()) {
    const settings = file.datasets[index]!;
    const mode = settings.compatibility;
    const ordered = [...(dataset.versions?.values() ?? [dataset])].sort(
      (a, b) => a.schemaVersion - b.schemaVersion,
    );
    const versions: CatalogVersion[] = [];
    for (const [position, version] of ordered.entries()) {
      const context = await fileContext(version, bucket, source);
      const example = rowExample(context, version.validate);
      versions.push({
        version: version.schemaVersion,
        retired: dataset.retired?.includes(version.schemaVersion) ?? false,
        dataschema: dataschemaUri(version),
        schema: version.schema,
        ...comparison(dataset.name, ordered[position - 1], version, mode),
        ...example,
      });
    }
    entries.push({
      eventType: dataset.eventType,
      schemaName: dataset.name,
      kind: 'dataset',
      description:
        (dataset.schema.description as string | undefined) ??
        `One per valid row of a file of dataset ${dataset.name} (objects matching ${dataset.match}).`,
      ...(settings.owner ? { owner: settings.owner } : {}),
      topics: [dataset.topic],
      deadLetterTopic: dataset.deadLetterTopic,
      compatibility: mode,
      versions,
    });
  }
  const validate = createAjvValidatorFactory();
  const someDataset = datasets[0];
  for (const control of CONTROL_SCHEMAS) {
    for (const eventType of control.eventTypes) {
      const ordered = [...control.versions.entries()].sort(([a], [b]) => a - b);
      const versions: CatalogVersion[] = [];
      for (const [position, [version, schema]] of ordered.entries()) {
        const name = `${CONTROL_NAMESPACE}/${control.name}`;
        const previous = ordered[position - 1];
        const context = someDataset ? await fileContext(someDataset, bucket, source) : undefined;
        const example = context
          ? controlExample(context, control.name, eventType, schema)
          : { example: {}, exampleIssues: ['no dataset is configured'] };
        const issues = validate(schema, name)(example.example.data as Record<string, unknown>) ?? [];
        versions.push({
          version,
          retired: false,
          dataschema: controlDataschemaUri(control.name, file.schemaBaseUrl, version),
          schema,
          ...comparison(
            name,
            previous && { schemaVersion: previous[0], schema: previous[1] },
            { schemaVersion: version, schema },
            CONTROL_COMPATIBILITY,
          ),
          example: example.example,
          exampleIssues: [
            ...example.exampleIssues,
            ...issues.map((issue) => `${issue.field}: ${issue.reason}`),
          ],
        });
      }
      entries.push({
        eventType,
        schemaName: `${CONTROL_NAMESPACE}/${control.name}`,
        kind: 'control',
        description: (ordered.at(-1)![1].description as string | undefined) ?? '',
        owner: 'Dropgate',
        topics:
          control.name === 'dead-letter' ? datasets.map((each) => each.deadLetterTopic) : [file.controlTopic],
        compatibility: CONTROL_COMPATIBILITY,
        versions,
      });
    }
  }
  return { entries };
}

function comparison(
  name: string,
  previous: { schemaVersion: number; schema: unknown } | undefined,
  current: { schemaVersion: number; schema: unknown },
  mode: CompatibilityMode,
): { changes: string[]; breaks: string[] } {
  if (!previous) return { changes: [], breaks: [] };
  const findings = checkPair(
    name,
    { version: previous.schemaVersion, schema: previous.schema },
    { version: current.schemaVersion, schema: current.schema },
    mode,
  );
  return {
    changes: schemaDiff(previous.schema, current.schema).map(formatChange),
    breaks: findings.map((finding) => formatFinding(finding, mode)),
  };
}

/** A row event exactly as the pipeline writes it: the example row through RowBlockBuilder. */
function rowExample(
  file: FileContext,
  validate: RowValidator,
): { example: Record<string, unknown>; exampleIssues: string[] } {
  const values = exampleValue(file.dataset.schema) as Record<string, unknown>;
  const builder = new RowBlockBuilder({
    head: rowEventHead(file),
    validate,
    renderRaw: (raw) => raw,
    skipThrough: 0,
    startRow: 0,
  });
  builder.add([{ row: 1, line: 2, values, issues: [], raw: values }]);
  const block = builder.take();
  if (block.rejections.length > 0) {
    // Still show the event the row would have made, with why it would be dead-lettered instead.
    const head = JSON.parse(`${rowEventHead(file)}1"}`) as Record<string, unknown>;
    return {
      example: { ...head, rownumber: 1, data: values },
      exampleIssues: block.rejections[0]!.issues.map((issue) => `${issue.field}: ${issue.reason}`),
    };
  }
  return { example: JSON.parse(new TextDecoder().decode(block.bytes)), exampleIssues: [] };
}

function controlExample(
  file: FileContext,
  name: ControlSchemaName,
  eventType: string,
  schema: RowSchema,
): { example: Record<string, unknown>; exampleIssues: string[] } {
  const data = exampleValue(schema) as Record<string, unknown>;
  const event =
    name === 'dead-letter'
      ? rejectionEvent(file, {
          row: Number(data.row),
          line: Number(data.line),
          issues: data.errors as Array<{ field: string; reason: string }>,
          raw: data.raw,
        })
      : fileSummaryEvent(file, eventType as 'FileIngested' | 'FileRejected', 0, {
          ...data,
          dataset: file.dataset.name,
          schemaVersion: file.dataset.schemaVersion,
          bucket: file.object.bucket,
          objectKey: file.object.key,
          objectVersion: file.object.version,
          state: eventType === 'FileIngested' ? 'ingested' : 'rejected',
        });
  return { example: JSON.parse(event.body) as Record<string, unknown>, exampleIssues: [] };
}

async function fileContext(dataset: DatasetDefinition, bucket: string, source: string): Promise<FileContext> {
  const object = { bucket, key: exampleKey(dataset), ...EXAMPLE_OBJECT };
  return { object, source, dataset, fingerprint: await fileFingerprint(object, dataset) };
}

/** A key the dataset's glob matches, in the version's folder when the glob leaves room for one. */
function exampleKey(dataset: DatasetDefinition): string {
  const key = dataset.match
    .replace(/\*\*/g, `v${dataset.schemaVersion}/2026-11-24`)
    .replace(/\*/g, 'acme')
    .replace(/\/+$/, '');
  return /\.[A-Za-z0-9]+$/.test(key) ? key : `${key}/export.csv`;
}

function bucketOf(file: ConfigFile): string {
  return 'bucket' in file.store ? file.store.bucket : 'local';
}

/** CloudEvents `source` as each store names its bucket (the adapters' own `source`). */
function sourceOf(file: ConfigFile): string {
  const bucket = bucketOf(file);
  switch (file.store.type) {
    case 'gcs':
      return `//storage.googleapis.com/projects/_/buckets/${bucket}`;
    case 's3':
      return `arn:aws:s3:::${bucket}`;
    case 'r2':
      return `//r2.cloudflarestorage.com/buckets/${bucket}`;
    default:
      return `//dropgate.local/buckets/${bucket}`;
  }
}
