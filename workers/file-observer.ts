/**
 * What the app watches of one file's ingestion: its trace and the moments its metrics need. The core
 * only calls it (the app backs it with OpenTelemetry and its metrics), so the core stays free of both.
 */
import type { ObjectInfo } from '../adapters/ports.js';

/** The steps of an ingestion, each a span under the file's own. */
export type FileStep = 'claim' | 'read' | 'publish' | 'finish';

export type StepAttributes = Record<string, string | number>;

/** Ends a step, with the error that stopped it if one did, and attributes learned meanwhile. */
export type EndStep = (end?: { error?: unknown; attributes?: StepAttributes }) => void;

export interface FileObserver {
  /**
   * The W3C trace context of the file's ingestion, stamped on every event of the file as the CloudEvents
   * distributed-tracing extension (`traceparent`, `tracestate`), so consumers continue the trace.
   * Absent when the file is not traced: the events are then exactly what they are without an observer.
   */
  readonly traceparent?: string;
  readonly tracestate?: string;
  step(name: FileStep, attributes: StepAttributes): EndStep;
  /** The version is claimed and its reading starts: the object as stat'd (its size, when it was written). */
  claimed(object: ObjectInfo): void;
  /** A publish to `topic` is tried again after `error`. */
  retried(topic: string, error: unknown): void;
}
