/**
 * A strict parser of the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats/), for tests of what /metrics serves: escapes,
 * HELP and TYPE before a family's samples, families contiguous, no duplicate series, and histograms
 * whole (ascending `le` buckets, cumulative, a `+Inf` bucket equal to `_count`, `_sum` and `_count`).
 * Throws naming the line and what is wrong.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;

/** A value as Prometheus reads it (Go's ParseFloat: `NaN` and `Inf` in any case; prom-client writes `Nan`). */
function parseValue(text: string, where: string): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: ${text} is no value`);
  return Number(text);
}

/** Undoes the escapes `allowed` names (backslash plus one character each); any other escape is an error. */
function unescape(text: string, allowed: Record<string, string>, where: string): string {
  return text.replace(/\\(.?)/g, (_, next: string) => {
    if (!(next in allowed)) throw new Error(`${where}: invalid escape \\${next}`);
    return allowed[next]!;
  });
}

/** `name{a="x"} 1` -> its name, labels and value. */
function parseSample(line: string, where: string): Sample {
  const match = /^([^\s{]+)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample line: ${line}`);
  const [, name, , body, value] = match;
  if (!METRIC_NAME.test(name!)) throw new Error(`${where}: invalid metric name ${name}`);
  const labels: Record<string, string> = {};
  let rest = body ?? '';
  while (rest !== '') {
    const pair = /^([^=\s]+)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
    if (!pair) throw new Error(`${where}: malformed labels: {${body}}`);
    const [whole, label, raw] = pair;
    if (!LABEL_NAME.test(label!)) throw new Error(`${where}: invalid label name ${label}`);
    if (label! in labels) throw new Error(`${where}: label ${label} given twice`);
    labels[label!] = unescape(raw!, { '\\': '\\', '"': '"', n: '\n' }, where);
    rest = rest.slice(whole!.length);
    if (pair[3] === ',' && rest === '') throw new Error(`${where}: trailing comma in labels`);
  }
  return { name: name!, labels, value: parseValue(value!, where) };
}

const seriesId = (sample: Sample, without?: string) =>
  `${sample.name}${JSON.stringify(
    Object.entries(sample.labels)
      .filter(([label]) => label !== without)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )}`;

/** The family a sample belongs to: itself, or for a histogram's `_bucket`, `_sum`, `_count` the histogram. */
function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ['histogram', 'summary'].includes(families.get(base)?.type ?? '')) {
      if (suffix === '_bucket' && families.get(base)!.type === 'summary')
        throw new Error(`${name}: a summary has no buckets`);
      return base;
    }
  }
  return name;
}

function checkHistogram(name: string, family: MetricFamily): void {
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  const of = (sample: Sample) => {
    const id = seriesId({ ...sample, name }, 'le');
    if (!series.has(id)) series.set(id, { buckets: [] });
    return series.get(id)!;
  };
  for (const sample of family.samples) {
    if (sample.name === `${name}_bucket`) {
      if (sample.labels.le === undefined) throw new Error(`${name}_bucket without le`);
      of(sample).buckets.push([parseValue(sample.labels.le, `${name} le`), sample.value]);
    } else if (sample.name === `${name}_sum`) of(sample).sum = sample.value;
    else if (sample.name === `${name}_count`) of(sample).count = sample.value;
    else throw new Error(`${sample.name} is not a sample of histogram ${name}`);
  }
  for (const [id, { buckets, sum, count }] of series) {
    if (sum === undefined || count === undefined) throw new Error(`${id}: a histogram needs _sum and _count`);
    const last = buckets[buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${id}: the last bucket must be le="+Inf"`);
    if (last[1] !== count) throw new Error(`${id}: the +Inf bucket (${last[1]}) is not _count (${count})`);
    buckets.slice(1).forEach(([bound, value], index) => {
      const [previousBound, previousValue] = buckets[index]!;
      if (!(bound > previousBound)) throw new Error(`${id}: le ${bound} after ${previousBound}`);
      if (value < previousValue) throw new Error(`${id}: bucket le=${bound} is not cumulative`);
    });
  }
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const done = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, where: string) => {
    if (name === current) return;
    if (done.has(name)) throw new Error(`${where}: family ${name} is not contiguous`);
    if (current !== undefined) done.add(current);
    current = name;
  };
  text
    .split('\n')
    .slice(0, -1)
    .forEach((line, index) => {
      const where = `line ${index + 1}`;
      if (line.trim() === '') return;
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (meta) {
        const [, kind, name, rest = ''] = meta;
        if (!METRIC_NAME.test(name!)) throw new Error(`${where}: invalid metric name ${name}`);
        enter(name!, where);
        const family = families.get(name!) ?? { type: 'untyped' as const, samples: [] };
        families.set(name!, family);
        if (kind === 'HELP') {
          if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
          family.help = unescape(rest, { '\\': '\\', n: '\n' }, where);
        } else {
          if (family.samples.length > 0) throw new Error(`${where}: TYPE of ${name} after its samples`);
          if (!(TYPES as readonly string[]).includes(rest)) throw new Error(`${where}: unknown type ${rest}`);
          family.type = rest as MetricFamily['type'];
        }
        return;
      }
      if (line.startsWith('#')) return;
      const sample = parseSample(line, where);
      const name = familyOf(sample.name, families);
      enter(name, where);
      const family = families.get(name) ?? { type: 'untyped' as const, samples: [] };
      families.set(name, family);
      const id = seriesId(sample);
      if (seen.has(id)) throw new Error(`${where}: series ${id} given twice`);
      seen.add(id);
      family.samples.push(sample);
    });
  for (const [name, family] of families) if (family.type === 'histogram') checkHistogram(name, family);
  return families;
}
