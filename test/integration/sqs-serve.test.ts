/**
 * `dropgate serve` with AWS intakes configured: the `sqs` consumer runs inside the gateway (found through
 * AWS_ENDPOINT_URL_SQS, fauxqs here), ingests a notified file into the local sink and deletes the message,
 * and stops with the gateway; the `sns-https` route is served and refuses an unsigned message.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFauxqs, useTestCredentials, type StandIn } from '../support/aws-stand-ins.js';
import { s3Record } from '../support/s3-notification-messages.js';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import { call, startTestGateway } from './support/test-gateway.js';

let fauxqs: StandIn;
let sqs: SQSClient;

beforeAll(async () => {
  useTestCredentials();
  fauxqs = await startFauxqs();
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
});

afterAll(async () => {
  sqs.destroy();
  delete process.env.AWS_ENDPOINT_URL_SQS;
  await fauxqs.stop();
});

it('runs the sqs consumer inside the gateway and serves the sns-https route', async () => {
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'serve-notifications' }));
  const gateway = await startTestGateway({
    configFile: {
      ingestThreads: 0,
      intake: [
        { type: 'sqs', queueUrl, waitTimeSeconds: 1, visibilityTimeoutSeconds: 30 },
        { type: 'sns-https', topicArns: ['arn:aws:sns:us-east-1:123456789012:uploads'] },
      ],
      datasets: [
        {
          name: 'orders',
          match: 'vendors/*/orders/**',
          schema: join(process.cwd(), 'schemas/orders'),
          eventType: 'OrderReceived',
          topic: 'orders',
          deadLetterTopic: 'orders.dead-letter',
        },
      ],
    },
  });
  let closed = false;
  try {
    // The file lands in the local store's directory, as an upload to S3 lands in the bucket.
    const key = 'vendors/acme/orders/from s3 (1).csv';
    const path = join(gateway.dataDir, 'bucket', key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, ordersFile(5).csv);
    // The local store's versions are no S3 tokens: a notification naming none ingests the current one.
    const record = s3Record({
      bucket: 'local',
      key: 'vendors/acme/orders/from+s3+%281%29.csv',
      eTag: undefined,
    });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ Records: [record] }) }),
    );

    // The ledger finishes a file just after its last events are published: wait for the record.
    const fileStatus = () =>
      call<{ state: string; via: string }>(
        gateway,
        'GET',
        `/admin/files/${key.split('/').map(encodeURIComponent).join('/')}`,
        {
          token: 'admin-token-5d1c9e7a3f0b8264',
        },
      );
    const deadline = Date.now() + 15_000;
    while ((await fileStatus()).body.state !== 'ingested' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fileStatus()).body).toMatchObject({ state: 'ingested', via: 'sqs' });
    expect(await readTopic(gateway.dataDir, 'orders')).toHaveLength(5);

    const unsigned = await call(gateway, 'POST', '/v1/notifications/sns-https', {
      body: JSON.stringify({ Type: 'Notification', TopicArn: 'arn:aws:sns:us-east-1:123456789012:uploads' }),
    });
    expect(unsigned.status).toBe(403);

    const started = Date.now();
    await gateway.close();
    closed = true;
    // The receive in progress returns within its wait of 1 s; nothing is left in flight.
    expect(Date.now() - started).toBeLessThan(8000);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  } finally {
    if (!closed) await gateway.close();
  }
});
