/**
 * The one place on Workers that turns config and bindings into concrete adapters: the R2 bucket, the
 * sink (Cloudflare Queues, or Pub/Sub and SQS over their HTTP APIs), the Durable Object ledger and the R2
 * notification intake. The bindings and secrets the config needs are checked once, with one schema, and
 * a missing one is named with how to add it.
 */
import { z } from 'zod';
import {
  createCloudflareQueuesEventSink,
  type QueueBinding,
} from '../../adapters/event-sink/cloudflare-queues/cloudflare-queues-event-sink.js';
import {
  createAccessTokens,
  parseServiceAccountKey,
  PUBSUB_SCOPE,
} from '../../adapters/event-sink/pubsub/google-access-token.js';
import { createPubSubRestEventSink } from '../../adapters/event-sink/pubsub/pubsub-rest-event-sink.js';
import { createSqsHttpEventSink } from '../../adapters/event-sink/sqs/sqs-http-event-sink.js';
import { createR2QueueIntake, type R2QueueIntake } from '../../adapters/intake/r2-queue/r2-queue-intake.js';
import {
  createDurableObjectLedger,
  type DurableObjectNamespaceLike,
} from '../../adapters/ledger/durable-object/durable-object-ledger.js';
import { createR2ObjectStore, type R2BucketBinding } from '../../adapters/object-store/r2/r2-object-store.js';
import { DropgateError } from '../../adapters/errors.js';
import type { EventSink, Ledger, ListingCursors, ObjectStore } from '../../adapters/ports.js';
import { environmentSchema, parseOrExplain, pubsubModesOf, type ConfigFile } from '../config.js';

export { LedgerDurableObject } from '../../adapters/ledger/durable-object/ledger-durable-object.js';
export type { QueueMessageLike } from '../../adapters/intake/r2-queue/r2-queue-intake.js';

/** The sinks that run on Workers: Queues through bindings, Pub/Sub and SQS through fetch. */
const WORKER_SINKS = ['cloudflare-queues', 'pubsub', 'sqs'] as const;

type StoreConfig = Extract<ConfigFile['store'], { type: 'r2' }>;
type SinkConfig = Extract<ConfigFile['sink'], { type: (typeof WORKER_SINKS)[number] }>;
type QueuesSinkConfig = Extract<SinkConfig, { type: 'cloudflare-queues' }>;
type LedgerConfig = Extract<ConfigFile['ledger'], { type: 'durable-object' }>;
type IntakeConfig = Extract<ConfigFile['intake'][number], { type: 'r2-queue' }>;

/** The config as the Worker runs it: Cloudflare's adapter on every port but the sink, which may be a cloud's. */
export interface WorkerConfig {
  store: StoreConfig;
  sink: SinkConfig;
  ledger: LedgerConfig;
  intake: IntakeConfig;
}

const isWorkerSink = (sink: ConfigFile['sink']): sink is SinkConfig =>
  (WORKER_SINKS as readonly string[]).includes(sink.type);

/** Refuses, naming the field, a config whose adapters do not run on Workers. */
export function workerConfigOf(file: ConfigFile): WorkerConfig & { file: ConfigFile } {
  const wrong = (field: string, type: string, wanted: string) =>
    new DropgateError('CONFIG_INVALID', `${field}: ${type} does not run on Workers; use ${wanted}`);
  if (file.store.type !== 'r2') throw wrong('store.type', file.store.type, '"r2"');
  if (!isWorkerSink(file.sink)) {
    throw wrong('sink.type', file.sink.type, WORKER_SINKS.map((type) => `"${type}"`).join(', '));
  }
  if (file.ledger.type !== 'durable-object') throw wrong('ledger.type', file.ledger.type, '"durable-object"');
  const [intake, ...more] = file.intake;
  if (intake?.type !== 'r2-queue' || more.length > 0) {
    throw new DropgateError(
      'CONFIG_INVALID',
      `intake: must be exactly [{ "type": "r2-queue" }] on Workers, not ${JSON.stringify(file.intake.map(({ type }) => type))}`,
    );
  }
  return { file, store: file.store, sink: file.sink, ledger: file.ledger, intake };
}

/** The topics the gateway publishes to: each dataset's topic and dead-letter topic, and the control topic. */
export function topicsOf(file: ConfigFile): string[] {
  return [
    ...new Set([
      file.controlTopic,
      ...file.datasets.flatMap((dataset) => [dataset.topic, dataset.deadLetterTopic]),
    ]),
  ];
}

/** The queue binding a topic publishes through: the sink's `bindings` entry, else the topic's own name. */
export const queueBindingOf = (sink: QueuesSinkConfig, topic: string) => sink.bindings[topic] ?? topic;

const hasMethods = (value: unknown, names: string[]) =>
  typeof value === 'object' &&
  value !== null &&
  names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

const binding = <T>(names: string[], missing: string) =>
  z.custom<T>((value) => hasMethods(value, names), { error: missing });

const secret = (name: string, minimum: number) =>
  z
    .string({ error: `secret ${name} is missing: run \`wrangler secret put ${name}\`` })
    .min(minimum, `secret ${name} must be at least ${minimum} characters`);

/**
 * The one schema of the Worker's environment for `config`: its bindings by the names the config gives
 * them, and the secrets. `env` only decides what is required (no Pub/Sub key with the emulator's address).
 */
export function workerEnvironmentSchema(
  config: WorkerConfig & { file: ConfigFile },
  env: Record<string, unknown>,
) {
  const { store, ledger } = config;
  return z.object({
    [store.binding]: binding<R2BucketBinding>(
      ['head', 'get', 'put', 'list'],
      `binding ${store.binding} (R2) is missing: add [[r2_buckets]] binding = "${store.binding}" bucket_name = "${store.bucket}" to wrangler.toml`,
    ),
    [ledger.binding]: binding<DurableObjectNamespaceLike>(
      ['idFromName', 'get'],
      `binding ${ledger.binding} (Durable Object) is missing: add [[durable_objects.bindings]] name = "${ledger.binding}" class_name = "LedgerDurableObject" and its [[migrations]] new_sqlite_classes to wrangler.toml`,
    ),
    ...sinkEnvironment(config, env),
    DROPGATE_ADMIN_TOKEN: secret('DROPGATE_ADMIN_TOKEN', 16),
    // The same `vendor=key` rules as on Node.
    DROPGATE_VENDOR_KEYS: secret('DROPGATE_VENDOR_KEYS', 1).pipe(
      environmentSchema.shape.DROPGATE_VENDOR_KEYS as unknown as z.ZodType<
        Map<string, string> | undefined,
        string
      >,
    ),
    R2_ACCOUNT_ID: secret('R2_ACCOUNT_ID', 1),
    R2_ACCESS_KEY_ID: secret('R2_ACCESS_KEY_ID', 1),
    R2_SECRET_ACCESS_KEY: secret('R2_SECRET_ACCESS_KEY', 1),
    /** The S3 API origin; set only to point presigned URLs at a stand-in (`wrangler dev`). */
    R2_S3_ENDPOINT: z.url().optional(),
  });
}

/**
 * What the sink needs of the environment: a queue producer binding per topic; a service account's JSON
 * key (or the emulator's address) for Pub/Sub; an access key, and a region unless the config names one,
 * for SQS. Vars (`[vars]` in wrangler.toml) point a cloud sink at a stand-in, as on Node.
 */
function sinkEnvironment({ sink, file }: WorkerConfig & { file: ConfigFile }, env: Record<string, unknown>) {
  switch (sink.type) {
    case 'cloudflare-queues':
      return Object.fromEntries(
        topicsOf(file).map((topic) => {
          const name = queueBindingOf(sink, topic);
          return [
            name,
            binding<QueueBinding>(
              ['send', 'sendBatch'],
              `binding ${name} (Queue producer of topic ${topic}) is missing: add [[queues.producers]] binding = "${name}" queue = "<queue name>" to wrangler.toml`,
            ),
          ];
        }),
      );
    case 'pubsub':
      return {
        /** `host:port` of the Pub/Sub emulator: plain HTTP and no credentials, as on Node. */
        PUBSUB_EMULATOR_HOST: z
          .string()
          .regex(/^[A-Za-z0-9.-]+:\d+$/, 'must be host:port, e.g. 127.0.0.1:8085')
          .optional(),
        GOOGLE_SERVICE_ACCOUNT_KEY: env.PUBSUB_EMULATOR_HOST
          ? z.string().optional()
          : z
              .string({
                error:
                  'secret GOOGLE_SERVICE_ACCOUNT_KEY is missing: run `wrangler secret put GOOGLE_SERVICE_ACCOUNT_KEY < key.json` with the JSON key of a service account that has roles/pubsub.publisher',
              })
              .superRefine((text, context) => {
                try {
                  parseServiceAccountKey(text, 'secret GOOGLE_SERVICE_ACCOUNT_KEY');
                } catch (error) {
                  context.addIssue({ code: 'custom', message: (error as Error).message });
                }
              }),
      };
    case 'sqs':
      return {
        AWS_ACCESS_KEY_ID: secret('AWS_ACCESS_KEY_ID', 1),
        AWS_SECRET_ACCESS_KEY: secret('AWS_SECRET_ACCESS_KEY', 1),
        /** Only for temporary credentials. */
        AWS_SESSION_TOKEN: z.string().min(1).optional(),
        AWS_REGION: sink.region
          ? z.string().optional()
          : z.string({
              error:
                'AWS_REGION is missing: set sink.region in the config, or AWS_REGION in [vars] of wrangler.toml',
            }),
        /** The SQS endpoint of a stand-in or a VPC endpoint, as the SDK reads it on Node. */
        AWS_ENDPOINT_URL_SQS: z.url().optional(),
      };
  }
}

export interface WorkerAdapters {
  store: ObjectStore;
  sink: EventSink;
  /** The ledger, which keeps the scheduled backfill's cursor too. */
  ledger: Ledger & ListingCursors;
  credentials: { adminToken: string; vendorKeys: Map<string, string> };
  /** The notification consumer, once the gateway's `accept` is known. */
  intake(accept: Parameters<typeof createR2QueueIntake>[0]): R2QueueIntake;
}

export function wireWorker(
  config: WorkerConfig & { file: ConfigFile },
  env: Record<string, unknown>,
): WorkerAdapters {
  const parsed = parseOrExplain(
    workerEnvironmentSchema(config, env),
    env,
    "the Worker's environment (bindings and secrets)",
  ) as Record<string, unknown>;
  const { store, sink, ledger, intake, file } = config;
  const secretOf = (name: string) => parsed[name] as string;
  const vendorKeys = parsed.DROPGATE_VENDOR_KEYS as Map<string, string> | undefined;
  if (!vendorKeys) throw new DropgateError('CONFIG_INVALID', 'DROPGATE_VENDOR_KEYS: names no vendor');
  return {
    store: createR2ObjectStore({
      binding: parsed[store.binding] as R2BucketBinding,
      bucket: store.bucket,
      accountId: secretOf('R2_ACCOUNT_ID'),
      accessKeyId: secretOf('R2_ACCESS_KEY_ID'),
      secretAccessKey: secretOf('R2_SECRET_ACCESS_KEY'),
      ...(parsed.R2_S3_ENDPOINT ? { endpoint: parsed.R2_S3_ENDPOINT as string } : {}),
    }),
    sink: wireSink(sink, file, parsed),
    ledger: createDurableObjectLedger({ namespace: parsed[ledger.binding] as DurableObjectNamespaceLike }),
    credentials: { adminToken: secretOf('DROPGATE_ADMIN_TOKEN'), vendorKeys },
    intake: (options) =>
      createR2QueueIntake({
        ...options,
        baseDelaySeconds: intake.firstRetrySeconds,
        maxDelaySeconds: intake.maxRetrySeconds,
        budgetSeconds: intake.budgetSeconds,
      }),
  };
}

/** The sink of the config, from the environment as parsed. */
function wireSink(sink: SinkConfig, file: ConfigFile, parsed: Record<string, unknown>): EventSink {
  const rowsPerMessage = new Map(Object.entries(sink.rowsPerMessage));
  const text = (name: string) => parsed[name] as string | undefined;
  switch (sink.type) {
    case 'cloudflare-queues':
      return createCloudflareQueuesEventSink({
        queues: new Map(
          topicsOf(file).map((topic) => [topic, parsed[queueBindingOf(sink, topic)] as QueueBinding]),
        ),
        rowsPerMessage,
      });
    case 'pubsub': {
      const emulatorHost = text('PUBSUB_EMULATOR_HOST');
      const key = text('GOOGLE_SERVICE_ACCOUNT_KEY');
      return createPubSubRestEventSink({
        projectId: sink.projectId,
        mode: sink.mode,
        modes: pubsubModesOf(file.datasets),
        rowsPerMessage,
        ...(emulatorHost
          ? { emulatorHost }
          : {
              tokens: createAccessTokens({
                key: parseServiceAccountKey(key!, 'secret GOOGLE_SERVICE_ACCOUNT_KEY'),
                scope: PUBSUB_SCOPE,
              }),
            }),
      });
    }
    case 'sqs': {
      const endpoint = text('AWS_ENDPOINT_URL_SQS');
      const sessionToken = text('AWS_SESSION_TOKEN');
      return createSqsHttpEventSink({
        region: sink.region ?? text('AWS_REGION')!,
        credentials: {
          accessKeyId: text('AWS_ACCESS_KEY_ID')!,
          secretAccessKey: text('AWS_SECRET_ACCESS_KEY')!,
          ...(sessionToken ? { sessionToken } : {}),
        },
        ...(endpoint ? { endpoint } : {}),
        ...(sink.fifoGroup ? { fifoGroup: sink.fifoGroup } : {}),
        rowsPerMessage,
      });
    }
  }
}
