/**
 * Intake `sqs`: a long-polling consumer of S3 notifications (any envelope s3-notifications.ts reads) with a
 * limit on messages in flight. A message is deleted only once every landing it names is acknowledged (its
 * events durable, or it was rejected, a duplicate or ignorable); while a file is ingested the message's
 * visibility is extended, so a large file is never handed to a second consumer mid-ingest; on a fault it is
 * made visible again after the outcome's `retryAfterSeconds`, so the queue's redrive policy dead-letters a
 * file that keeps failing.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { describeError } from '../../errors.js';
import type { IntakeResult, LandingOutcome, QueueConsumer } from '../../ports.js';
import { settleQueueMessage } from '../queue-messages.js';
import { createSequencerWatermark, parseS3Notification } from '../s3-notifications.js';

type LogFields = Record<string, unknown>;

export interface SqsIntakeOptions {
  queueUrl: string;
  /** Default: the region in an AWS queue URL, else the SDK's (AWS_REGION). */
  region?: string;
  /** Messages asked for per receive, 1-10 (default 10). */
  maxMessages?: number;
  /** Messages handled at once (default 4). */
  concurrency?: number;
  /** Visibility given on receipt and renewed every third of it while a message is handled (default 300). */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive, 0-20 (default 20). */
  waitTimeSeconds?: number;
  /** Longest wait before a message that failed is delivered again (default 300). */
  maxRetryDelaySeconds?: number;
  /**
   * How long `stop` waits for messages in flight before abandoning them to redelivery (default 10 s), after
   * the receive in progress returns (at most `waitTimeSeconds`).
   */
  stopGraceMs?: number;
  /** An SQS client of the caller's; by default one from the SDK's standard configuration. */
  client?: SQSClient;
  logger?: {
    info(message: string, fields?: LogFields): void;
    warn(message: string, fields?: LogFields): void;
    error(message: string, fields?: LogFields): void;
  };
}

/** The most SQS allows a message's visibility timeout to be set to. */
const MAX_VISIBILITY_SECONDS = 43_200;

export function createSqsIntake(options: SqsIntakeOptions): QueueConsumer {
  const { queueUrl } = options;
  const maxMessages = options.maxMessages ?? 10;
  const concurrency = options.concurrency ?? 4;
  const visibility = options.visibilityTimeoutSeconds ?? 300;
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const maxRetryDelay = options.maxRetryDelaySeconds ?? 300;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const logger = options.logger;
  // An AWS queue URL names its region; requests go there whatever AWS_REGION says.
  const region = options.region ?? regionOfQueueUrl(queueUrl);
  const client =
    options.client ??
    new SQSClient({
      ...(region ? { region } : {}),
      // An endpoint the operator set (a stand-in, a VPC endpoint) wins over the host of the queue's URL,
      // which for a stand-in need not even parse as one (`sqs.us-east-1.127.0.0.1:9324`).
      useQueueUrlAsEndpoint: !(process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL),
    });
  const ownsClient = options.client === undefined;
  const watermark = createSequencerWatermark();
  const inFlight = new Map<string, { done: Promise<void>; abandon(): Promise<void> }>();
  let receiving: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let slotFreed: (() => void) | undefined;

  const intake = {
    type: 'sqs',
    parse: (body: unknown) => parseS3Notification(body, 'sqs'),
  };

  const setVisibility = (message: Message, seconds: number) =>
    client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.round(seconds))),
      }),
    );

  function handle(message: Message, accept: (result: IntakeResult) => Promise<LandingOutcome[]>) {
    const fields = { messageId: message.MessageId, receives: message.Attributes?.ApproximateReceiveCount };
    let abandoned = false;
    const extension = setInterval(
      () => {
        setVisibility(message, visibility).catch((error: unknown) =>
          logger?.warn('extending a message visibility failed', { ...fields, error: describeError(error) }),
        );
      },
      Math.max(1000, (visibility * 1000) / 3),
    );
    const done = (async () => {
      try {
        const settlement = await settleQueueMessage(intake, message.Body ?? '', {
          accept,
          isStale: (landing) => watermark.isStale(landing),
          handled: (landing) => watermark.handled(landing),
        });
        clearInterval(extension);
        if (settlement.settle === 'ack') {
          await client.send(
            new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
          );
          return;
        }
        const delay = Math.min(settlement.retryAfterSeconds, maxRetryDelay);
        logger?.warn('message left for redelivery', {
          ...fields,
          retryAfterSeconds: delay,
          reason: settlement.reason,
        });
        if (!abandoned) await setVisibility(message, delay);
      } catch (error) {
        // The message stays invisible until its timeout runs out, then comes back: nothing is lost.
        logger?.error('handling a message failed', { ...fields, error: describeError(error) });
      } finally {
        clearInterval(extension);
        inFlight.delete(message.ReceiptHandle!);
        slotFreed?.();
      }
    })();
    inFlight.set(message.ReceiptHandle!, {
      done,
      async abandon() {
        abandoned = true;
        clearInterval(extension);
        await setVisibility(message, 0).catch(() => undefined);
      },
    });
  }

  async function receiveLoop(
    accept: (result: IntakeResult) => Promise<LandingOutcome[]>,
    signal: AbortSignal,
  ) {
    let failures = 0;
    while (!signal.aborted) {
      if (inFlight.size >= concurrency) {
        await new Promise<void>((resolve) => (slotFreed = resolve));
        slotFreed = undefined;
        continue;
      }
      let messages: Message[];
      try {
        const answer = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(maxMessages, concurrency - inFlight.size),
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibility,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          // Not aborted on stop: SQS may already have handed messages to a poll the client gives up on,
          // and they would stay invisible for a whole visibility timeout.
        );
        messages = answer.Messages ?? [];
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        const delayMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        logger?.warn('receiving from the queue failed', {
          queueUrl,
          error: describeError(error),
          retryInMs: delayMs,
        });
        await sleep(delayMs, signal);
        continue;
      }
      if (signal.aborted) {
        // Received as the intake stops: given back at once for another consumer.
        await Promise.all(messages.map((message) => setVisibility(message, 0).catch(() => undefined)));
        return;
      }
      for (const message of messages) handle(message, accept);
    }
  }

  return {
    ...intake,
    start(accept) {
      if (loop) throw new Error('the sqs intake is already started');
      receiving = new AbortController();
      loop = receiveLoop(accept, receiving.signal);
      logger?.info('sqs intake started', { queueUrl, concurrency, visibilityTimeoutSeconds: visibility });
    },
    async stop() {
      receiving?.abort();
      slotFreed?.();
      await loop;
      const pending = [...inFlight.values()];
      let grace: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        Promise.all(pending.map((entry) => entry.done)).then(() => true),
        new Promise<false>((resolve) => (grace = setTimeout(() => resolve(false), stopGraceMs))),
      ]);
      clearTimeout(grace);
      if (!finished) {
        const left = [...inFlight.values()];
        logger?.warn('abandoning messages in flight to redelivery', { count: left.length });
        await Promise.all(left.map((entry) => entry.abandon()));
      }
      if (ownsClient) client.destroy();
    },
  };
}

/** `eu-west-1` from `https://sqs.eu-west-1.amazonaws.com/123456789012/name`. */
function regionOfQueueUrl(queueUrl: string): string | undefined {
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//.exec(queueUrl)?.[1];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
