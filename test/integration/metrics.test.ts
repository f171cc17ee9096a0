/** GET /metrics after real ingestions: the Prometheus figures agree with the files' summaries. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTopic, type FileSummaryData } from './support/events.js';
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

  it('is refused without the admin token', async () => {
    expectError(await call(gateway, 'GET', '/metrics'), 401, 'UNAUTHORIZED');
    expectError(await call(gateway, 'GET', '/metrics', { token: VENDOR_KEY }), 401, 'UNAUTHORIZED');
  });
});
