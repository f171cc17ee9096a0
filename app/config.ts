/** The gateway's configuration: one schema for the config file and one for the environment, parsed once. */
import { z } from 'zod';
import {
  defaultCsvOptions,
  defaultDecompressionLimits,
  type DatasetDefinition,
  type RowSchema,
} from '../schemas/dataset.js';
import type { ValidatorFactory } from '../schemas/row-validator.js';
import { isVersionSegment, versionOfSchemaFile } from '../schemas/schema-versions.js';
import { COMPATIBILITY_MODES } from '../schemas/compatibility.js';
import { canDecode } from '../workers/decode.js';
import type { TextDecoding } from '../workers/text-decoding.js';
import { DropgateError } from '../adapters/errors.js';
import { issueMessage } from './issue-messages.js';
import type { CompiledDataset } from '../workers/ingest-file.js';

const topicName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/,
    'must be letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

const csvOptions = z
  .object({
    delimiter: z
      .string()
      .refine(
        (value) => [...value].length === 1 && !/[\r\n"]/.test(value),
        'must be one character, not a quote or newline',
      )
      .default(defaultCsvOptions.delimiter),
    /** Checked by compileDatasets, against what the runtime decodes. */
    encoding: z.string().default(defaultCsvOptions.encoding),
    header: z.boolean().default(defaultCsvOptions.header),
    quote: z
      .string()
      .refine((value) => value.length === 1, 'must be one character')
      .default(defaultCsvOptions.quote),
  })
  .strict();

const datasetConfig = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "_" or "-"')
      .refine((name) => !isVersionSegment(name), 'must not read as a version folder such as v2'),
    match: z.string().min(1),
    format: z.enum(['csv', 'parquet', 'auto']).default('auto'),
    /** A folder of versions `v<N>.json`, or (one version only) a schema file `v<N>.json`. */
    schema: z
      .string()
      .min(1)
      .refine(
        (path) => !path.endsWith('.json') || versionOfSchemaFile(path) !== undefined,
        'must name a folder of schema versions or a schema file v<N>.json',
      ),
    /** The version files get when their key names none (a folder of versions only); default the latest. */
    version: z.number().int().positive().optional(),
    /** Versions files may no longer be written for (a folder of versions only). */
    retired: z.array(z.number().int().positive()).default([]),
    /** What `dropgate schemas check` holds the dataset's versions to. */
    compatibility: z.enum(COMPATIBILITY_MODES).default('BACKWARD'),
    eventType: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be PascalCase, e.g. OrderReceived'),
    topic: topicName,
    deadLetterTopic: topicName,
    csv: csvOptions.default(csvOptions.parse({})),
    /** Bounds on what a gzip file may decompress to (a decompression bomb is rejected with the reason). */
    decompression: z
      .object({
        maxBytes: z.number().int().positive().default(defaultDecompressionLimits.maxBytes),
        maxRatio: z.number().positive().default(defaultDecompressionLimits.maxRatio),
      })
      .strict()
      .default(defaultDecompressionLimits),
  })
  .strict();

/** Adapter types this build knows, per port; cloud types join as their adapters land. */
export const ADAPTER_TYPES = {
  store: ['local', 'r2'],
  sink: ['local', 'cloudflare-queues'],
  ledger: ['local', 'durable-object'],
  intake: ['local-upload', 'r2-queue'],
} as const;

/** Adapter types that exist only on Cloudflare Workers (their bindings exist nowhere else). */
export const WORKERS_ONLY_TYPES: readonly string[] = [
  'r2',
  'cloudflare-queues',
  'durable-object',
  'r2-queue',
];

const adapterType = <T extends readonly [string, ...string[]]>(types: T) =>
  z.enum(types, { error: () => `must be one of: ${types.join(', ')}` });

/**
 * A port's config: `type` is checked first against the known types (so an unknown one is named as
 * such), then the object against its type's own strict fields.
 */
const adapterConfig = <
  T extends readonly [string, ...string[]],
  O extends readonly [
    z.ZodObject<{ type: z.ZodLiteral<string> }>,
    ...z.ZodObject<{ type: z.ZodLiteral<string> }>[],
  ],
>(
  types: T,
  options: O,
) =>
  z
    .object({ type: adapterType(types) })
    .passthrough()
    .pipe(z.discriminatedUnion('type', options));

/** A Workers binding name, as wrangler.toml's `binding` takes it. */
const bindingName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a binding name: letters, digits and "_", e.g. BUCKET');

const r2StoreConfig = z
  .object({
    type: z.literal('r2'),
    /** The bucket's name, as R2 event notifications and the S3 API name it. */
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        'must be an R2 bucket name: 3-63 lowercase letters, digits, "-"',
      ),
    /** The R2 bucket binding in wrangler.toml. */
    binding: bindingName.default('BUCKET'),
  })
  .strict();

const cloudflareQueuesSinkConfig = z
  .object({
    type: z.literal('cloudflare-queues'),
    /** The queue producer binding of each topic; a topic not listed is itself the binding's name. */
    bindings: z.record(z.string(), bindingName).default({}),
    /** Topics whose messages carry many events each, as NDJSON: the most events per message. */
    rowsPerMessage: z.record(z.string(), z.number().int().min(1).max(10_000)).default({}),
  })
  .strict();

const durableObjectLedgerConfig = z
  .object({
    type: z.literal('durable-object'),
    /** The Durable Object namespace binding of the LedgerDurableObject class. */
    binding: bindingName.default('LEDGER'),
  })
  .strict();

const storeConfig = adapterConfig(ADAPTER_TYPES.store, [
  z.object({ type: z.literal('local') }).strict(),
  r2StoreConfig,
]);
const sinkConfig = adapterConfig(ADAPTER_TYPES.sink, [
  z.object({ type: z.literal('local') }).strict(),
  cloudflareQueuesSinkConfig,
]);
const ledgerConfig = adapterConfig(ADAPTER_TYPES.ledger, [
  z.object({ type: z.literal('local') }).strict(),
  durableObjectLedgerConfig,
]);

/** `background`: acknowledge once recorded, ingest after; `inline`: ingest before answering. */
const intakeMode = z.enum(['background', 'inline']);

const intakeConfig = adapterConfig(ADAPTER_TYPES.intake, [
  z.object({ type: z.literal('local-upload'), mode: intakeMode.default('background') }).strict(),
  // A queue consumer on Workers has no process to ingest in afterwards: it always ingests inline.
  z
    .object({
      type: z.literal('r2-queue'),
      mode: z
        .literal('inline', { error: 'must be "inline": a Workers queue consumer ingests within the message' })
        .default('inline'),
      /** Delay of a message's first retry, doubling with each delivery up to `maxRetrySeconds`. */
      firstRetrySeconds: z.number().int().min(0).max(43_200).default(10),
      maxRetrySeconds: z.number().int().min(0).max(43_200).default(900),
    })
    .strict(),
]);

export const configFileSchema = z
  .object({
    dataDir: z.string().min(1).default('.dropgate'),
    store: storeConfig.default({ type: 'local' }),
    sink: sinkConfig.default({ type: 'local' }),
    ledger: ledgerConfig.default({ type: 'local' }),
    /** Exactly the intakes that run; the local upload intake when absent. */
    intake: z
      .array(intakeConfig)
      .refine(
        (list) => new Set(list.map((intake) => intake.type)).size === list.length,
        'each intake type may appear once',
      )
      .default([{ type: 'local-upload', mode: 'background' }]),
    controlTopic: topicName.default('dropgate.files'),
    /**
     * Where the registry is served from outside (`https://dropgate.example.com/schemas`): events'
     * `dataschema` becomes `<schemaBaseUrl>/<dataset>/v<N>` unless the schema declares an `$id`.
     */
    schemaBaseUrl: z
      .url()
      .refine((url) => /^https?:\/\//.test(url), 'must be an http(s) URL')
      .optional(),
    /**
     * Seconds between sweeps of the ledger for unfinished versions to resume (a retryable failure after a
     * long outage, a lease of an instance that died); 0 turns sweeps off. The start always sweeps.
     */
    resumeIntervalSeconds: z.number().int().min(0).max(86_400).default(300),
    /** Worker threads parsing CSV (Parquet: one fewer, at least one); 0: none. Default: the cores. */
    ingestThreads: z.number().int().min(0).max(256).optional(),
    uploads: z
      .object({
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024 ** 3),
        expiresInSeconds: z.number().int().min(60).max(604_800).default(900),
      })
      .strict()
      .default({ maxBytes: 5 * 1024 ** 3, expiresInSeconds: 900 }),
    datasets: z
      .array(datasetConfig)
      .min(1)
      .refine(
        (list) => new Set(list.map((dataset) => dataset.name)).size === list.length,
        'dataset names must be unique',
      ),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;
export type DatasetConfig = z.infer<typeof datasetConfig>;

/** Secrets and deployment settings come from the environment, never from the config file. */
export const environmentSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8787),
  /** Address to listen on; default all interfaces, or 127.0.0.1 when local credentials were generated. */
  HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0')
    .optional(),
  DROPGATE_CONFIG: z.string().optional(),
  DROPGATE_PUBLIC_URL: z.url().optional(),
  DROPGATE_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DROPGATE_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** `vendor=key` pairs separated by commas; keys of at least 16 characters. */
  DROPGATE_VENDOR_KEYS: z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined || value.trim() === '') return undefined;
      const keys = new Map<string, string>();
      for (const pair of value.split(',')) {
        const [vendor, key, extra] = pair.trim().split('=');
        if (
          !vendor ||
          !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(vendor) ||
          isVersionSegment(vendor) ||
          !key ||
          key.length < 16 ||
          extra !== undefined
        ) {
          context.addIssue({
            code: 'custom',
            message:
              'must be vendor=key pairs (lowercase vendor, not a version folder such as v2; key of 16+ characters)',
          });
          return z.NEVER;
        }
        const holder = keys.get(key);
        if (holder !== undefined) {
          // One key for two vendors would upload under whichever came last: refuse to guess.
          context.addIssue({
            code: 'custom',
            message: `the same key is given to vendors ${holder} and ${vendor}; each vendor needs its own key`,
          });
          return z.NEVER;
        }
        keys.set(key, vendor);
      }
      return keys;
    }),
});

export type Environment = z.infer<typeof environmentSchema>;

/** Parses with `schema`, or throws CONFIG_INVALID naming every bad field of `what`. */
export function parseOrExplain<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issueMessage(issue)}`,
  );
  throw new DropgateError('CONFIG_INVALID', `${what} is invalid:\n  ${problems.join('\n  ')}`);
}

/** How a runtime reads the schema files a config names (paths as written in the config). */
export interface SchemaFiles {
  read(path: string): Promise<unknown>;
  /** The file names in a folder, or undefined when `path` is not a folder. */
  list?(path: string): Promise<string[] | undefined>;
}

/**
 * Loads and compiles each dataset's schema versions; `files` resolves the config's schema paths (a bare
 * function reads files only). `decoding` is the runtime's (text-decoding.ts): a `csv.encoding` it cannot
 * decode is refused here, at startup. Each dataset comes back as its default version, carrying the others.
 */
export async function compileDatasets(
  datasets: DatasetConfig[],
  files: SchemaFiles | ((path: string) => Promise<unknown>),
  compile: ValidatorFactory,
  decoding: TextDecoding,
  options: { schemaBaseUrl?: string } = {},
): Promise<CompiledDataset[]> {
  const schemaFiles = typeof files === 'function' ? { read: files } : files;
  return Promise.all(
    datasets.map(async (dataset, index) => {
      const { encoding } = dataset.csv;
      if (!canDecode(encoding, decoding)) {
        throw new DropgateError(
          'CONFIG_INVALID',
          `datasets.${index}.csv.encoding: ${encoding} is not an encoding Dropgate can decode on this ` +
            'runtime (e.g. utf-8, windows-1252, iso-8859-1)',
        );
      }
      const field = `datasets.${index}.schema`;
      const paths = await versionFiles(dataset, index, schemaFiles);
      const { version, retired, compatibility: _mode, schema: _path, ...rest } = dataset;
      const compiled = new Map<number, CompiledDataset>();
      const versions = paths.length > 1 || !dataset.schema.endsWith('.json') ? compiled : undefined;
      for (const [schemaVersion, path] of paths) {
        const schema = await readSchema(schemaFiles, path, field);
        const definition: DatasetDefinition = {
          ...rest,
          schema,
          schemaVersion,
          ...(options.schemaBaseUrl ? { schemaBaseUrl: options.schemaBaseUrl } : {}),
        };
        try {
          compiled.set(schemaVersion, {
            ...definition,
            validate: compile(schema, path),
            ...(versions ? { versions, retired } : {}),
          });
        } catch (error) {
          throw new DropgateError('CONFIG_INVALID', `${field}: ${(error as Error).message}`);
        }
      }
      const chosen = version ?? Math.max(...[...compiled.keys()].filter((n) => !retired.includes(n)));
      return compiled.get(chosen)!;
    }),
  );
}

/** The schema files of a dataset, by version: every `v<N>.json` of its folder, or its one file. */
async function versionFiles(
  dataset: DatasetConfig,
  index: number,
  files: SchemaFiles,
): Promise<[number, string][]> {
  const fail = (field: string, message: string) => {
    throw new DropgateError('CONFIG_INVALID', `datasets.${index}.${field}: ${message}`);
  };
  const single = versionOfSchemaFile(dataset.schema);
  let found: [number, string][];
  if (dataset.schema.endsWith('.json') && single !== undefined) {
    if (dataset.version !== undefined || dataset.retired.length > 0) {
      fail(
        dataset.version !== undefined ? 'version' : 'retired',
        `needs "schema" to name a folder of versions, not the one file ${dataset.schema}`,
      );
    }
    found = [[single, dataset.schema]];
  } else {
    let names: string[] | undefined;
    try {
      names = await files.list?.(dataset.schema);
    } catch (error) {
      fail('schema', `cannot read ${dataset.schema}: ${(error as Error).message}`);
    }
    if (names === undefined) return fail('schema', `${dataset.schema} is not a folder of schema versions`);
    const folder = dataset.schema.replace(/\/+$/, '');
    found = names.flatMap((name): [number, string][] => {
      const version = versionOfSchemaFile(name);
      return version === undefined ? [] : [[version, `${folder}/${name}`]];
    });
    found.sort(([a], [b]) => a - b);
    if (found.length === 0) fail('schema', `${dataset.schema} holds no schema file v<N>.json`);
  }
  const known = found.map(([version]) => version);
  for (const retired of dataset.retired) {
    if (!known.includes(retired)) fail('retired', `${dataset.schema} has no version ${retired}`);
  }
  if (dataset.version !== undefined) {
    if (!known.includes(dataset.version))
      fail('version', `${dataset.schema} has no version ${dataset.version}`);
    if (dataset.retired.includes(dataset.version)) fail('version', `version ${dataset.version} is retired`);
  } else if (known.every((version) => dataset.retired.includes(version))) {
    fail('retired', 'every version is retired; at least one must stay live');
  }
  return found;
}

async function readSchema(files: SchemaFiles, path: string, field: string): Promise<RowSchema> {
  let schema: unknown;
  try {
    schema = await files.read(path);
  } catch (error) {
    throw new DropgateError('CONFIG_INVALID', `${field}: cannot read ${path}: ${(error as Error).message}`);
  }
  if (typeof schema !== 'object' || schema === null || (schema as RowSchema).type !== 'object') {
    throw new DropgateError(
      'CONFIG_INVALID',
      `${field}: ${path} must be a JSON Schema with "type": "object"`,
    );
  }
  return schema as RowSchema;
}
