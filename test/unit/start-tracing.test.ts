/** Which OTEL_* settings turn tracing on: off by default, on for an exporter or an OTLP endpoint. */
import { describe, expect, it } from 'vitest';
import { tracesExporterOf } from '../../app/node/start-tracing.js';

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
