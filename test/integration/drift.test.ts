/**
 * A drifted vendor file (headers in other case and spacing, a renamed column, columns nobody announced,
 * optional ones left out) under each drift rule: rejected with the columns named, rescued into
 * `_rescued`, or ignored; the summary reports the drift; nothing is lost silently. Large files take the
 * threaded path, which must agree.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/node/load-config.js';
import { readTopic, type FileSummaryData } from './support/events.js';
import { startTestGateway, upload, type TestGateway } from './support/test-gateway.js';
import { makeTemporaryDirectory } from './support/test-gateway.js';
import { writeFile } from 'node:fs/promises';

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const DRIFTED_HEADER = 'Order ID,customer_id,SKU,quantity,unit price,currency,ordered_at,note,promo,region';

function driftedFile(rows: number): string {
  const lines = [DRIFTED_HEADER];
  for (let n = 1; n <= rows; n++) {
    // Every third row leaves `promo` empty: an empty unknown cell carries nothing to rescue.
    lines.push(
      `ORD-${n},CUST-${n % 7},SKU-${n},2,9.5,EUR,2024-05-01T10:00:00Z,n${n},${n % 3 === 0 ? '' : `P${n}`},EU`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const dataset = (overrides: Record<string, unknown>) => ({
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: join(process.cwd(), 'schemas/orders/v2.json'),
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
  headers: 'insensitive',
  aliases: { order_id: ['OrderID'], unit_price: ['unit price'] },
  ...overrides,
});

async function ingest(overrides: Record<string, unknown>, csv: string) {
  gateway = await startTestGateway({ configFile: { datasets: [dataset(overrides)] } });
  await upload(gateway, 'drifted.csv', csv);
  await gateway.running.gateway.idle();
  const [summary] = await readTopic<FileSummaryData & { drift?: unknown }>(gateway.dataDir, 'dropgate.files');
  return {
    summary: summary!,
    events: await readTopic<Record<string, unknown>>(gateway.dataDir, 'orders'),
    deadLetters: await readTopic(gateway.dataDir, 'orders.dead-letter'),
  };
}

const EXPECTED_DRIFT = {
  added: ['promo', 'region'],
  missing: ['ship_by', 'gift', 'channel'],
  renamed: { 'Order ID': 'order_id', SKU: 'sku', 'unit price': 'unit_price' },
};

describe('drift rules', () => {
  it('reject: the file is rejected, naming the columns the schema does not declare', async () => {
    const { summary, events } = await ingest({ drift: 'reject' }, driftedFile(5));
    expect(summary.type).toBe('FileRejected');
    expect(summary.data.error?.message).toBe(
      "header: column(s) promo, region are not in the schema, and the dataset's drift rule is reject",
    );
    expect(events).toEqual([]);
  });

  it('without a rule, a schema that allows no other columns rejects the file as before', async () => {
    const { summary } = await ingest({ headers: 'exact', aliases: {} }, driftedFile(5));
    expect(summary.type).toBe('FileRejected');
    expect(summary.data.error?.message).toContain('missing required column(s) order_id, sku, unit_price');
  });

  it('rescue: unknown columns ride along as text in _rescued, renamed columns land on their property', async () => {
    const { summary, events, deadLetters } = await ingest({ drift: 'rescue' }, driftedFile(6));
    expect(summary.type).toBe('FileIngested');
    expect(summary.data).toMatchObject({ rowsPublished: 6, rowsRejected: 0 });
    expect(summary.data.drift).toEqual({
      ...EXPECTED_DRIFT,
      unknown: 'rescue',
      rowsRescued: 6,
      valuesIgnored: 0,
    });
    expect(deadLetters).toEqual([]);
    expect(events.map((event) => event.data)).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => ({
        order_id: `ORD-${n}`,
        customer_id: `CUST-${n % 7}`,
        sku: `SKU-${n}`,
        quantity: 2,
        unit_price: 9.5,
        currency: 'EUR',
        ordered_at: '2024-05-01T10:00:00Z',
        note: `n${n}`,
        _rescued: n % 3 === 0 ? { region: 'EU' } : { promo: `P${n}`, region: 'EU' },
      })),
    );
  });

  it('ignore: unknown columns are dropped from the events, named and their values counted in the summary', async () => {
    const { summary, events } = await ingest({ drift: 'ignore' }, driftedFile(4));
    expect(summary.type).toBe('FileIngested');
    // region in each of the 4 rows, promo in all but row 3 (empty there).
    expect(summary.data.drift).toEqual({
      ...EXPECTED_DRIFT,
      unknown: 'ignore',
      rowsRescued: 0,
      valuesIgnored: 7,
    });
    expect(events).toHaveLength(4);
    for (const event of events) {
      expect(Object.keys(event.data as object).sort()).toEqual(
        ['currency', 'customer_id', 'note', 'order_id', 'ordered_at', 'quantity', 'sku', 'unit_price'].sort(),
      );
    }
  });

  it('rescue on a file large enough for the threaded path gives the same events as the sequential path', async () => {
    const csv = driftedFile(40_000);
    expect(csv.length).toBeGreaterThan(2 << 20);
    const { summary, events } = await ingest({ drift: 'rescue' }, csv);
    expect(summary.data).toMatchObject({
      rowsPublished: 40_000,
      drift: { ...EXPECTED_DRIFT, unknown: 'rescue', rowsRescued: 40_000, valuesIgnored: 0 },
    });
    const rescued = events.map((event) => (event.data as { _rescued?: object })._rescued);
    expect(rescued.filter((value) => value === undefined)).toEqual([]);
    expect(rescued[39_999]).toEqual({ promo: 'P40000', region: 'EU' });
    expect(rescued[2]).toEqual({ region: 'EU' });
  });

  it('rejects a file where two columns stand for one property', async () => {
    const csv = `${DRIFTED_HEADER.replace('Order ID', 'OrderID')},order id\n`;
    const { summary } = await ingest(
      { drift: 'ignore', aliases: { order_id: ['OrderID', 'order id'] } },
      csv,
    );
    expect(summary.data.error?.message).toBe(
      'header: columns "OrderID" and "order id" both stand for property order_id',
    );
  });
});

describe('drift config', () => {
  it('refuses an alias for a property no version of the schema declares', async () => {
    const directory = await makeTemporaryDirectory('dropgate-drift-');
    await writeFile(
      join(directory, 'dropgate.config.json'),
      JSON.stringify({ datasets: [dataset({ aliases: { order_number: ['OrderNo'] } })] }),
    );
    await expect(loadConfig({ cwd: directory, env: {} })).rejects.toThrow(
      "datasets.0.aliases.order_number: no version of the dataset's schema declares property order_number",
    );
  });

  it('refuses an unknown drift rule, naming the choices', async () => {
    const directory = await makeTemporaryDirectory('dropgate-drift-');
    await writeFile(
      join(directory, 'dropgate.config.json'),
      JSON.stringify({ datasets: [dataset({ drift: 'keep' })] }),
    );
    await expect(loadConfig({ cwd: directory, env: {} })).rejects.toThrow('datasets.0.drift');
  });
});
