/** The gateway's metrics on Node, kept and rendered by prom-client, with Node's process metrics beside. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayMetrics } from '../metrics.js';

/** Seconds: from a small file's fraction of a second to a large one's minutes. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const PUBLISH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createPrometheusMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dropgate_' });
  const files = new Counter({
    name: 'dropgate_files_total',
    help: 'Ingestion attempts by dataset and how they ended',
    labelNames: ['dataset', 'state'],
    registers: [registry],
  });
  const rows = new Counter({
    name: 'dropgate_rows_total',
    help: 'Rows of finished files by dataset: read, published, rejected (dead-lettered)',
    labelNames: ['dataset', 'outcome'],
    registers: [registry],
  });
  const rowsRescued = new Counter({
    name: 'dropgate_rows_rescued_total',
    help: 'Events of finished files carrying _rescued values (columns the schema does not declare, drift rule rescue)',
    labelNames: ['dataset'],
    registers: [registry],
  });
  const valuesIgnored = new Counter({
    name: 'dropgate_values_ignored_total',
    help: 'Values of accepted rows dropped under the drift rule ignore (columns the schema does not declare)',
    labelNames: ['dataset'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'dropgate_bytes_read_total',
    help: 'Bytes of finished files by dataset, as stored (compressed when the object is)',
    labelNames: ['dataset'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dropgate_ingest_duration_seconds',
    help: 'Duration of ingestion attempts that finished a file',
    labelNames: ['dataset', 'state'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'dropgate_files_in_flight',
    help: 'Files this instance is ingesting now',
    registers: [registry],
  });
  const leaseLosses = new Counter({
    name: 'dropgate_lease_losses_total',
    help: 'Attempts stopped because another instance took their lease over',
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'dropgate_notification_lag_seconds',
    help: 'From the object written (the notification event time) to its landing reaching the gateway',
    labelNames: ['via'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const ingestLag = new Histogram({
    name: 'dropgate_ingest_lag_seconds',
    help: 'From the object written (its stored time) to its ingestion starting, for notified files',
    labelNames: ['dataset'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const publishSeconds = new Histogram({
    name: 'dropgate_publish_duration_seconds',
    help: 'Duration of one publish of a block of events to the sink',
    labelNames: ['topic'],
    buckets: PUBLISH_BUCKETS,
    registers: [registry],
  });
  const publishedEvents = new Counter({
    name: 'dropgate_published_events_total',
    help: 'Events given to the sink, by whether it accepted them (failed ones are retried or dead-lettered)',
    labelNames: ['topic', 'result'],
    registers: [registry],
  });
  const publishFaults = new Counter({
    name: 'dropgate_publish_faults_total',
    help: 'Publishes that failed as a whole (a missing topic, an outage); the block is retried',
    labelNames: ['topic'],
    registers: [registry],
  });
  const publishRetries = new Counter({
    name: 'dropgate_publish_retries_total',
    help: 'Publishes tried again, after a fault or for events the sink did not take',
    labelNames: ['topic'],
    registers: [registry],
  });
  const afterProcessing = new Counter({
    name: 'dropgate_after_processing_actions_total',
    help: 'After-processing actions (delete, move) on finished files, by outcome (done, failed)',
    labelNames: ['dataset', 'action', 'outcome'],
    registers: [registry],
  });
  return {
    fileDone(dataset, state, finished) {
      files.inc({ dataset, state });
      if (!finished) return;
      rows.inc({ dataset, outcome: 'read' }, finished.rowsRead);
      rows.inc({ dataset, outcome: 'published' }, finished.rowsPublished);
      rows.inc({ dataset, outcome: 'rejected' }, finished.rowsRejected);
      if (finished.rowsRescued > 0) rowsRescued.inc({ dataset }, finished.rowsRescued);
      if (finished.valuesIgnored > 0) valuesIgnored.inc({ dataset }, finished.valuesIgnored);
      bytes.inc({ dataset }, finished.bytesRead);
      duration.observe({ dataset, state }, finished.durationSeconds);
    },
    inFlight: (change) => inFlight.inc(change),
    leaseLost: () => leaseLosses.inc(),
    notificationLag: (via, seconds) => lag.observe({ via }, Math.max(0, seconds)),
    ingestLag: (dataset, seconds) => ingestLag.observe({ dataset }, Math.max(0, seconds)),
    published(topic, seconds, accepted, failed) {
      publishSeconds.observe({ topic }, seconds);
      if (accepted > 0) publishedEvents.inc({ topic, result: 'accepted' }, accepted);
      if (failed > 0) publishedEvents.inc({ topic, result: 'failed' }, failed);
    },
    publishFault: (topic) => publishFaults.inc({ topic }),
    publishRetried: (topic) => publishRetries.inc({ topic }),
    afterProcessing: (dataset, action, outcome) => afterProcessing.inc({ dataset, action, outcome }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
