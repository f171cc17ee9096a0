/** The gateway's configuration: one schema for the config file and one for the environment, parsed once. */
import { z } from 'zod';
import {
  defaultCsvOptions,
  defaultDecompressionLimits,
  type DatasetDefinition,
  type RowSchema,
  RESCUED_PROPERTY,
  type ColumnRules,
} from '../schemas/dataset.js';
import type { ValidatorFactory } from '../schemas/row-validator.js';
import { isVersionSegment, versionOfSchemaFile } from '../schemas/schema-versions.js';
import { COMPATIBILITY_MODES } from '../schemas/compatibility.js';
import { pastTenseNameProblem } from '../schemas/past-tense-name.js';
import { canDecode } from '../workers/decode.js';
import type { TextDecoding } from '../workers/text-decoding.js';
import { DropgateError } from '../adapters/errors.js';
import { isR2Endpoint } from '../adapters/object-store/s3-endpoints.js';
import { describeIssue } from './issue-messages.js';
import type { CompiledDataset } from '../workers/ingest-file.js';

const LOCAL_TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** An SQS queue's name (a FIFO queue's ends in `.fifo`), or its URL. */
const SQS_QUEUE = /^(?:[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo|https?:\/\/\S+)$/;

/** A topic as the local sink names it, or an SQS queue URL; which one a sink takes is checked against it. */
const topicName = z
  .string()
  .refine(
    (topic) => LOCAL_TOPIC.test(topic) || /^https?:\/\/\S+$/.test(topic),
    'must be letters, digits, ".", "_" or "-", starting with a letter or digit (or an SQS queue URL)',
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

/** Where after-processing moves objects: a key prefix ending in "/" that the object's key is appended to. */
const movePrefix = z
  .string()
  .min(2)
  .max(1_024)
  .regex(/^[^/].*\/$/, 'must be a key prefix ending in "/" (e.g. "archive/"), not starting with "/"');

const datasetConfig = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "_" or "-"')
      .refine((name) => !isVersionSegment(name), 'must not read as a version folder such as v2'),
    /** A glob over object keys; bounded, since a matcher is compiled from it for every key. */
    match: z.string().min(1).max(4_096, 'must be at most 4,096 characters'),
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
    /** Past tense, checked at start (schemas/past-tense-name.ts): an event names what happened. */
    eventType: z
      .string()
      .regex(/^[A-Z][A-Za-z0-9]*$/, 'must be PascalCase, e.g. OrderReceived')
      .superRefine((eventType, context) => {
        const problem = /^[A-Z][A-Za-z0-9]*$/.test(eventType) ? pastTenseNameProblem(eventType) : undefined;
        if (problem) context.addIssue({ code: 'custom', message: problem });
      }),
    topic: topicName,
    deadLetterTopic: topicName,
    /** Who answers for the dataset's events (a team, an address), shown in the event catalog. */
    owner: z.string().min(1).max(200).optional(),
    csv: csvOptions.default(csvOptions.parse({})),
    /**
     * Columns the schema does not declare: `reject` the file, `rescue` them as text into the event's
     * `_rescued` object, or `ignore` them; absent: refused when the schema allows no other properties.
     */
    drift: z.enum(['reject', 'rescue', 'ignore']).optional(),
    /** `insensitive`: header names match properties ignoring case and whitespace. */
    headers: z.enum(['exact', 'insensitive']).default('exact'),
    /** Other header names for a property: `{ "order_id": ["OrderID", "order id"] }`. */
    aliases: z.record(z.string().min(1), z.array(z.string().min(1).max(256)).min(1)).default({}),
    /** Bounds on what a gzip file may decompress to (a decompression bomb is rejected with the reason). */
    decompression: z
      .object({
        maxBytes: z.number().int().positive().default(defaultDecompressionLimits.maxBytes),
        maxRatio: z.number().positive().default(defaultDecompressionLimits.maxRatio),
      })
      .strict()
      .default(defaultDecompressionLimits),
    /**
     * What orders the dataset's row events: each carries it as the CloudEvents `partitionkey` extension,
     * and sinks that order by key use it (Pub/Sub ordering key, SQS FIFO message group). A column's value
     * (a row without one has no key), or the object key (every row of a file shares one).
     */
    partitionKey: z
      .union([z.literal('objectKey'), z.object({ column: z.string().min(1).max(256) }).strict()], {
        error: () => 'must be "objectKey" or { "column": "<a column of the schema>" }',
      })
      .optional(),
    /** CloudEvents content mode of the dataset's events on the pubsub sink; default the sink's `mode`. */
    pubsubMode: z.enum(['structured', 'binary']).optional(),
    /** What becomes of an object once it is ingested and its events are durable; default keep. */
    afterIngest: z
      .discriminatedUnion('action', [
        z.object({ action: z.literal('keep') }).strict(),
        z.object({ action: z.literal('delete') }).strict(),
        z.object({ action: z.literal('move'), prefix: movePrefix }).strict(),
      ])
      .default({ action: 'keep' }),
    /** What becomes of a rejected object once its rejection is recorded; default keep. */
    onRejected: z
      .discriminatedUnion('action', [
        z.object({ action: z.literal('keep') }).strict(),
        z.object({ action: z.literal('move'), prefix: movePrefix }).strict(),
      ])
      .default({ action: 'keep' }),
  })
  .strict();

/** Adapter types this build knows, per port; cloud types join as their adapters land. */
export const ADAPTER_TYPES = {
  store: ['local', 'gcs', 's3', 'r2'],
  sink: ['local', 'pubsub', 'sqs', 'cloudflare-queues'],
  ledger: ['local', 'firestore', 'dynamodb', 'durable-object'],
  intake: ['local-upload', 'gcs-pubsub-push', 'gcs-pubsub-pull', 'eventarc', 'sqs', 'sns-https', 'r2-queue'],
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

/** Per topic, the most events one message carries (packed); 1, or a topic not listed: one event a message. */
const rowsPerMessage = z.record(z.string(), z.number().int().min(1).max(10_000)).default({});

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
    rowsPerMessage,
  })
  .strict();

const durableObjectLedgerConfig = z
  .object({
    type: z.literal('durable-object'),
    /** The Durable Object namespace binding of the LedgerDurableObject class. */
    binding: bindingName.default('LEDGER'),
  })
  .strict();

/** For a union of config objects by `type`: an unknown type names the known ones. */
const unknownType = (types: readonly string[]) => ({
  error: (issue: { code: string }) =>
    issue.code === 'invalid_union' ? `must be one of: ${types.join(', ')}` : undefined,
});

const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1')
  .optional();

/** A Google Cloud project id, optionally behind a domain (`example.com:project`). */
const GOOGLE_PROJECT_ID = /^(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** `background`: acknowledge once recorded, ingest after; `inline`: ingest before answering. */
const intakeMode = z.enum(['background', 'inline']);

/**
 * A Google push intake (`gcs-pubsub-push`, `eventarc`): inline by default, since Cloud Run throttles the
 * CPU outside requests; each push's OIDC token verified unless `auth` is explicitly `none`.
 */
const googlePushIntake = <T extends 'gcs-pubsub-push' | 'eventarc'>(type: T) =>
  z
    .object({
      type: z.literal(type),
      mode: intakeMode.default('inline'),
      auth: z.enum(['oidc', 'none']).default('oidc'),
      /** The token's expected `aud`; default the endpoint's URL under DROPGATE_PUBLIC_URL. */
      audience: z.string().min(1).optional(),
      /** The service account the push subscription or trigger signs its tokens as. */
      serviceAccountEmail: z.email('must be a service account email').optional(),
    })
    .strict()
    .refine((intake) => intake.auth === 'none' || intake.serviceAccountEmail !== undefined, {
      message:
        'is missing: the service account the push signs its OIDC token as (or "auth": "none" to accept unsigned pushes, e.g. from the emulator)',
      path: ['serviceAccountEmail'],
    });

const intakeConfig = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('local-upload'), mode: intakeMode.default('background') }).strict(),
    googlePushIntake('gcs-pubsub-push'),
    googlePushIntake('eventarc'),
    z
      .object({
        type: z.literal('gcs-pubsub-pull'),
        /** The subscription to the bucket's notification topic: `projects/<p>/subscriptions/<s>`, or its name. */
        subscription: z
          .string()
          .regex(
            /^(?:projects\/[a-z][a-z0-9.:-]{4,62}\/subscriptions\/)?[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/,
            'must be a Pub/Sub subscription: projects/<project>/subscriptions/<name>, or the name alone',
          ),
        /** The project of a subscription given by name; default the client's (GOOGLE_CLOUD_PROJECT). */
        projectId: z.string().regex(GOOGLE_PROJECT_ID, 'must be a Google Cloud project id').optional(),
        /** Messages (files) handled at once. */
        concurrency: z.number().int().min(1).max(256).default(4),
        /** How long the lease of a message being ingested is extended. */
        maxExtensionMinutes: z.number().int().min(1).max(1440).default(60),
        /** The deadline each lease extension sets (Pub/Sub allows 10 to 600 s). */
        leaseSeconds: z.number().int().min(10).max(600).default(60),
      })
      .strict(),
    z
      .object({
        type: z.literal('sqs'),
        /** The queue S3 (or SNS, or EventBridge) sends the bucket's notifications to. */
        // Checked by shape only: stand-ins hand out URLs such as http://sqs.us-east-1.127.0.0.1:4566/...
        // that a URL parser refuses but SQS clients use as they are.
        queueUrl: z
          .string()
          .regex(
            /^https?:\/\/[^/\s]+\/[^\s]+$/,
            'must be a queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/dropgate-notifications',
          ),
        region: z.string().min(1).optional(),
        /** Messages asked for per receive. */
        maxMessages: z.number().int().min(1).max(10).default(10),
        /** Messages (files) handled at once. */
        concurrency: z.number().int().min(1).max(256).default(4),
        /** Visibility given on receipt, extended every third of it while a file is ingested. */
        visibilityTimeoutSeconds: z.number().int().min(10).max(43_200).default(300),
        /** Long-poll wait of each receive; a stop waits for the receive in progress. */
        waitTimeSeconds: z.number().int().min(1).max(20).default(20),
        /** Longest wait before a message that hit a fault is delivered again. */
        maxRetryDelaySeconds: z.number().int().min(0).max(43_200).default(300),
      })
      .strict(),
    z
      .object({
        type: z.literal('sns-https'),
        /** Only messages of these topics are accepted (and their subscriptions confirmed). */
        topicArns: z
          .array(
            z
              .string()
              .regex(
                /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
                'must be an SNS topic ARN',
              ),
          )
          .min(1),
      })
      .strict(),
    // A queue consumer on Workers has no process to ingest in afterwards: it always ingests inline.
    z
      .object({
        type: z.literal('r2-queue'),
        mode: z
          .literal('inline', {
            error: 'must be "inline": a Workers queue consumer ingests within the message',
          })
          .default('inline'),
        /** Delay of a message's first retry, doubling with each delivery up to `maxRetrySeconds`. */
        firstRetrySeconds: z.number().int().min(0).max(43_200).default(10),
        maxRetrySeconds: z.number().int().min(0).max(43_200).default(900),
        /**
         * Wall-clock seconds an invocation ingests before it stops at a checkpoint and the message is
         * retried at once to go on; keep it below the consumer's CPU limit (`limits.cpu_ms`, 30 s by
         * default) and its 15-minute wall-clock limit.
         */
        budgetSeconds: z.number().positive().max(840).default(25),
      })
      .strict(),
  ],
  unknownType(ADAPTER_TYPES.intake),
);

export type IntakeConfig = z.infer<typeof intakeConfig>;

/** Pub/Sub's topic ids: 3-255 characters, a letter first, not starting with `goog`. */
const PUBSUB_TOPIC_ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

const sinkConfig = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('local') }).strict(),
    z
      .object({
        type: z.literal('pubsub'),
        /** The Google Cloud project the topics belong to. */
        projectId: z
          .string()
          .regex(
            GOOGLE_PROJECT_ID,
            'must be a Google Cloud project id: 6-30 lowercase letters, digits or "-", starting with a letter',
          ),
        /** CloudEvents content mode: the JSON document as data, or `ce-` attributes and the row as data. */
        mode: z.enum(['structured', 'binary']).default('structured'),
        /** Topics whose messages carry many events each (a CloudEvents batch): the most events per message. */
        rowsPerMessage,
      })
      .strict()
      .refine(
        (sink) =>
          sink.mode === 'structured' || Object.values(sink.rowsPerMessage).every((rows) => rows === 1),
        {
          message:
            'packs events into CloudEvents batches, which binary mode cannot carry: use "mode": "structured"',
          path: ['rowsPerMessage'],
        },
      ),
    z
      .object({
        type: z.literal('sqs'),
        /** The SDK's own region (AWS_REGION, the profile) when absent. */
        region: awsRegion,
        /** MessageGroupId of messages sent to FIFO queues; default each event's dataset. */
        fifoGroup: z
          .string()
          .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 letters, digits or punctuation')
          .optional(),
        /** Queues whose messages carry many events each (a CloudEvents batch): the most events per message. */
        rowsPerMessage,
      })
      .strict(),
    cloudflareQueuesSinkConfig,
  ],
  unknownType(ADAPTER_TYPES.sink),
);

/** Where the ledger lives: files under `dataDir` (one process), or Firestore or DynamoDB (shared by every instance). */
const ledgerConfig = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('local') }).strict(),
    z
      .object({
        type: z.literal('firestore'),
        projectId: z
          .string()
          .regex(
            GOOGLE_PROJECT_ID,
            'must be a Google Cloud project id: 6-30 lowercase letters, digits or "-", starting with a letter',
          ),
        databaseId: z
          .string()
          .regex(
            /^(?:\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/,
            'must be (default) or a Firestore database id: 4-63 lowercase letters, digits or "-", starting with a letter',
          )
          .default('(default)'),
        /** Put in front of the collections' names (`versions`, `keys`), so deployments can share a database. */
        collectionPrefix: z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/,
            'must be 1-100 letters, digits, "_", "." or "-", starting with a letter or digit',
          )
          .optional(),
        /**
         * Days a finished version's record carries before its `expireAt` passes (for a Firestore TTL
         * policy); absent: kept for good. An expired record no longer turns away a redelivered notification.
         */
        retentionDays: z.number().int().min(1).max(36_500).optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal('dynamodb'),
        table: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)'),
        region: awsRegion,
        /** Days DynamoDB keeps a finished version's record (TTL); for good when absent. */
        retentionDays: z.number().int().positive().optional(),
      })
      .strict(),
    durableObjectLedgerConfig,
  ],
  unknownType(ADAPTER_TYPES.ledger),
);

/** An S3 bucket (or an S3-compatible one); the SDK's own variables and credentials apply. */
const s3StoreConfig = z
  .object({
    type: z.literal('s3'),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        'must be an S3 bucket name: 3-63 lowercase letters, digits, "." or "-"',
      ),
    /** Else AWS_REGION (or the profile's); `auto` for R2. */
    region: z.string().min(1).optional(),
    /** An S3-compatible endpoint (MinIO, R2); else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS's own. */
    endpoint: z
      .url()
      .refine((url) => /^https?:\/\//.test(url), 'must be an http(s) URL')
      .optional(),
    /** The bucket in the URL's path rather than its host name (MinIO and most stand-ins need it). */
    forcePathStyle: z.boolean().optional(),
    /**
     * `post`: a form whose signed policy bounds the size; `put`: a bare PUT URL, which cannot. Default
     * `post`, or `put` for an R2 endpoint (R2 has no POST policies).
     */
    upload: z.enum(['post', 'put']).optional(),
  })
  .strict()
  .refine((store) => !(store.upload === 'post' && isR2Endpoint(store.endpoint)), {
    message: 'R2 accepts no presigned POST: use "upload": "put" with an R2 endpoint',
    path: ['upload'],
  });

/** A GCS bucket; credentials from `keyFile` or Application Default Credentials. */
const gcsStoreConfig = z
  .object({
    type: z.literal('gcs'),
    /** The bucket name, without `gs://`. */
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
        'must be a GCS bucket name: lowercase letters, digits, "-", "_" and ".", without gs://',
      ),
    projectId: z.string().min(1).optional(),
    /** A service-account JSON key, relative to the config file; absent: Application Default Credentials. */
    keyFile: z.string().min(1).optional(),
  })
  .strict();

/** The store by `type`; an unknown type names the known ones, and each type refuses fields of another. */
const storeConfig = z
  .object({ type: adapterType(ADAPTER_TYPES.store) })
  .passthrough()
  .pipe(
    z.discriminatedUnion('type', [
      z.object({ type: z.literal('local') }).strict(),
      gcsStoreConfig,
      s3StoreConfig,
      r2StoreConfig,
    ]),
  );

export type StoreConfig = z.infer<typeof storeConfig>;

export const configFileSchema = z
  .object({
    dataDir: z.string().min(1).default('.dropgate'),
    store: storeConfig.default({ type: 'local' }),
    sink: sinkConfig.default({ type: 'local' }),
    ledger: ledgerConfig.default({ type: 'local' }),
    /**
     * Exactly the intakes that run. When absent: the local upload intake with the local store, none with
     * a cloud store (vendors upload to the bucket itself, and its notifications need an intake chosen).
     */
    intake: z
      .array(intakeConfig)
      .refine(
        (list) => new Set(list.map((intake) => intake.type)).size === list.length,
        'each intake type may appear once',
      )
      .optional(),
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
    /**
     * The Worker's cron backfill (wrangler.toml `[triggers] crons`): each tick takes one listing step of at
     * most `limit` objects under `prefix` (written at or after `since`), records what the ledger never saw
     * and ingests it; the ledger keeps the cursor for the next tick. Node refuses it: schedule
     * `POST /admin/backfill` there (docs/deploy-cloud-run.md).
     */
    scheduledBackfill: z
      .object({
        prefix: z.string().max(1_024).default(''),
        since: z.iso.datetime({ offset: true }).optional(),
        limit: z.number().int().min(1).max(100_000).default(1_000),
      })
      .strict()
      .optional(),
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
  .strict()
  .superRefine((config, context) => {
    // Each sink names its topics its own way, checked at start rather than at the first file: the local
    // sink's files, Pub/Sub topic ids, SQS queues (by name or URL).
    // Cloudflare Queues topics name bindings, which the Worker's entry checks against its environment.
    const [rule, expected] = {
      'cloudflare-queues': [LOCAL_TOPIC, 'letters, digits, ".", "_" or "-", starting with a letter or digit'],
      local: [LOCAL_TOPIC, 'letters, digits, ".", "_" or "-", starting with a letter or digit'],
      pubsub: [
        PUBSUB_TOPIC_ID,
        'a Pub/Sub topic id: 3-255 letters, digits, "-", "_", ".", "~", "+" or "%", a letter first, not starting with "goog"',
      ],
      sqs: [
        SQS_QUEUE,
        'an SQS queue name (letters, digits, "-" and "_", up to 80; ".fifo" last for a FIFO queue) or queue URL',
      ],
    }[config.sink.type] as [RegExp, string];
    const check = (topic: string, path: Array<string | number>) => {
      if (!rule.test(topic)) {
        context.addIssue({
          code: 'custom',
          path,
          message: `must be ${expected} for the ${config.sink.type} sink`,
        });
      }
    };
    check(config.controlTopic, ['controlTopic']);
    config.datasets.forEach((dataset, index) => {
      check(dataset.topic, ['datasets', index, 'topic']);
      check(dataset.deadLetterTopic, ['datasets', index, 'deadLetterTopic']);
    });
    deliveryProblems(config, context);
  })
  .refine(
    (config) =>
      config.store.type === 'local' || !config.intake?.some((intake) => intake.type === 'local-upload'),
    {
      message:
        'local-upload receives uploads for the local store only; with a cloud store vendors upload to the bucket itself',
      path: ['intake'],
    },
  )
  .transform((config) => ({
    ...config,
    intake:
      config.intake ??
      (config.store.type === 'local' ? [{ type: 'local-upload' as const, mode: 'background' as const }] : []),
  }));

/**
 * Per-dataset delivery settings the sink cannot honour: an ordering no sink of this type keeps, a
 * content mode of another sink's, two modes for one topic.
 */
function deliveryProblems(
  config: {
    sink: z.infer<typeof sinkConfig>;
    datasets: Array<Pick<z.infer<typeof datasetConfig>, 'topic' | 'partitionKey' | 'pubsubMode'>>;
  },
  context: z.RefinementCtx,
): void {
  const { sink } = config;
  const modes = new Map<string, { mode: string; index: number }>();
  config.datasets.forEach((dataset, index) => {
    const at = (field: string) => ['datasets', index, field];
    if (dataset.partitionKey !== undefined && sink.type === 'cloudflare-queues') {
      context.addIssue({
        code: 'custom',
        path: at('partitionKey'),
        message: 'the cloudflare-queues sink keeps no order: Cloudflare Queues have no ordering key',
      });
    }
    if (dataset.partitionKey !== undefined && sink.type === 'sqs' && !dataset.topic.endsWith('.fifo')) {
      context.addIssue({
        code: 'custom',
        path: at('partitionKey'),
        message: `orders messages on a FIFO queue only, and topic "${dataset.topic}" is a standard queue (a FIFO queue's name ends in .fifo)`,
      });
    }
    if (dataset.pubsubMode !== undefined && sink.type !== 'pubsub') {
      context.addIssue({
        code: 'custom',
        path: at('pubsubMode'),
        message: `applies to the pubsub sink only, and the sink is ${sink.type}`,
      });
    }
    if (sink.type !== 'pubsub') return;
    const mode = dataset.pubsubMode ?? sink.mode;
    if (mode === 'binary' && (sink.rowsPerMessage[dataset.topic] ?? 1) > 1) {
      context.addIssue({
        code: 'custom',
        path: at('pubsubMode'),
        message: `binary mode cannot carry the CloudEvents batches sink.rowsPerMessage packs topic "${dataset.topic}" into`,
      });
    }
    const other = modes.get(dataset.topic);
    if (other && other.mode !== mode) {
      context.addIssue({
        code: 'custom',
        path: at('pubsubMode'),
        message: `topic "${dataset.topic}" gets ${mode} mode here and ${other.mode} mode from datasets.${other.index}: one topic has one mode`,
      });
    }
    modes.set(dataset.topic, { mode, index });
  });
}

/** The topics whose datasets set `pubsubMode`, with that mode: the pubsub sink's `modes`, on either runtime. */
export function pubsubModesOf(
  datasets: ReadonlyArray<Pick<z.infer<typeof datasetConfig>, 'topic' | 'pubsubMode'>>,
): Map<string, 'structured' | 'binary'> {
  return new Map(
    datasets.flatMap((dataset) => (dataset.pubsubMode ? [[dataset.topic, dataset.pubsubMode]] : [])),
  );
}

export type ConfigFile = z.infer<typeof configFileSchema>;
export type DatasetConfig = z.infer<typeof datasetConfig>;
export type LedgerConfig = z.infer<typeof ledgerConfig>;

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
  const problems = result.error.issues.map((issue) => describeIssue(issue, '(root)'));
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
          `datasets.${index}.csv.encoding: ${JSON.stringify(encoding)} is not an encoding Dropgate can decode on this ` +
            'runtime (e.g. utf-8, windows-1252, iso-8859-1)',
        );
      }
      const field = `datasets.${index}.schema`;
      const paths = await versionFiles(dataset, index, schemaFiles);
      const {
        version,
        retired,
        compatibility: _mode,
        owner: _owner,
        schema: _path,
        drift,
        headers,
        aliases,
        ...rest
      } = dataset;
      const columns: ColumnRules | undefined =
        drift !== undefined || headers !== 'exact' || Object.keys(aliases).length > 0
          ? { ...(drift ? { unknown: drift } : {}), matching: headers, aliases }
          : undefined;
      const compiled = new Map<number, CompiledDataset>();
      const versions = paths.length > 1 || !dataset.schema.endsWith('.json') ? compiled : undefined;
      for (const [schemaVersion, path] of paths) {
        const schema = await readSchema(schemaFiles, path, field);
        if (drift === 'rescue' && Object.hasOwn(schema.properties ?? {}, RESCUED_PROPERTY)) {
          throw new DropgateError(
            'CONFIG_INVALID',
            `datasets.${index}.drift: rescue puts unknown columns into ${RESCUED_PROPERTY}, which ${path} declares itself`,
          );
        }
        const definition: DatasetDefinition = {
          ...rest,
          csv: columns ? { ...rest.csv, columns } : rest.csv,
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
      for (const property of Object.keys(aliases)) {
        const declared = [...compiled.values()].some((each) =>
          Object.hasOwn(each.schema.properties ?? {}, property),
        );
        if (!declared) {
          throw new DropgateError(
            'CONFIG_INVALID',
            `datasets.${index}.aliases.${property}: no version of the dataset's schema declares property ${property}`,
          );
        }
      }
      const column = typeof dataset.partitionKey === 'object' ? dataset.partitionKey.column : undefined;
      if (
        column !== undefined &&
        ![...compiled.values()].some((each) => Object.hasOwn(each.schema.properties ?? {}, column))
      ) {
        throw new DropgateError(
          'CONFIG_INVALID',
          `datasets.${index}.partitionKey.column: no version of the dataset's schema declares property ${column}`,
        );
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
