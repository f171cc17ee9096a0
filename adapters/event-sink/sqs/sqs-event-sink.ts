/**
 * An event sink of Amazon SQS queues through the AWS SDK: each event one message, sent with
 * SendMessageBatch in requests of SQS's limits, a few requests at once, CloudEvents attributes carried as
 * message attributes. What it shares with the signed-fetch sink of Workers is in sqs-sink.ts.
 */
import { GetQueueUrlCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EventSink } from '../../ports.js';
import { createSqsSink, type SqsSinkOptions } from './sqs-sink.js';

export interface SqsEventSinkOptions extends SqsSinkOptions {
  /** The AWS region; the SDK's own resolution (AWS_REGION, the profile) when absent. */
  region?: string;
  /** For tests and stand-ins; otherwise AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, as the SDK reads them. */
  client?: SQSClient;
}

export function createSqsEventSink(options: SqsEventSinkOptions = {}): EventSink {
  const client =
    options.client ??
    new SQSClient({
      ...(options.region ? { region: options.region } : {}),
      // Throttled requests slow the client down instead of retrying at full speed.
      retryMode: 'adaptive',
      // An endpoint the operator set (a stand-in, a VPC endpoint) wins over the host of a queue's URL.
      useQueueUrlAsEndpoint: !(process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL),
    });
  return createSqsSink(
    {
      async getQueueUrl(queueName) {
        return (await client.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl!;
      },
      sendMessageBatch: (request) => client.send(new SendMessageBatchCommand(request)),
      async close() {
        client.destroy();
      },
    },
    options,
  );
}
