/** An event sink in memory: the test double for every sink, held to the same contract suite. */
import type { EventSink, OutgoingEvent, SinkLimits } from '../../ports.js';

export interface MemoryEventSink extends EventSink {
  /** Every event accepted on `topic`, in order, duplicates included. */
  events(topic: string): OutgoingEvent[];
  topics(): string[];
}

export function createMemoryEventSink(
  limits: SinkLimits = { maxBatchEvents: 1000, maxBatchBytes: 4 << 20 },
): MemoryEventSink {
  const byTopic = new Map<string, OutgoingEvent[]>();
  return {
    limits,
    async publish(topic, events) {
      const list = byTopic.get(topic) ?? [];
      byTopic.set(topic, list);
      for (const event of events.toEvents()) list.push(event);
      return { failed: [] };
    },
    async close() {},
    events: (topic) => [...(byTopic.get(topic) ?? [])],
    topics: () => [...byTopic.keys()],
  };
}
