/**
 * Intake `gcs-pubsub-pull`: a streaming-pull subscriber of GCS bucket notifications, for deployments whose
 * CPU stays allocated between requests (Cloud Run with instance-based billing, GKE, a VM) and files that
 * take longer than a push's acknowledgement deadline allows (at most 10 minutes). The client library's
 * lease management extends each message's deadline while its file is ingested (up to `maxExtensionMinutes`),
 * so a long file is never handed to a second subscriber mid-ingest. A message is acknowledged only once
 * every landing it names is (its events durable, or it was rejected, a duplicate or ignorable); otherwise it
 * is nacked, and the subscription's retry policy redelivers it and its dead-letter policy, after the
 * maximum delivery attempts, moves a file that keeps failing to the dead-letter topic.
 */
import { Duration, PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { describeError } from '../../errors.js';
import type { IntakeResult, LandingOutcome, QueueConsumer } from '../../ports.js';
import { landingOf } from '../gcs-notification.js';
import { settleQueueMessage } from '../queue-messages.js';

type LogFields = Record<string, unknown>;

export interface GcsPubsubPullIntakeOptions {
  /** The store's bucket: notifications of any other bucket are acknowledged and ignored. */
  bucket: string;
  /** `projects/<project>/subscriptions/<name>`, or the name alone in `projectId`'s project. */
  subscription: string;
  /** Default: the client's (GOOGLE_CLOUD_PROJECT, the credentials' project, the emulator's). */
  projectId?: string;
  /** Messages handled at once (default 4): the subscriber's flow control. */
  concurrency?: number;
  /** How long a message's lease is extended while its file is ingested (default 60 minutes). */
  maxExtensionMinutes?: number;
  /**
   * The deadline each lease extension sets (the client's minimum ack deadline; default 60 s, 10 to 600).
   * The library extends at a random point before 90% of it, so the margin against a stalled event loop
   * or a slow modAck is a tenth of it: 1 s at the library's own 10 s, which a loaded machine missed (a
   * message redelivered mid-ingest), 6 s at 60. A message an instance held when it died is redelivered
   * after at most this; `stop` nacks what it holds, for redelivery at once.
   */
  leaseSeconds?: number;
  /** How long `stop` waits for messages in flight before nacking them for redelivery (default 10 s). */
  stopGraceMs?: number;
  /** A Pub/Sub client of the caller's; by default one from the client's standard configuration. */
  client?: PubSub;
  logger?: {
    info(message: string, fields?: LogFields): void;
    warn(message: string, fields?: LogFields): void;
    error(message: string, fields?: LogFields): void;
  };
}

export function createGcsPubsubPullIntake(options: GcsPubsubPullIntakeOptions): QueueConsumer {
  const concurrency = options.concurrency ?? 4;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const logger = options.logger;
  // PUBSUB_EMULATOR_HOST, when set, points the client at the emulator with no credentials.
  const client = options.client ?? new PubSub(options.projectId ? { projectId: options.projectId } : {});
  const ownsClient = options.client === undefined;
  const inFlight = new Map<Message, Promise<void>>();
  let subscription: Subscription | undefined;
  let stopping = false;

  const intake = {
    type: 'gcs-pubsub-pull',
    parse: (body: unknown) => {
      const message = body as Pick<Message, 'attributes' | 'data' | 'id'>;
      return landingOf(
        { attributes: message.attributes, data: message.data.toString('utf8'), messageId: message.id },
        options.bucket,
        'gcs-pubsub-pull',
      );
    },
  };

  function handle(message: Message, accept: (result: IntakeResult) => Promise<LandingOutcome[]>) {
    const fields = { messageId: message.id, deliveryAttempt: message.deliveryAttempt };
    if (stopping) {
      // Delivered as the intake stops: given back at once for another subscriber.
      message.nack();
      return;
    }
    const done = (async () => {
      try {
        const settlement = await settleQueueMessage(intake, message, { accept });
        if (settlement.settle === 'ack') {
          message.ack();
          return;
        }
        logger?.warn('message left for redelivery', { ...fields, reason: settlement.reason });
        message.nack();
      } catch (error) {
        logger?.error('handling a message failed', { ...fields, error: describeError(error) });
        message.nack();
      } finally {
        inFlight.delete(message);
      }
    })();
    inFlight.set(message, done);
  }

  return {
    ...intake,
    start(accept) {
      if (subscription) throw new Error('the gcs-pubsub-pull intake is already started');
      subscription = client.subscription(options.subscription, {
        flowControl: { maxMessages: concurrency, allowExcessMessages: false },
        maxExtensionTime: Duration.from({ minutes: options.maxExtensionMinutes ?? 60 }),
        minAckDeadline: Duration.from({ seconds: options.leaseSeconds ?? 60 }),
      });
      subscription.on('message', (message: Message) => handle(message, accept));
      subscription.on('error', (error: unknown) =>
        // The client reconnects by itself after transient stream errors; a missing subscription or
        // permission keeps failing, and says so here.
        logger?.error('pulling from the subscription failed', {
          subscription: options.subscription,
          error: describeError(error),
        }),
      );
      logger?.info('gcs-pubsub-pull intake started', {
        subscription: subscription.name,
        concurrency,
      });
    },
    async stop() {
      stopping = true;
      const pending = [...inFlight.values()];
      let grace: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        Promise.all(pending).then(() => true),
        new Promise<false>((resolve) => (grace = setTimeout(() => resolve(false), stopGraceMs))),
      ]);
      clearTimeout(grace);
      if (!finished) {
        logger?.warn('abandoning messages in flight to redelivery', { count: inFlight.size });
        for (const message of inFlight.keys()) message.nack();
      }
      // Sends the acknowledgements still batched, and ends the streams.
      await subscription?.close();
      if (ownsClient) await client.close();
    },
  };
}
