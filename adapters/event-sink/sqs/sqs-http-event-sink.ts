/**
 * The SQS sink over SQS's JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`,
 * `application/x-amz-json-1.0`), each request signed with SigV4 by aws4fetch, for Workers, where the AWS
 * SDK does not run: the same messages, attributes, FIFO handling, packing and limits as the SDK's sink
 * (sqs-sink.ts). Web APIs only.
 */
import { AwsClient } from 'aws4fetch';
import type { EventSink } from '../../ports.js';
import type { RetryPolicy } from '../../retry.js';
import { defaultHttpRetry } from '../fetch-with-retries.js';
import { callSqs, createSqsSink, type SqsApi, type SqsSinkOptions } from './sqs-sink.js';

export interface SqsHttpEventSinkOptions extends SqsSinkOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The SQS endpoint (AWS_ENDPOINT_URL_SQS: a stand-in, a VPC endpoint); default the region's. */
  endpoint?: string;
  /** How long one request may take before it counts as failed, retryably (default 60 s). */
  requestTimeoutMs?: number;
  /** Attempts at one request on a network error or a retryable answer (default 3 within about a second). */
  retry?: RetryPolicy;
  fetch?: typeof fetch;
}

export function createSqsHttpEventSink(options: SqsHttpEventSinkOptions): EventSink {
  const { region, credentials } = options;
  const endpoint = options.endpoint ?? `https://sqs.${region}.amazonaws.com/`;
  const aws = new AwsClient({ ...credentials, service: 'sqs', region });
  const timeoutMs = options.requestTimeoutMs ?? 60_000;
  const fetcher = options.fetch ?? fetch;

  /** One action (callSqs: retried on the answers the Node sender retries), each attempt signed afresh. */
  function call<T>(action: string, input: unknown): Promise<T> {
    const body = JSON.stringify(input);
    return callSqs<T>(
      action,
      async () => {
        const request = await aws.sign(endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `AmazonSQS.${action}`,
          },
          body,
        });
        const response = await fetcher(request, { signal: AbortSignal.timeout(timeoutMs) });
        return { status: response.status, text: await response.text() };
      },
      options.retry ?? defaultHttpRetry,
    );
  }

  const api: SqsApi = {
    async getQueueUrl(queueName) {
      return (await call<{ QueueUrl: string }>('GetQueueUrl', { QueueName: queueName })).QueueUrl;
    },
    sendMessageBatch: (request) => call('SendMessageBatch', request),
    async close() {},
  };
  return createSqsSink(api, options);
}
