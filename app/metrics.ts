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
  render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
};
