/** The gateway's metrics on Node, kept and rendered by prom-client, with Node's process metrics beside. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { measureWith, type GatewayMetrics } from '../metrics.js';

export function createPrometheusMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dropgate_' });
  const registers = [registry];
  return measureWith(
    {
      counter: ({ name, help, labelNames }) =>
        new Counter({ name, help, labelNames: [...labelNames], registers }),
      gauge: ({ name, help, labelNames }) =>
        new Gauge({ name, help, labelNames: [...labelNames], registers }),
      histogram: ({ name, help, labelNames, buckets }) =>
        new Histogram({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers }),
    },
    async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  );
}
