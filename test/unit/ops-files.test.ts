/**
 * The example alert rules and the Grafana dashboard in ops/ parse, and every metric they query is one the
 * gateway exposes (promtool is not at hand: the names are what goes stale when a metric is renamed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPrometheusMetrics } from '../../app/node/prometheus-metrics.js';

const root = join(import.meta.dirname, '../..');

/** Every series name the gateway's registry exposes, histograms' _bucket, _sum and _count included. */
async function exposedNames(): Promise<Set<string>> {
  const { body } = await createPrometheusMetrics().render();
  const names = new Set<string>();
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

const metricsIn = (expression: string) =>
  [...expression.matchAll(/\bdropgate_[a-z0-9_]+/g)].map(([name]) => name);

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for: string; labels: object }> }>;
}

describe('ops/', () => {
  it('alert rules parse, each with a name, an expression, a duration and a severity, over exposed metrics', async () => {
    const exposed = await exposedNames();
    // JSON is YAML: Prometheus loads the rule file as it is (rule_files), and a test needs no YAML parser.
    const rules = JSON.parse(
      readFileSync(join(root, 'ops/prometheus/dropgate-alerts.rules.json'), 'utf8'),
    ) as RuleFile;
    const all = rules.groups.flatMap((group) => group.rules);
    expect(all.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'DropgateFilesFailing',
        'DropgateNotificationLagGrowing',
        'DropgateRejectionRateHigh',
      ]),
    );
    for (const rule of all) {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(rule.labels).toHaveProperty('severity');
      const used = metricsIn(rule.expr);
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const name of used) expect(exposed, `${rule.alert} uses ${name}`).toContain(name);
    }
  });

  it('the dashboard parses and every panel queries exposed metrics', async () => {
    const exposed = await exposedNames();
    const dashboard = JSON.parse(readFileSync(join(root, 'ops/grafana/dropgate.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const name of metricsIn(target.expr)) {
          expect(exposed, `${panel.title} uses ${name}`).toContain(name);
          used.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    for (const name of [
      'dropgate_bytes_read_total',
      'dropgate_ingest_lag_seconds',
      'dropgate_publish_retries_total',
    ])
      expect(used).toContain(name);
  });
});
