/** An EventSink that reports each publish's latency and results to the gateway's metrics. */
import type { EventBatch, EventSink } from '../adapters/ports.js';
import type { GatewayMetrics } from './metrics.js';

export function meteredSink(
  sink: EventSink,
  metrics: GatewayMetrics,
  now = () => performance.now(),
): EventSink {
  return {
    get capabilities() {
      return sink.capabilities;
    },
    async publish(topic: string, events: EventBatch) {
      const started = now();
      try {
        const result = await sink.publish(topic, events);
        const failed = result.failed.length;
        metrics.published(topic, (now() - started) / 1000, events.length - failed, failed);
        return result;
      } catch (error) {
        metrics.publishFault(topic);
        throw error;
      }
    },
    close: () => sink.close(),
  };
}
