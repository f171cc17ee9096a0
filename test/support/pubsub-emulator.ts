/**
 * The Pub/Sub emulator as tests use it: a project of their own per test (the emulator takes any project
 * id, so topics of one test never see another's), topics with a subscription each, and every message a
 * topic received pulled back.
 */
import { randomUUID } from 'node:crypto';
import { v1 } from '@google-cloud/pubsub';
import { publisherClientOptions } from '../../adapters/event-sink/pubsub/pubsub-event-sink.js';

export interface PulledMessage {
  data: Buffer;
  attributes: Record<string, string>;
  /** Empty when the message has none. */
  orderingKey: string;
}

export interface EmulatedProject {
  projectId: string;
  /** Client options that reach the emulator (what `new PubSub().options` holds). */
  clientOptions: ConstructorParameters<typeof v1.PublisherClient>[0];
  /** Creates topics, each with a subscription that sees every message published from now on. */
  createTopics(...topics: string[]): Promise<void>;
  /** Creates a topic whose subscription has message ordering on: `pull` returns each key's in order. */
  createOrderedTopic(topic: string): Promise<void>;
  /** Every message published to `topic` since it was created and not pulled yet, acknowledged. */
  pull(topic: string): Promise<PulledMessage[]>;
  close(): Promise<void>;
}

export function emulatorHost(): string {
  const host = process.env.PUBSUB_EMULATOR_HOST;
  if (!host) {
    throw new Error(
      'PUBSUB_EMULATOR_HOST is not set: run the tests with vitest, whose global setup starts the Pub/Sub emulator',
    );
  }
  return host;
}

export function emulatedProject(prefix = 'test'): EmulatedProject {
  emulatorHost();
  const projectId = `${prefix}-${randomUUID().slice(0, 8)}`;
  const clientOptions = publisherClientOptions(projectId);
  const publisher = new v1.PublisherClient(clientOptions);
  const subscriber = new v1.SubscriberClient(clientOptions);
  const topicPath = (topic: string) => `projects/${projectId}/topics/${topic}`;
  const subscriptionPath = (topic: string) => `projects/${projectId}/subscriptions/${topic}.all`;
  const created: string[] = [];
  const ordered = new Set<string>();
  const create = async (topic: string, enableMessageOrdering: boolean) => {
    created.push(topic);
    await publisher.createTopic({ name: topicPath(topic) });
    await subscriber.createSubscription({
      name: subscriptionPath(topic),
      topic: topicPath(topic),
      ackDeadlineSeconds: 600,
      enableMessageOrdering,
    });
  };
  return {
    projectId,
    clientOptions,
    async createTopics(...topics) {
      for (const topic of topics) await create(topic, false);
    },
    async createOrderedTopic(topic) {
      ordered.add(topic);
      await create(topic, true);
    },
    async pull(topic) {
      const subscription = subscriptionPath(topic);
      const messages: PulledMessage[] = [];
      // The emulator answers at most 100 messages a pull: a few pulls run at once, until two in a row of
      // each come back empty (everything published before the call has been accepted, so it is there).
      const puller = async () => {
        for (let empty = 0; empty < 2;) {
          const [response] = await subscriber.pull({
            subscription,
            maxMessages: 1000,
            returnImmediately: true,
          });
          const received = response.receivedMessages ?? [];
          if (received.length === 0) {
            empty++;
            continue;
          }
          empty = 0;
          for (const { message } of received) {
            messages.push({
              data: Buffer.from(message!.data ?? new Uint8Array(0)),
              attributes: { ...(message!.attributes ?? {}) },
              orderingKey: message!.orderingKey ?? '',
            });
          }
          await subscriber.acknowledge({ subscription, ackIds: received.map(({ ackId }) => ackId!) });
        }
      };
      // An ordered subscription's messages are read by one puller, so they are kept in delivery order.
      await Promise.all(ordered.has(topic) ? [puller()] : [puller(), puller(), puller(), puller()]);
      return messages;
    },
    async close() {
      // The emulator holds every message of a subscription in its heap until the subscription goes.
      for (const topic of created) {
        await subscriber.deleteSubscription({ subscription: subscriptionPath(topic) }).catch(() => undefined);
        await publisher.deleteTopic({ topic: topicPath(topic) }).catch(() => undefined);
      }
      await Promise.all([publisher.close(), subscriber.close()]);
    },
  };
}
