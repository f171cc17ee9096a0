/**
 * The AWS stand-ins that run in-process here, each listening on 127.0.0.1 on a free port: fauxqs (S3,
 * SQS and SNS; it does not enforce presigned URLs and gives no version ids), s3rver (S3 only, but it
 * verifies request signatures and expiry) and dynalite (DynamoDB; conditional writes, no transactions).
 * Tests point the SDK at one with `AWS_ENDPOINT_URL_<SERVICE>`, as an operator would, or pass `endpoint`.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { HttpResponse } from '@smithy/core/protocols';
import type { HttpHandlerOptions, HttpRequest } from '@smithy/types';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

export interface StandIn {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

/** Credentials the stand-ins accept (s3rver checks signatures made with exactly these). */
export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const TEST_REGION = 'us-east-1';

/** Sets the SDK's standard credential and region variables for the stand-ins, unless already set. */
export function useTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= TEST_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION ??= TEST_REGION;
}

/** fauxqs 1.9 (S3 + SQS + SNS); its own `startFauxqs` binds 0.0.0.0, so its app is listened here. */
export async function startFauxqs(): Promise<StandIn> {
  const { buildApp } = (await import('fauxqs')) as typeof import('fauxqs');
  const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: TEST_REGION });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { endpoint: address.replace('localhost', '127.0.0.1'), stop: () => app.close() };
}

/**
 * s3rver 3.7 over a temporary directory, verifying signatures made with TEST_CREDENTIALS. `onEvent` gets
 * the S3 event notification (`{ Records: [...] }`) s3rver emits for each object created or removed: what a
 * bucket's notification configuration would send on to SQS, SNS or EventBridge.
 */
export async function startS3rver(
  buckets: string[] = [],
  options: { onEvent?: (notification: S3rverNotification) => void } = {},
): Promise<StandIn> {
  const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    on(event: 'event', listener: (notification: S3rverNotification) => void): void;
  };
  const directory = await mkdtemp(join(tmpdir(), 'dropgate-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  if (options.onEvent) server.on('event', options.onEvent);
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * An S3 event notification as s3rver emits it: S3's own shape, except that the key is not URL-encoded
 * (S3 encodes it, spaces as `+`) and the bucket is unversioned (no `versionId`).
 */
export interface S3rverNotification {
  Records: Array<{
    eventName: string;
    eventTime: string;
    s3: {
      bucket: { name: string };
      object: { key: string; size?: number; eTag?: string; sequencer: string };
    };
  }>;
}

/** dynalite 4 in memory; tables are created at once (no CREATING wait). */
export async function startDynalite(): Promise<StandIn> {
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Messages visible and in flight on an SQS queue: 0 and 0 once every message was deleted. */
export async function queueDepth(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

/**
 * Every message waiting on the queue, each received once: hidden for the rest of the test on a standard
 * queue (several receivers at once), deleted on a FIFO queue, which holds back a group's next message
 * until then (one receiver, to keep the order).
 */
export async function drainQueue(client: SQSClient, queueUrl: string): Promise<Message[]> {
  const fifo = queueUrl.endsWith('.fifo');
  const messages: Message[] = [];
  const receive = async () => {
    for (;;) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 600,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) return;
      messages.push(...Messages);
      if (!fifo) continue;
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle!,
          })),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: fifo ? 1 : 8 }, receive));
  return messages;
}

/** An answer a watcher of `watchedSqsClient` makes up instead of SQS's: its status and JSON. */
export class MadeUpAnswer {
  constructor(
    readonly status: number,
    readonly json: unknown,
  ) {}
}

/**
 * Sees every call an SQS client's HTTP handler sends (the SDK's own and the SQS sink's, which signs its
 * SendMessageBatch itself and sends it on that handler): `watch` gets the action (`SendMessageBatch`),
 * the request's JSON, `send`, which sends it and answers the parsed JSON, and the signed request itself.
 * What `watch` returns is the answer the caller gets (SQS's status, the JSON written again), or a
 * MadeUpAnswer of its own status.
 */
export function watchedSqsClient(
  watch: (
    action: string,
    input: unknown,
    send: () => Promise<unknown>,
    request: HttpRequest,
  ) => Promise<unknown>,
): SQSClient {
  // The handler a client makes for itself, as the sink would have used.
  const handler = new SQSClient({}).config.requestHandler;
  const watching = {
    async handle(request: HttpRequest, options?: HttpHandlerOptions) {
      const action = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
      const text =
        typeof request.body === 'string'
          ? request.body
          : new TextDecoder().decode(request.body as Uint8Array);
      let status = 0;
      let headers: Record<string, string> = {};
      let answer = await watch(
        action,
        JSON.parse(text) as unknown,
        async () => {
          const { response } = await handler.handle(request, options);
          ({ statusCode: status, headers } = response);
          const chunks: Buffer[] = [];
          for await (const chunk of response.body as Readable) chunks.push(chunk as Buffer);
          return JSON.parse(Buffer.concat(chunks).toString()) as unknown;
        },
        request,
      );
      if (answer instanceof MadeUpAnswer) {
        status = answer.status;
        headers = { 'content-type': 'application/x-amz-json-1.0' };
        answer = answer.json;
      }
      const body = Buffer.from(JSON.stringify(answer));
      return {
        response: new HttpResponse({
          statusCode: status,
          headers: { ...headers, 'content-length': String(body.length) },
          body: Readable.from([body]),
        }),
      };
    },
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
    destroy: () => handler.destroy?.(),
  };
  return new SQSClient({ useQueueUrlAsEndpoint: false, requestHandler: watching });
}
