/**
 * Traces of a real upload, collected in memory by the OpenTelemetry SDK: the span tree from the
 * notification to the file's finish, and every event's `traceparent` naming the file's ingest span.
 * Without a registered SDK the events carry no trace context at all.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createPinoLogger } from '../../app/node/pino-logger.js';
import { readTopic, type FileSummaryData } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import { startTestGateway, upload, type TestGateway } from './support/test-gateway.js';

let gateway: TestGateway | undefined;
let provider: NodeTracerProvider | undefined;
afterEach(async () => {
  await gateway?.close();
  await provider?.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
  gateway = provider = undefined;
});

function collectSpans(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  return exporter;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function allEvents(dataDir: string) {
  return [
    ...(await readTopic(dataDir, 'orders')),
    ...(await readTopic(dataDir, 'orders.dead-letter')),
    ...(await readTopic<FileSummaryData>(dataDir, 'dropgate.files')),
  ];
}

describe('traces', () => {
  it('spans notification -> ingest -> claim, read, publish blocks, finish; each event carries the ingest span as traceparent', async () => {
    const exporter = collectSpans();
    gateway = await startTestGateway({
      logger: (write) => createPinoLogger({ level: 'info', destination: { write } }),
    });
    const file = ordersFile(40, 7);
    const stored = await upload(gateway, 'traced.csv', file.csv);
    await gateway.running.gateway.idle();

    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((span) => span.name === name);
    const [notification] = named('dropgate.notification');
    const [ingest] = named('dropgate.ingest');
    expect(named('dropgate.notification')).toHaveLength(1);
    expect(named('dropgate.ingest')).toHaveLength(1);
    expect(parentOf(notification!)).toBeUndefined();
    expect(parentOf(ingest!)).toBe(notification!.spanContext().spanId);
    const traceId = notification!.spanContext().traceId;
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
    expect(ingest!.attributes).toMatchObject({
      'dropgate.bucket': expect.any(String),
      'dropgate.key': stored.objectKey,
      'dropgate.version': stored.version,
      'dropgate.dataset': 'orders',
      'dropgate.rows': 40,
      'dropgate.state': 'ingested',
    });

    const steps = spans.filter((span) => parentOf(span) === ingest!.spanContext().spanId);
    const stepNames = steps.map((span) => span.name);
    expect(stepNames.filter((name) => name !== 'dropgate.publish')).toEqual([
      'dropgate.claim',
      'dropgate.read',
      'dropgate.finish',
    ]);
    const publishes = named('dropgate.publish');
    expect(publishes.length).toBeGreaterThan(0);
    expect(steps).toHaveLength(3 + publishes.length);
    const published = publishes.reduce((rows, span) => rows + Number(span.attributes['dropgate.rows']), 0);
    expect(published).toBe(file.goodRows.length);

    const events = await allEvents(gateway.dataDir);
    expect(events.length).toBe(file.goodRows.length + file.badRows.length + 1);
    expect(file.badRows.length).toBeGreaterThan(0);
    const traceparent = `00-${traceId}-${ingest!.spanContext().spanId}-01`;
    for (const event of events) expect(event.traceparent).toBe(traceparent);

    // The file's log line names the same trace, so logs and traces join up.
    const finished = gateway.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.message === 'file finished');
    expect(finished).toMatchObject({ key: stored.objectKey, traceId, spanId: ingest!.spanContext().spanId });
  });

  it('leaves the events without trace context when no SDK is registered', async () => {
    gateway = await startTestGateway();
    await upload(gateway, 'untraced.csv', ordersFile(12, 4).csv);
    await gateway.running.gateway.idle();
    const events = await allEvents(gateway.dataDir);
    expect(events.length).toBe(12 + 1);
    for (const event of events) {
      expect(event).not.toHaveProperty('traceparent');
      expect(event).not.toHaveProperty('tracestate');
    }
  });
});
