/**
 * What the gateway measures, whatever the runtime renders it with (prom-client on Node, the Prometheus
 * text format by hand on Workers). Labels are bounded: datasets and topics come from the config, states
 * and outcomes from fixed lists; object keys never become labels.
 */
export type FileResultState =
  'ingested' | 'rejected' | 'failed' | 'duplicate' | 'in-progress' | 'missing' | 'superseded';

export interface GatewayMetrics {
  /**
   * An ingestion attempt ended (or was skipped) with `state`; rows and duration for finished files, with
   * the rows rescued and values ignored under the dataset's drift rule.
   */
  fileDone(
    dataset: string,
    state: FileResultState,
    finished?: {
      rowsRead: number;
      rowsPublished: number;
      rowsRejected: number;
      rowsRescued: number;
      valuesIgnored: number;
      /** Bytes of the object as stored (compressed when it is). */
      bytesRead: number;
      durationSeconds: number;
    },
  ): void;
  /** Files being ingested by this instance: +1 at the start of an attempt, -1 at its end. */
  inFlight(change: 1 | -1): void;
  /** An attempt stopped because another instance took its lease over. */
  leaseLost(): void;
  /** From the provider's event time (the object written) to the landing reaching the gateway. */
  notificationLag(via: string, seconds: number): void;
  /** From the object written (its stored time) to its ingestion starting (claimed), for notified files. */
  ingestLag(dataset: string, seconds: number): void;
  /** One `publish` call to the sink: how long it took, how many events it accepted and failed. */
  published(topic: string, seconds: number, accepted: number, failed: number): void;
  /** A `publish` call that failed as a whole (a missing topic, an outage). */
  publishFault(topic: string): void;
  /** A publish to `topic` tried again: after a fault, or for events the sink did not take. */
  publishRetried(topic: string): void;
  /**
   * A dataset's after-processing action (`afterIngest` delete or move, `onRejected` move) on a file the
   * ledger recorded as finished: done, or failed (the object stays where it was until a replay).
   */
  afterProcessing(dataset: string, action: 'delete' | 'move', outcome: 'done' | 'failed'): void;
  /** The Prometheus text exposition of everything measured so far. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** The content type of the Prometheus text exposition format. */
export const PROMETHEUS_TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Measures nothing: for the CLI and tests that do not look. */
export const noMetrics: GatewayMetrics = {
  fileDone: () => undefined,
  inFlight: () => undefined,
  leaseLost: () => undefined,
  notificationLag: () => undefined,
  ingestLag: () => undefined,
  published: () => undefined,
  publishFault: () => undefined,
  publishRetried: () => undefined,
  afterProcessing: () => undefined,
  render: async () => ({ contentType: PROMETHEUS_TEXT_TYPE, body: '' }),
};

/** Seconds: from a small file's fraction of a second to a large one's minutes. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const PUBLISH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricDefinition {
  name: string;
  help: string;
  labelNames: readonly string[];
}
export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds, ascending; `+Inf` is implied. */
  buckets: readonly number[];
}

/**
 * Every metric the gateway keeps, by its Prometheus name (ops/grafana and ops/prometheus rely on them):
 * one table for both runtimes, so Node and Workers serve the same names, labels, types and buckets.
 */
export const METRICS = {
  counters: {
    files: {
      name: 'dropgate_files_total',
      help: 'Ingestion attempts by dataset and how they ended',
      labelNames: ['dataset', 'state'],
    },
    rows: {
      name: 'dropgate_rows_total',
      help: 'Rows of finished files by dataset: read, published, rejected (dead-lettered)',
      labelNames: ['dataset', 'outcome'],
    },
    rowsRescued: {
      name: 'dropgate_rows_rescued_total',
      help: 'Events of finished files carrying _rescued values (columns the schema does not declare, drift rule rescue)',
      labelNames: ['dataset'],
    },
    valuesIgnored: {
      name: 'dropgate_values_ignored_total',
      help: 'Values of accepted rows dropped under the drift rule ignore (columns the schema does not declare)',
      labelNames: ['dataset'],
    },
    bytes: {
      name: 'dropgate_bytes_read_total',
      help: 'Bytes of finished files by dataset, as stored (compressed when the object is)',
      labelNames: ['dataset'],
    },
    leaseLosses: {
      name: 'dropgate_lease_losses_total',
      help: 'Attempts stopped because another instance took their lease over',
      labelNames: [],
    },
    publishedEvents: {
      name: 'dropgate_published_events_total',
      help: 'Events given to the sink, by whether it accepted them (failed ones are retried or dead-lettered)',
      labelNames: ['topic', 'result'],
    },
    publishFaults: {
      name: 'dropgate_publish_faults_total',
      help: 'Publishes that failed as a whole (a missing topic, an outage); the block is retried',
      labelNames: ['topic'],
    },
    publishRetries: {
      name: 'dropgate_publish_retries_total',
      help: 'Publishes tried again, after a fault or for events the sink did not take',
      labelNames: ['topic'],
    },
    afterProcessing: {
      name: 'dropgate_after_processing_actions_total',
      help: 'After-processing actions (delete, move) on finished files, by outcome (done, failed)',
      labelNames: ['dataset', 'action', 'outcome'],
    },
  },
  gauges: {
    inFlight: {
      name: 'dropgate_files_in_flight',
      help: 'Files this instance is ingesting now',
      labelNames: [],
    },
  },
  histograms: {
    duration: {
      name: 'dropgate_ingest_duration_seconds',
      help: 'Duration of ingestion attempts that finished a file',
      labelNames: ['dataset', 'state'],
      buckets: DURATION_BUCKETS,
    },
    notificationLag: {
      name: 'dropgate_notification_lag_seconds',
      help: 'From the object written (the notification event time) to its landing reaching the gateway',
      labelNames: ['via'],
      buckets: DURATION_BUCKETS,
    },
    ingestLag: {
      name: 'dropgate_ingest_lag_seconds',
      help: 'From the object written (its stored time) to its ingestion starting, for notified files',
      labelNames: ['dataset'],
      buckets: DURATION_BUCKETS,
    },
    publishSeconds: {
      name: 'dropgate_publish_duration_seconds',
      help: 'Duration of one publish of a block of events to the sink',
      labelNames: ['topic'],
      buckets: PUBLISH_BUCKETS,
    },
  },
} as const satisfies {
  counters: Record<string, MetricDefinition>;
  gauges: Record<string, MetricDefinition>;
  histograms: Record<string, HistogramDefinition>;
};

export type Labels = Record<string, string>;

/** How a runtime keeps one metric of the table: prom-client's classes on Node, text-metrics.ts on Workers. */
export interface MetricInstruments {
  counter(definition: MetricDefinition): { inc(labels: Labels, value: number): void };
  gauge(definition: MetricDefinition): { inc(labels: Labels, value: number): void };
  histogram(definition: HistogramDefinition): { observe(labels: Labels, value: number): void };
}

/** The gateway's metrics kept by `instruments` and rendered by `render`. */
export function measureWith(
  instruments: MetricInstruments,
  render: GatewayMetrics['render'],
): GatewayMetrics {
  const { counters, gauges, histograms } = METRICS;
  const files = instruments.counter(counters.files);
  const rows = instruments.counter(counters.rows);
  const rowsRescued = instruments.counter(counters.rowsRescued);
  const valuesIgnored = instruments.counter(counters.valuesIgnored);
  const bytes = instruments.counter(counters.bytes);
  const duration = instruments.histogram(histograms.duration);
  const inFlight = instruments.gauge(gauges.inFlight);
  const leaseLosses = instruments.counter(counters.leaseLosses);
  const lag = instruments.histogram(histograms.notificationLag);
  const ingestLag = instruments.histogram(histograms.ingestLag);
  const publishSeconds = instruments.histogram(histograms.publishSeconds);
  const publishedEvents = instruments.counter(counters.publishedEvents);
  const publishFaults = instruments.counter(counters.publishFaults);
  const publishRetries = instruments.counter(counters.publishRetries);
  const afterProcessing = instruments.counter(counters.afterProcessing);
  return {
    fileDone(dataset, state, finished) {
      files.inc({ dataset, state }, 1);
      if (!finished) return;
      rows.inc({ dataset, outcome: 'read' }, finished.rowsRead);
      rows.inc({ dataset, outcome: 'published' }, finished.rowsPublished);
      rows.inc({ dataset, outcome: 'rejected' }, finished.rowsRejected);
      if (finished.rowsRescued > 0) rowsRescued.inc({ dataset }, finished.rowsRescued);
      if (finished.valuesIgnored > 0) valuesIgnored.inc({ dataset }, finished.valuesIgnored);
      bytes.inc({ dataset }, finished.bytesRead);
      duration.observe({ dataset, state }, finished.durationSeconds);
    },
    inFlight: (change) => inFlight.inc({}, change),
    leaseLost: () => leaseLosses.inc({}, 1),
    notificationLag: (via, seconds) => lag.observe({ via }, Math.max(0, seconds)),
    ingestLag: (dataset, seconds) => ingestLag.observe({ dataset }, Math.max(0, seconds)),
    published(topic, seconds, accepted, failed) {
      publishSeconds.observe({ topic }, seconds);
      if (accepted > 0) publishedEvents.inc({ topic, result: 'accepted' }, accepted);
      if (failed > 0) publishedEvents.inc({ topic, result: 'failed' }, failed);
    },
    publishFault: (topic) => publishFaults.inc({ topic }, 1),
    publishRetried: (topic) => publishRetries.inc({ topic }, 1),
    afterProcessing: (dataset, action, outcome) => afterProcessing.inc({ dataset, action, outcome }, 1),
    render,
  };
}
