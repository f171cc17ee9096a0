/**
 * The gateway's metrics without prom-client (which needs Node): counters, gauges and histograms of the
 * table in metrics.ts, rendered in the Prometheus text exposition format 0.0.4. Used on Workers, where
 * they are per isolate: they start at zero with each new isolate (docs/deploy-workers.md).
 */
import {
  measureWith,
  PROMETHEUS_TEXT_TYPE,
  type GatewayMetrics,
  type HistogramDefinition,
  type Labels,
  type MetricDefinition,
} from './metrics.js';

/** A label value in a sample line: backslash, double quote and line feed escaped. */
const escapeLabelValue = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A HELP text: backslash and line feed escaped. */
const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

const formatValue = (value: number) =>
  value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : Number.isNaN(value) ? 'NaN' : String(value);

/** `{a="x",b="y"}` in the definition's label order, `extra` (a bucket's `le`) last; '' for no labels. */
function labelText(names: readonly string[], labels: Labels, extra?: [string, string]): string {
  const pairs = names.map((name) => [name, labels[name] ?? ''] as const);
  if (extra) pairs.push(extra);
  return pairs.length === 0
    ? ''
    : `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** One metric family: its series by label values, and how each renders. */
interface Family {
  render(): string[];
}

export function createTextMetrics(): GatewayMetrics {
  const families: Family[] = [];
  const seriesKey = (names: readonly string[], labels: Labels) =>
    JSON.stringify(names.map((name) => labels[name] ?? ''));

  function header(definition: MetricDefinition, type: string): string[] {
    return [`# HELP ${definition.name} ${escapeHelp(definition.help)}`, `# TYPE ${definition.name} ${type}`];
  }

  function scalar(definition: MetricDefinition, type: 'counter' | 'gauge') {
    const series = new Map<string, { labels: Labels; value: number }>();
    // An unlabelled metric has its one series from the start, at zero, as prom-client renders it.
    if (definition.labelNames.length === 0) series.set(seriesKey([], {}), { labels: {}, value: 0 });
    families.push({
      render: () => [
        ...header(definition, type),
        ...[...series.values()].map(
          ({ labels, value }) =>
            `${definition.name}${labelText(definition.labelNames, labels)} ${formatValue(value)}`,
        ),
      ],
    });
    return {
      inc(labels: Labels, value: number) {
        const key = seriesKey(definition.labelNames, labels);
        const found = series.get(key);
        if (found) found.value += value;
        else series.set(key, { labels, value });
      },
    };
  }

  function histogram(definition: HistogramDefinition) {
    const { name, labelNames, buckets } = definition;
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    families.push({
      render: () => [
        ...header(definition, 'histogram'),
        ...[...series.values()].flatMap(({ labels, counts, sum, count }) => {
          let cumulative = 0;
          return [
            ...buckets.map((bound, index) => {
              cumulative += counts[index]!;
              return `${name}_bucket${labelText(labelNames, labels, ['le', formatValue(bound)])} ${cumulative}`;
            }),
            `${name}_bucket${labelText(labelNames, labels, ['le', '+Inf'])} ${count}`,
            `${name}_sum${labelText(labelNames, labels)} ${formatValue(sum)}`,
            `${name}_count${labelText(labelNames, labels)} ${count}`,
          ];
        }),
      ],
    });
    return {
      observe(labels: Labels, value: number) {
        const key = seriesKey(labelNames, labels);
        let found = series.get(key);
        if (!found) {
          found = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
          series.set(key, found);
        }
        const index = buckets.findIndex((bound) => value <= bound);
        if (index >= 0) found.counts[index]!++;
        found.sum += value;
        found.count++;
      },
    };
  }

  return measureWith(
    {
      counter: (definition) => scalar(definition, 'counter'),
      gauge: (definition) => scalar(definition, 'gauge'),
      histogram,
    },
    async () => ({
      contentType: PROMETHEUS_TEXT_TYPE,
      body: `${families.flatMap((family) => family.render()).join('\n')}\n`,
    }),
  );
}
