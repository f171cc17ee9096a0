/**
 * The Workers metrics registry (app/text-metrics.ts) against the Node one (prom-client): the same calls
 * give the same families, types, HELP texts, labels and values, parsed by a strict exposition parser.
 */
import { describe, expect, it } from 'vitest';
import type { GatewayMetrics } from '../../app/metrics.js';
import { createPrometheusMetrics } from '../../app/node/prometheus-metrics.js';
import { createTextMetrics } from '../../app/text-metrics.js';
import { parsePrometheusText, type MetricFamily } from '../support/prometheus-text.js';

/** A dataset and a topic whose names need every escape the format has. */
const ODD = 'or"d\\ers\nnew';

function exercise(metrics: GatewayMetrics) {
  const finished = (durationSeconds: number) => ({
    rowsRead: 10,
    rowsPublished: 8,
    rowsRejected: 2,
    rowsRescued: 1,
    valuesIgnored: 3,
    bytesRead: 512,
    durationSeconds,
  });
  metrics.fileDone('orders', 'ingested', finished(0.05));
  metrics.fileDone('orders', 'ingested', finished(7));
  metrics.fileDone(ODD, 'rejected', finished(5_000));
  metrics.fileDone('orders', 'duplicate');
  metrics.inFlight(1);
  metrics.inFlight(1);
  metrics.inFlight(-1);
  metrics.leaseLost();
  metrics.notificationLag('r2-queue', 0.3);
  metrics.ingestLag('orders', -2);
  metrics.published(ODD, 0.004, 90, 10);
  metrics.published('orders', 0.2, 5, 0);
  metrics.publishFault('orders');
  metrics.publishRetried(ODD);
}

/** Each family's samples in a comparable order. */
const normalized = (family: MetricFamily) => ({
  ...family,
  samples: family.samples
    .map((sample) => JSON.stringify([sample.name, Object.entries(sample.labels).sort(), sample.value]))
    .sort(),
});

describe('the text metrics registry', () => {
  it('serves what prom-client serves on Node: names, types, HELP, labels, values, histogram buckets', async () => {
    const node = createPrometheusMetrics();
    const text = createTextMetrics();
    exercise(node);
    exercise(text);
    const nodeFamilies = parsePrometheusText((await node.render()).body);
    const { body, contentType } = await text.render();
    const textFamilies = parsePrometheusText(body);
    expect(contentType).toBe((await node.render()).contentType);

    const gateways = [...nodeFamilies.keys()].filter(
      (name) => !name.startsWith('dropgate_process_') && !name.startsWith('dropgate_nodejs_'),
    );
    expect([...textFamilies.keys()]).toEqual(gateways);
    expect(gateways.length).toBeGreaterThanOrEqual(14);
    for (const name of gateways)
      expect(normalized(textFamilies.get(name)!), name).toEqual(normalized(nodeFamilies.get(name)!));
  });

  it('escapes label values and keeps histograms cumulative up to +Inf', async () => {
    const text = createTextMetrics();
    exercise(text);
    const { body } = await text.render();
    expect(body).toContain('dropgate_files_total{dataset="or\\"d\\\\ers\\nnew",state="rejected"} 1');
    const families = parsePrometheusText(body);
    expect(families.get('dropgate_files_in_flight')).toMatchObject({
      type: 'gauge',
      samples: [{ name: 'dropgate_files_in_flight', labels: {}, value: 1 }],
    });
    const duration = families.get('dropgate_ingest_duration_seconds')!;
    expect(duration.type).toBe('histogram');
    const orders = (name: string) =>
      duration.samples.filter((sample) => sample.name === name && sample.labels.dataset === 'orders');
    // 0.05 falls in the bucket le="0.05" (upper bounds are inclusive), 7 from le="10" on.
    expect(
      orders('dropgate_ingest_duration_seconds_bucket').map((sample) => [sample.labels.le, sample.value]),
    ).toEqual([
      ['0.05', 1],
      ['0.1', 1],
      ['0.25', 1],
      ['0.5', 1],
      ['1', 1],
      ['2.5', 1],
      ['5', 1],
      ['10', 2],
      ['30', 2],
      ['60', 2],
      ['120', 2],
      ['300', 2],
      ['600', 2],
      ['1800', 2],
      ['+Inf', 2],
    ]);
    expect(orders('dropgate_ingest_duration_seconds_sum')[0]!.value).toBeCloseTo(7.05);
    expect(orders('dropgate_ingest_duration_seconds_count')[0]!.value).toBe(2);
    // Above every bound: only in +Inf.
    const odd = duration.samples.filter(
      (sample) => sample.labels.dataset === ODD && sample.name.endsWith('_bucket'),
    );
    expect(odd.filter((sample) => sample.value > 0).map((sample) => sample.labels.le)).toEqual(['+Inf']);
  });

  it('an empty registry still names every family, and unlabelled ones at zero', async () => {
    const families = parsePrometheusText((await createTextMetrics().render()).body);
    expect(families.get('dropgate_lease_losses_total')?.samples).toEqual([
      { name: 'dropgate_lease_losses_total', labels: {}, value: 0 },
    ]);
    expect(families.get('dropgate_rows_total')).toMatchObject({ type: 'counter', samples: [] });
  });
});

describe('the strict parser', () => {
  const header = '# HELP x_seconds A histogram\n# TYPE x_seconds histogram\n';
  it.each([
    ['an unknown escape', 'a_total{l="a\\tb"} 1\n', /invalid escape/],
    ['no line feed at the end', 'a_total 1', /end with a line feed/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n', /TYPE of a after its samples/],
    ['a series twice', 'a{l="1"} 1\na{l="1"} 2\n', /given twice/],
    ['a family split', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{l="2"} 1\n', /not contiguous/],
    [
      'a histogram without +Inf',
      `${header}x_seconds_bucket{le="1"} 1\nx_seconds_sum 1\nx_seconds_count 1\n`,
      /\+Inf/,
    ],
    [
      'buckets not cumulative',
      `${header}x_seconds_bucket{le="1"} 2\nx_seconds_bucket{le="2"} 1\nx_seconds_bucket{le="+Inf"} 2\nx_seconds_sum 1\nx_seconds_count 2\n`,
      /not cumulative/,
    ],
    [
      '+Inf not _count',
      `${header}x_seconds_bucket{le="+Inf"} 2\nx_seconds_sum 1\nx_seconds_count 3\n`,
      /is not _count/,
    ],
  ])('refuses %s', (_, text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(message);
  });
});
