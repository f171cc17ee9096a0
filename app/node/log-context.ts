/**
 * The LogContext on Node: fields kept in AsyncLocalStorage, so every line logged while a request is
 * handled (the gateway, an inline ingestion, a sink's retry) carries its request id, and every line of a
 * file's ingestion its key, without a logger passed down. With tracing on, lines also carry the active
 * span's trace and span ids, the ones the events' `traceparent` names.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { LogContext, LogFields } from '../logger.js';

const storage = new AsyncLocalStorage<LogFields>();

export const nodeLogContext: LogContext = {
  run: (fields, fn) => storage.run(fields, fn),
  current() {
    const fields = storage.getStore();
    const span = trace.getActiveSpan()?.spanContext();
    if (!span || !isSpanContextValid(span)) return fields;
    return { ...fields, traceId: span.traceId, spanId: span.spanId };
  },
};
