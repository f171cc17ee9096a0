/**
 * Which OTEL_* settings turn tracing on: off by default, on for an exporter or an OTLP endpoint; the SDK,
 * imported only then, sends the spans.
 */
import { describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';
import { startTracing, tracesExporterOf } from '../../app/node/start-tracing.js';

describe('tracesExporterOf', () => {
  it('is off without OTEL_* variables, and when they say none or disable the SDK', () => {
    expect(tracesExporterOf({})).toBeUndefined();
    expect(tracesExporterOf({ OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(
      tracesExporterOf({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    ).toBeUndefined();
  });

  it('sends OTLP when an endpoint is set, or the exporter named', () => {
    expect(tracesExporterOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe('otlp');
    expect(tracesExporterOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(
      'otlp',
    );
    expect(tracesExporterOf({ OTEL_TRACES_EXPORTER: 'console' })).toBe('console');
    expect(tracesExporterOf({ OTEL_TRACES_EXPORTER: 'otlp,console' })).toBe('otlp');
  });

  it('refuses an exporter it does not know, naming the variable', () => {
    expect(() => tracesExporterOf({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      /OTEL_TRACES_EXPORTER is "zipkin"; Dropgate knows otlp, console, none/,
    );
  });
});

describe('startTracing', () => {
  it('registers nothing when tracing is off', async () => {
    expect(await startTracing({})).toBeUndefined();
  });

  it('loads the SDK when asked and sends spans to the exporter as service dropgate', async () => {
    // InMemorySpanExporter forgets its spans when shut down; this one keeps them.
    const exported: ReadableSpan[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        exported.push(...spans);
        done({ code: 0 }); // ExportResultCode.SUCCESS
      },
      shutdown: async () => undefined,
    };
    const tracing = await startTracing({}, exporter);
    expect(tracing).toBeDefined();
    trace.getTracer('test').startSpan('probe').end();
    await tracing!.shutdown();
    const [span] = exported;
    expect(span?.name).toBe('probe');
    expect(span?.resource.attributes['service.name']).toBe('dropgate');
  });
});
