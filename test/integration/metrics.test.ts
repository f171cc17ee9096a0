/** GET /metrics after real ingestions: the Prometheus figures agree with the files' summaries. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readTopic, type FileSummaryData } from './support/events.js';
import { driftedOrdersQuery, openTabular, writeParquet } from '../support/parquet-fixtures.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  VENDOR_KEY,
  expectError,
  call,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;
beforeEach(async () => {
  gateway = await startTestGateway();
});
afterEach(() => gateway.close());

async function scrape(): Promise<{ contentType: string | null; values: Map<string, number> }> {
  const response = await fetch(`${gateway.url}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { contentType: response.headers.get('content-type'), values };
}

describe('GET /metrics', () => {
  it('counts files, rows and published events as the summaries do', async () => {
    const files = [ordersFile(40, 7), ordersFile(25, 5)];
    for (const [index, file] of files.entries()) await upload(gateway, `m${index}.csv`, file.csv);
    await gateway.running.gateway.idle();
    const summaries = await readTopic<FileSummaryData>(gateway.dataDir, 'dropgate.files');
    expect(summaries).toHaveLength(2);
    const sum = (field: 'rowsRead' | 'rowsPublished' | 'rowsRejected') =>
      summaries.reduce((total, summary) => total + summary.data[field], 0);

    const { contentType, values } = await scrape();
    expect(contentType).toContain('text/plain');
    expect(values.get('dropgate_files_total{dataset="orders",state="ingested"}')).toBe(2);
    expect(values.get('dropgate_rows_total{dataset="orders",outcome="read"}')).toBe(sum('rowsRead'));
    expect(values.get('dropgate_rows_total{dataset="orders",outcome="published"}')).toBe(
      sum('rowsPublished'),
    );
    expect(values.get('dropgate_rows_total{dataset="orders",outcome="rejected"}')).toBe(sum('rowsRejected'));
    expect(sum('rowsRejected')).toBeGreaterThan(0);
    expect(values.get('dropgate_ingest_duration_seconds_count{dataset="orders",state="ingested"}')).toBe(2);
    // Every good row went out as one event, every bad one as one dead letter, and each file as a summary.
    expect(values.get('dropgate_published_events_total{topic="orders",result="accepted"}')).toBe(
      sum('rowsPublished'),
    );
    expect(values.get('dropgate_published_events_total{topic="orders.dead-letter",result="accepted"}')).toBe(
      sum('rowsRejected'),
    );
    expect(values.get('dropgate_published_events_total{topic="dropgate.files",result="accepted"}')).toBe(2);
    expect(values.get('dropgate_files_in_flight')).toBe(0);
    expect(values.get('dropgate_lease_losses_total')).toBe(0);
    expect(values.get('dropgate_process_resident_memory_bytes')).toBeGreaterThan(0);
    // Bytes of both files as stored, and each notified file's lag from written to claimed.
    expect(values.get('dropgate_bytes_read_total{dataset="orders"}')).toBe(
      files.reduce((total, file) => total + new TextEncoder().encode(file.csv).byteLength, 0),
    );
    expect(values.get('dropgate_ingest_lag_seconds_count{dataset="orders"}')).toBe(2);
    expect(values.get('dropgate_ingest_lag_seconds_sum{dataset="orders"}')).toBeGreaterThanOrEqual(0);
    expect(values.get('dropgate_ingest_lag_seconds_sum{dataset="orders"}')).toBeLessThan(60);

    // A replay is another attempt, its rows counted again.
    const replayed = await call(gateway, 'POST', '/admin/replay', {
      token: ADMIN_TOKEN,
      json: { objectKey: summaries[0]!.data.objectKey },
    });
    expect(replayed.status).toBe(202);
    await gateway.running.gateway.idle();
    const after = (await scrape()).values;
    expect(after.get('dropgate_files_total{dataset="orders",state="ingested"}')).toBe(3);
    expect(after.get('dropgate_rows_total{dataset="orders",outcome="read"}')).toBe(
      sum('rowsRead') + summaries[0]!.data.rowsRead,
    );
  });

  it.each(['rescue', 'ignore'] as const)(
    'counts rows rescued and values ignored under drift rule %s as the summaries do, CSV and Parquet',
    async (drift) => {
      await gateway.close();
      gateway = await startTestGateway({
        configFile: {
          datasets: [
            {
              name: 'orders',
              match: 'vendors/*/orders/**',
              schema: join(process.cwd(), 'schemas/orders/v2.json'),
              eventType: 'OrderReceived',
              topic: 'orders',
              deadLetterTopic: 'orders.dead-letter',
              drift,
              headers: 'insensitive',
              aliases: { order_id: ['Order ID'], unit_price: ['unit price'] },
            },
          ],
        },
      });
      const { connection, close } = await openTabular();
      try {
        const path = await writeParquet(connection, gateway.directory, 'drifted', driftedOrdersQuery(30));
        await upload(gateway, 'drifted.parquet', new Uint8Array(await readFile(path)));
      } finally {
        close();
      }
      const csv = [
        'Order ID,customer_id,SKU,quantity,unit price,currency,ordered_at,promo,region',
        'ORD-1,CUST-1,SKU-1,2,9.5,EUR,2024-05-01T10:00:00Z,P1,EU',
        'ORD-2,CUST-2,SKU-2,2,9.5,EUR,2024-05-01T10:00:00Z,,EU',
      ].join('\n');
      await upload(gateway, 'drifted.csv', csv);
      await gateway.running.gateway.idle();
      const summaries = await readTopic<FileSummaryData & { drift?: Record<string, number> }>(
        gateway.dataDir,
        'dropgate.files',
      );
      expect(summaries.map((summary) => summary.type)).toEqual(['FileIngested', 'FileIngested']);
      const sum = (field: 'rowsRescued' | 'valuesIgnored') =>
        summaries.reduce((total, summary) => total + summary.data.drift![field]!, 0);
      const { values } = await scrape();
      if (drift === 'rescue') {
        // Every Parquet row has unknown values, and both CSV rows.
        expect(sum('rowsRescued')).toBe(32);
        expect(values.get('dropgate_rows_rescued_total{dataset="orders"}')).toBe(32);
        expect(values.has('dropgate_values_ignored_total{dataset="orders"}')).toBe(false);
      } else {
        // Parquet: 7 unknown columns, promo null in 10 of the 30 rows; CSV: 3 non-empty cells.
        expect(sum('valuesIgnored')).toBe(30 * 7 - 10 + 3);
        expect(values.get('dropgate_values_ignored_total{dataset="orders"}')).toBe(30 * 7 - 10 + 3);
        expect(values.has('dropgate_rows_rescued_total{dataset="orders"}')).toBe(false);
      }
    },
  );

  it('is refused without the admin token', async () => {
    expectError(await call(gateway, 'GET', '/metrics'), 401, 'UNAUTHORIZED');
    expectError(await call(gateway, 'GET', '/metrics', { token: VENDOR_KEY }), 401, 'UNAUTHORIZED');
  });
});
