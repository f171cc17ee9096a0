/**
 * The gateway's spans, through `@opentelemetry/api` only: they cost next to nothing and are dropped until
 * a runtime registers an SDK (app/node/tracing.ts on Node). Parents are passed explicitly, so the tree
 * holds without a context manager (Workers) and across the background queue.
 */
import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context as contexts,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { describeError } from '../adapters/errors.js';
import type { ObjectInfo } from '../adapters/ports.js';
import type { FileObserver, StepAttributes } from '../workers/file-observer.js';

const TRACER_NAME = 'dropgate';

/**
 * Runs `work` in a span named `name` under `parent`; the span ends with `work`, marked as an error if it
 * threw. Where a context manager runs (Node's SDK), the span is also the active one while `work` runs, so
 * log lines name its trace and instrumented clients nest under it.
 */
export async function withSpan<T>(
  name: string,
  attributes: StepAttributes,
  parent: Context | undefined,
  work: (span: Span, context: Context) => Promise<T>,
): Promise<T> {
  const base = parent ?? ROOT_CONTEXT;
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { attributes: named(attributes) }, base);
  try {
    const spanContext = trace.setSpan(base, span);
    return await contexts.with(spanContext, () => work(span, spanContext));
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** What the ingestion of one file reports besides its spans. */
export interface IngestHooks {
  claimed(object: ObjectInfo): void;
  retried(topic: string): void;
}

/**
 * The core's observer for one file, under the file's `dropgate.ingest` span: each step becomes a child
 * span, and the span's context becomes the `traceparent` of the file's events when the span is traced.
 */
export function fileObserver(ingest: Span, parent: Context, hooks: IngestHooks): FileObserver {
  const spanContext = ingest.spanContext();
  const traced = isSpanContextValid(spanContext);
  const recording = ingest.isRecording();
  const tracestate = traced ? spanContext.traceState?.serialize() : undefined;
  return {
    ...(traced ? { traceparent: traceparentOf(spanContext) } : {}),
    ...(tracestate ? { tracestate } : {}),
    step(name, attributes) {
      if (!recording) return () => undefined;
      const span = trace
        .getTracer(TRACER_NAME)
        .startSpan(`dropgate.${name}`, { attributes: named(attributes) }, parent);
      return (end) => {
        if (end?.attributes) span.setAttributes(named(end.attributes));
        if (end?.error !== undefined) failed(span, end.error);
        span.end();
      };
    },
    claimed: (object) => hooks.claimed(object),
    retried(topic, error) {
      if (recording)
        ingest.addEvent('publish retried', {
          'dropgate.topic': topic,
          'dropgate.error': describeError(error),
        });
      hooks.retried(topic);
    },
  };
}

/** The W3C `traceparent` naming a span: version 00, trace id, span id, flags. */
export function traceparentOf(spanContext: { traceId: string; spanId: string; traceFlags: number }): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Attributes in Dropgate's namespace (`dropgate.key`, `dropgate.rows`). */
export function named(attributes: StepAttributes): Attributes {
  const result: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) result[`dropgate.${name}`] = value;
  return result;
}

function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
  if (error instanceof Error) span.recordException(error);
}
