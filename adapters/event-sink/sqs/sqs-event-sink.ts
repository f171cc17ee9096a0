/**
 * An event sink of Amazon SQS queues on Node: each event one message, sent with SendMessageBatch in
 * requests of SQS's limits, a few requests at once, CloudEvents attributes carried as message attributes.
 * What it shares with the signed-fetch sink of Workers is in sqs-sink.ts.
 *
 * The AWS SDK client supplies everything but the SendMessageBatch call itself: credentials (the provider
 * chain, refreshed), region, endpoint (AWS_ENDPOINT_URL_SQS and the rest), its SigV4 signer and its HTTP
 * handler (sockets, keep-alive). The call is SQS's JSON protocol written here: JSON.stringify of the
 * request, signed, sent on that handler, the answer parsed. Through `client.send`, the SDK's generic
 * per-request work (middleware stack, schema serializer escaping each string character by character,
 * endpoint rules, retry bookkeeping) took 2.4-2.6 ms of CPU a request of 10 row events against fauxqs;
 * this takes 0.8-0.9 ms (bench/README.md, SQS). GetQueueUrl, once per queue, still goes through the SDK.
 */
import { createHash } from 'node:crypto';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { HttpRequest } from '@smithy/core/protocols';
import type { HttpResponse } from '@smithy/types';
import type { EventSink } from '../../ports.js';
import type { RetryPolicy } from '../../retry.js';
import {
  callSqs,
  createSqsSink,
  type SqsApi,
  type SqsBatchEntry,
  type SqsBatchFailure,
  type SqsSinkOptions,
} from './sqs-sink.js';

export interface SqsEventSinkOptions extends SqsSinkOptions {
  /** The AWS region; the SDK's own resolution (AWS_REGION, the profile) when absent. */
  region?: string;
  /**
   * For tests and stand-ins: its credentials, region, endpoint, signer and HTTP handler are used.
   * Otherwise AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL and the rest, as the SDK reads them.
   */
  client?: SQSClient;
  /** Attempts at one SendMessageBatch request on a network error or a retryable answer (the SDK's 3). */
  retry?: RetryPolicy;
  /** How long one request may take before it counts as failed, retryably (default 60 s). */
  requestTimeoutMs?: number;
}

/** As the SDK's standard retry mode: three attempts, the waits from 100 ms, jittered. */
const defaultRetry: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 20_000 };

export function createSqsEventSink(options: SqsEventSinkOptions = {}): EventSink {
  return createSqsSink(sqsApiOf(options), options);
}

/**
 * The two calls the sink makes, as described above: what the sink sends with, and what the bench sends
 * the same requests with to measure the stand-in's rate without the pipeline.
 */
export function sqsApiOf(
  options: Pick<SqsEventSinkOptions, 'region' | 'client' | 'retry' | 'requestTimeoutMs'> = {},
): SqsApi {
  const client =
    options.client ??
    new SQSClient({
      ...(options.region ? { region: options.region } : {}),
      // An endpoint the operator set (a stand-in, a VPC endpoint) wins over the host of a queue's URL.
      useQueueUrlAsEndpoint: !(process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL),
    });
  const send = jsonProtocolSender(client, {
    retry: options.retry ?? defaultRetry,
    timeoutMs: options.requestTimeoutMs ?? 60_000,
  });
  return {
    async getQueueUrl(queueName) {
      return (await client.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl!;
    },
    async sendMessageBatch(request) {
      const answer = await send<SendMessageBatchAnswer>('SendMessageBatch', request.QueueUrl, request);
      return { Failed: [...(answer.Failed ?? []), ...misdelivered(request.Entries, answer.Successful)] };
    },
    async close() {
      client.destroy();
    },
  };
}

interface SendMessageBatchAnswer {
  Successful?: Array<{ Id: string; MD5OfMessageBody?: string }>;
  Failed?: SqsBatchFailure[];
}

/**
 * Entries SQS took whose body's MD5 is not the one sent, as failed and retryable: the body changed on the
 * way (the SDK makes the same check, and fails the whole request).
 */
function misdelivered(
  entries: readonly SqsBatchEntry[],
  successful: SendMessageBatchAnswer['Successful'] = [],
): SqsBatchFailure[] {
  const failed: SqsBatchFailure[] = [];
  for (const { Id, MD5OfMessageBody } of successful) {
    const entry = entries[Number(Id)];
    if (!entry || MD5OfMessageBody === undefined) continue;
    const sent = createHash('md5').update(entry.MessageBody).digest('hex');
    if (sent !== MD5OfMessageBody) {
      failed.push({
        Id,
        SenderFault: false,
        Code: 'MD5Mismatch',
        Message: `SQS answered MD5 ${MD5OfMessageBody} for a body whose MD5 is ${sent}`,
      });
    }
  }
  return failed;
}

/**
 * A call of SQS's JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`, `application/x-amz-json-1.0`) made
 * with the client's signer and HTTP handler, sent again with backoff on a network error, a timeout or a
 * retryable answer (an outage, throttling). An error answer throws an error shaped as the SDK's
 * (`name`, `$fault`, `$metadata.httpStatusCode`).
 */
function jsonProtocolSender(client: SQSClient, options: { retry: RetryPolicy; timeoutMs: number }) {
  const { config } = client;
  // Made once: each call of the client's `signer` builds a new SignatureV4 from a copy of its whole
  // config. The signer asks the credential provider at every signature, so refreshed credentials apply.
  let signerMade: ReturnType<typeof config.signer> | undefined;
  let configured: Promise<URL | undefined> | undefined;
  /** An endpoint the operator set (the client's own, AWS_ENDPOINT_URL_SQS, a profile's), if any. */
  const configuredEndpoint = () =>
    (configured ??= (async () => {
      const explicit = config.isCustomEndpoint ? await config.endpoint?.() : undefined;
      if (explicit) {
        const port = explicit.port ? `:${explicit.port}` : '';
        return new URL(`${explicit.protocol}//${explicit.hostname}${port}${explicit.path}`);
      }
      const fromEnvironment = await config.serviceConfiguredEndpoint?.();
      return fromEnvironment ? new URL(fromEnvironment) : undefined;
    })());

  return async function send<T>(action: string, queueUrl: string, input: unknown): Promise<T> {
    // Without one, the queue URL's host, as the SDK does (`useQueueUrlAsEndpoint`).
    const endpoint = (await configuredEndpoint()) ?? new URL('/', queueUrl);
    const body = JSON.stringify(input);
    const signer = await (signerMade ??= config.signer());
    return callSqs<T>(
      action,
      async () => {
        const request = new HttpRequest({
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
          method: 'POST',
          path: endpoint.pathname,
          headers: {
            host: endpoint.host,
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `AmazonSQS.${action}`,
            'content-length': String(Buffer.byteLength(body)),
          },
          body,
        });
        const signed = await signer.sign(request, {
          signingDate: new Date(Date.now() + (config.systemClockOffset ?? 0)),
        });
        const { response } = (await config.requestHandler.handle(signed as HttpRequest, {
          abortSignal: AbortSignal.timeout(options.timeoutMs),
        })) as { response: HttpResponse };
        const text = config.utf8Encoder(await config.streamCollector(response.body));
        return { status: response.statusCode, text };
      },
      options.retry,
    );
  };
}
