/**
 * OpenTelemetry's SDK on Node, configured by the standard OTEL_* variables and off unless they ask for it:
 * OTEL_TRACES_EXPORTER (`otlp` or `console`; `none` is off) or an OTLP endpoint turns it on.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { DropgateError } from '../../adapters/errors.js';

export interface Tracing {
  /** Sends the spans still buffered and unregisters the SDK. */
  shutdown(): Promise<void>;
}

const EXPORTERS = ['otlp', 'console', 'none'] as const;

/** The exporter the variables ask for, or undefined when tracing stays off. */
export function tracesExporterOf(environment: NodeJS.ProcessEnv): (typeof EXPORTERS)[number] | undefined {
  if (environment.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return undefined;
  // The specification allows a list; Dropgate sends to the first.
  const named = environment.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim().toLowerCase();
  if (named) {
    if (!(EXPORTERS as readonly string[]).includes(named)) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `OTEL_TRACES_EXPORTER is "${named}"; Dropgate knows ${EXPORTERS.join(', ')}`,
        { context: { field: 'OTEL_TRACES_EXPORTER' } },
      );
    }
    return named === 'none' ? undefined : (named as 'otlp' | 'console');
  }
  return environment.OTEL_EXPORTER_OTLP_ENDPOINT || environment.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? 'otlp'
    : undefined;
}

/**
 * Registers a tracer provider when the variables ask for one (see tracesExporterOf); the OTLP exporter
 * reads its endpoint, headers and protocol options from OTEL_EXPORTER_OTLP_* itself, the sampler comes
 * from OTEL_TRACES_SAMPLER, the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. The SDK and
 * exporter are imported only then: a gateway with tracing off does not carry them (~20 MB resident).
 */
export async function startTracing(
  environment: NodeJS.ProcessEnv = process.env,
  exporter?: SpanExporter,
): Promise<Tracing | undefined> {
  const kind = exporter ? 'given' : tracesExporterOf(environment);
  if (!kind) return undefined;
  const [{ OTLPTraceExporter }, { detectResources, envDetector, resourceFromAttributes }, sdk] =
    await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } = sdk;
  const resource = resourceFromAttributes({ 'service.name': 'dropgate' }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor(
        exporter ?? (kind === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter()),
      ),
    ],
  });
  provider.register();
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
