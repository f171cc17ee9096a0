/**
 * Operating the product Worker under workerd (Miniflare): GET /metrics in the Prometheus text format
 * after an ingestion, the cron trigger's backfill of objects no notification announced (one bounded step
 * per tick, the cursor kept in the ledger between ticks), and LOG_LEVEL with redaction on its log lines.
 */
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parsePrometheusText } from '../support/prometheus-text.js';
import {
  QUEUES,
  SECRETS,
  bundleEdgeWorker,
  csv,
  edgeConfig,
  eventually,
  fileStatus,
  notification,
  notify,
  putObject,
  received,
  row,
  startEdgeMiniflare,
} from './support/edge-worker.js';

const LATE = 'vendors/late/';

let bundle: Awaited<ReturnType<typeof bundleEdgeWorker>>;
beforeAll(async () => {
  bundle = await bundleEdgeWorker({ ...edgeConfig(), scheduledBackfill: { prefix: LATE, limit: 2 } });
}, 60_000);
afterAll(() => bundle?.remove());

/** Starts the Worker at `level`, keeping every line it logs. */
async function startAt(level: string) {
  const lines: string[] = [];
  const miniflare = startEdgeMiniflare(
    bundle.script,
    { ...SECRETS, LOG_LEVEL: level },
    { onLine: (line) => lines.push(line) },
  );
  await miniflare.ready;
  return { miniflare, lines };
}

/** Fires the Worker's cron trigger (Miniflare's Fetcher type omits `scheduled`, which it serves). */
const tick = async (miniflare: Miniflare) =>
  (
    (await miniflare.getWorker('dropgate')) as unknown as {
      scheduled(event: { cron: string; scheduledTime: Date }): Promise<unknown>;
    }
  ).scheduled({ cron: '17 * * * *', scheduledTime: new Date() });

const logged = (lines: string[]) =>
  lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the Worker at LOG_LEVEL=debug', () => {
  let miniflare: Miniflare;
  let lines: string[];
  beforeAll(async () => {
    ({ miniflare, lines } = await startAt('debug'));
  }, 60_000);
  afterAll(() => miniflare?.dispose());

  test('GET /metrics: the admin token required, then the text format with the ingested file counted', async () => {
    const refused = await miniflare.dispatchFetch('http://localhost/metrics');
    expect(refused.status).toBe(401);

    const key = 'vendors/acme/orders/2026-11-24/metered.csv';
    const object = await putObject(miniflare, key, csv(row('M-1'), row('M-2', 0), row('M-3')));
    await notify(miniflare, notification('PutObject', key, object));
    await eventually(
      () => fileStatus(miniflare, key),
      (status) => status?.state === 'ingested',
    );

    const response = await miniflare.dispatchFetch('http://localhost/metrics', {
      headers: { authorization: `Bearer ${SECRETS.DROPGATE_ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusText(await response.text());
    const value = (family: string, name: string, labels: Record<string, string>) =>
      families
        .get(family)
        ?.samples.find(
          (sample) =>
            sample.name === name && Object.entries(labels).every(([label, v]) => sample.labels[label] === v),
        )?.value;
    expect(
      value('dropgate_files_total', 'dropgate_files_total', { dataset: 'orders', state: 'ingested' }),
    ).toBe(1);
    expect(
      value('dropgate_rows_total', 'dropgate_rows_total', { dataset: 'orders', outcome: 'published' }),
    ).toBe(2);
    expect(
      value('dropgate_rows_total', 'dropgate_rows_total', { dataset: 'orders', outcome: 'rejected' }),
    ).toBe(1);
    expect(
      value('dropgate_ingest_duration_seconds', 'dropgate_ingest_duration_seconds_bucket', {
        dataset: 'orders',
        le: '+Inf',
      }),
    ).toBe(1);
    expect(
      value('dropgate_published_events_total', 'dropgate_published_events_total', {
        topic: 'orders',
        result: 'accepted',
      }),
    ).toBe(2);
    expect(
      value('dropgate_notification_lag_seconds', 'dropgate_notification_lag_seconds_count', {
        via: 'r2-queue',
      }),
    ).toBe(1);
    expect(value('dropgate_files_in_flight', 'dropgate_files_in_flight', {})).toBe(0);
  });

  test('cron ticks ingest objects no notification announced, a bounded step each, going on where the last stopped', async () => {
    const keys = ['a', 'b', 'c'].map((name) => `${LATE}orders/2026-11-20/${name}.csv`);
    for (const [index, key] of keys.entries()) await putObject(miniflare, key, csv(row(`B-${index}`)));
    const steps = () =>
      logged(lines)
        .filter((line) => line.message === 'scheduled backfill')
        .map(({ scanned, recorded, next }) => ({ scanned, recorded, more: next === 'goes on' }));

    await tick(miniflare);
    for (const key of keys.slice(0, 2))
      await eventually(
        () => fileStatus(miniflare, key),
        (status) => status?.state === 'ingested',
      );
    expect(await fileStatus(miniflare, keys[2]!)).toBeUndefined();

    // The next tick goes on from the cursor the ledger kept: the third object, and the listing's end.
    await tick(miniflare);
    await eventually(
      () => fileStatus(miniflare, keys[2]!),
      (status) => status?.state === 'ingested',
    );
    // A finished listing starts over: nothing new, nothing ingested twice.
    await tick(miniflare);
    await eventually(
      async () => steps(),
      (list) => list.length === 3,
    );
    expect(steps()).toEqual([
      { scanned: 2, recorded: 2, more: true },
      { scanned: 1, recorded: 1, more: false },
      { scanned: 2, recorded: 0, more: true },
    ]);
    for (const key of keys) expect((await fileStatus(miniflare, key))?.attempts).toBe(1);
    const ids = (await received(miniflare, QUEUES.orders))
      .map((body) => JSON.parse(body) as { data: { order_id: string } })
      .map((event) => event.data.order_id)
      .filter((id) => id.startsWith('B-'));
    expect(ids.sort()).toEqual(['B-0', 'B-1', 'B-2']);
  });

  test('logs JSON lines, debug ones included, with no secret in any of them', async () => {
    const all = logged(lines);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((line) => line.severity === 'DEBUG').map((line) => line.message)).toEqual(
      expect.arrayContaining(['scheduled backfill step', 'notification batch']),
    );
    const text = lines.join('\n');
    for (const secret of Object.values(SECRETS).filter((value) => !value.startsWith('acme=')))
      expect(text).not.toContain(secret);
    expect(text).not.toContain('acme-key-for-the-edge-tests');
  });
});

describe('the Worker at other levels', () => {
  test('drops its debug lines and keeps the rest', async () => {
    const { miniflare, lines } = await startAt('info');
    try {
      await tick(miniflare);
      await eventually(
        async () => logged(lines),
        (all) => all.some((line) => line.message === 'scheduled backfill'),
      );
      expect(logged(lines).filter((line) => line.severity === 'DEBUG')).toEqual([]);
    } finally {
      await miniflare.dispose();
    }
  });

  test('an unknown LOG_LEVEL stops the start: 503 naming the variable', async () => {
    const { miniflare } = await startAt('verbose');
    try {
      const response = await miniflare.dispatchFetch('http://localhost/healthz');
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        error: {
          code: 'CONFIG_INVALID',
          message: 'LOG_LEVEL is "verbose"; it must be one of debug, info, warn, error, silent',
        },
      });
    } finally {
      await miniflare.dispose();
    }
  });
});
