/**
 * An event sink in memory: the test double for every sink, held to the same contract suite. It splits a
 * batch into requests of its limits as a message sink does (publishInRequests), and a test can make any
 * request fail, in part or whole, to exercise splitting and partial failure.
 */
import type { EventBatch, EventSink, OutgoingEvent, PublishFailure } from '../../ports.js';
import { publishInRequests } from '../publish-in-requests.js';

export interface MemoryRequest {
  topic: string;
  /** The request's events, a view of the batch. */
  events: EventBatch;
  /** Requests sent so far by this sink, this one included. */
  number: number;
}

export interface MemoryEventSinkOptions {
  /** Most events in one request (default 1,000). */
  maxRequestEvents?: number;
  /** Most bytes of event bodies in one request (default 10 MiB). */
  maxRequestBytes?: number;
  /** Largest event body (default 10 MiB). */
  maxMessageBytes?: number;
  /** Requests in flight at once (default 1); with more, the sink does not keep a batch's order. */
  maxInFlight?: number;
  /**
   * Decides the fate of each request before the sink keeps its events, as a destination might: the
   * failures it returns (by index into the request) are not kept, and throwing fails the whole request.
   */
  inject?: (request: MemoryRequest) => PublishFailure[] | void | Promise<PublishFailure[] | void>;
}

export interface MemoryEventSink extends EventSink {
  /** Every event accepted on `topic`, in the order accepted, duplicates included. */
  events(topic: string): OutgoingEvent[];
  topics(): string[];
  /** Every request sent, in the order sent: its topic, events and bytes of bodies. */
  requests(): Array<{ topic: string; events: number; bytes: number }>;
}

export function createMemoryEventSink(options: MemoryEventSinkOptions = {}): MemoryEventSink {
  const limits = {
    maxEvents: options.maxRequestEvents ?? 1000,
    maxBytes: options.maxRequestBytes ?? 10 << 20,
    maxMessageBytes: options.maxMessageBytes ?? 10 << 20,
    maxInFlight: options.maxInFlight ?? 1,
  };
  const byTopic = new Map<string, OutgoingEvent[]>();
  const sent: Array<{ topic: string; events: number; bytes: number }> = [];
  return {
    capabilities: {
      ordered: limits.maxInFlight === 1,
      maxMessageBytes: Math.min(limits.maxMessageBytes, limits.maxBytes),
    },
    async publish(topic, events) {
      return publishInRequests(events, limits, async (request) => {
        let bytes = 0;
        for (let index = 0; index < request.length; index++) bytes += request.body(index).byteLength;
        sent.push({ topic, events: request.length, bytes });
        const failed = (await options.inject?.({ topic, events: request, number: sent.length })) ?? [];
        const refused = new Set(failed.map((failure) => failure.index));
        const list = byTopic.get(topic) ?? [];
        byTopic.set(topic, list);
        request.toEvents().forEach((event, index) => {
          if (!refused.has(index)) list.push(event);
        });
        return { failed };
      });
    },
    async close() {},
    events: (topic) => [...(byTopic.get(topic) ?? [])],
    topics: () => [...byTopic.keys()],
    requests: () => [...sent],
  };
}
