/**
 * The admin page in a real browser: Debian's Chromium (`apt-get install chromium`) driven by
 * playwright-core against a gateway on 127.0.0.1. An operator signs in with the token, finds a file with
 * bad rows and their line numbers, filters, opens the file and replays it. Vendor text (a key, a cell
 * quoted in a reason) renders as text. With DROPGATE_SCREENSHOTS=<directory> it also saves the
 * screenshots the README shows (`DROPGATE_SCREENSHOTS=docs/images npx vitest run <this file>`).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDERS_HEADER, badOrderLine, orderLine } from './support/orders-csv.js';
import { ADMIN_TOKEN, call, startTestGateway, upload, type TestGateway } from './support/test-gateway.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.DROPGATE_SCREENSHOTS;

/** Cells that would run script if the page ever turned vendor text into markup (reasons quote 40 characters). */
const HOSTILE_CELLS = ['<img src=x onerror=__injected=1>', '<script>__injected=2</script>'];
/** A key that would become an element the same way; backfill finds it in the bucket. */
const HOSTILE_KEY = 'vendors/acme/orders/<img src=x onerror="window.__injected=3">.csv';

let gateway: TestGateway;
let browser: Browser;
let page: Page;
let withErrors: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: the admin page test needs a browser. Install Debian's with ` +
        '`apt-get install chromium` (.ci/run does), or set CHROMIUM_PATH to another Chromium.',
    );
  }
  gateway = await startTestGateway();
  const rows = [ORDERS_HEADER];
  for (let row = 1; row <= 30; row++) rows.push(row % 7 === 0 ? badOrderLine(row) : orderLine(row));
  // Rows 31 and 32, lines 32 and 33: quantities that are markup.
  for (const [index, cell] of HOSTILE_CELLS.entries()) {
    rows.push(`ORD-${31 + index},CUST-1,SKU-1,${cell},1.5,EUR,2024-05-01T10:00:00Z,,,`);
  }
  withErrors = (await upload(gateway, 'with-errors.csv', `${rows.join('\n')}\n`)).objectKey;
  await upload(gateway, 'no-sku.csv', 'order_id,customer_id\nORD-1,CUST-1\n');
  const hostilePath = join(gateway.dataDir, 'bucket', ...HOSTILE_KEY.split('/'));
  await mkdir(join(hostilePath, '..'), { recursive: true });
  await writeFile(hostilePath, `${ORDERS_HEADER}\n${orderLine(1)}\n`);
  const backfill = await call(gateway, 'POST', '/admin/backfill', {
    token: ADMIN_TOKEN,
    json: { prefix: 'vendors/acme/orders/<' },
  });
  expect(backfill.body).toMatchObject({ recorded: 1 });
  await gateway.running.gateway.idle();
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
});

async function screenshot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await mkdir(resolve(SCREENSHOTS), { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, name), fullPage: true });
}

// JSON's string escapes are CSS's too.
const row = (key: string) => page.locator(`#files tbody tr[data-key=${JSON.stringify(key)}]`);
/** Waits for the page to catch up: a loaded machine may take seconds to render. */
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000 });

describe('the admin page', () => {
  it('asks for the token, and says so when the gateway refuses it', async () => {
    await page.goto(`${gateway.url}/admin/`);
    await poll(() => page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#history').isVisible()).toBe(false);
    await page.fill('#token', 'not-the-admin-token');
    await page.click('#sign-in button[type=submit]');
    await poll(() => page.locator('#sign-in-problem').textContent()).toContain('refused the token');
  });

  it('lists the files with their states, counts and first errors by line', async () => {
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await poll(() => page.locator('#files tbody tr').count()).toBe(3);
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
    const cells = await row(withErrors).locator('td').allTextContents();
    expect(cells.slice(1, 6)).toEqual(['orders', 'ingested', '32', '26', '6']);
    const errors = await row(withErrors).locator('.errors li').allTextContents();
    expect(errors.slice(0, 4)).toEqual([
      expect.stringMatching(/^line 8 \(row 7\), quantity: /),
      expect.stringMatching(/^line 15 \(row 14\), quantity: /),
      expect.stringMatching(/^line 22 \(row 21\), quantity: /),
      expect.stringMatching(/^line 29 \(row 28\), quantity: /),
    ]);
    expect(errors.slice(4)).toEqual([
      `line 32 (row 31), quantity: expected an integer, got "${HOSTILE_CELLS[0]}"`,
      `line 33 (row 32), quantity: expected an integer, got "${HOSTILE_CELLS[1]}"`,
    ]);
    const rejected = page.locator('#files tbody tr[data-state=rejected]');
    expect(await rejected.textContent()).toContain('FILE_UNREADABLE');
    expect(await page.locator('#counts').textContent()).toContain('3 file version(s) listed');
    await screenshot('admin-page-list.png');
  });

  it('shows keys and reasons that hold markup as text, never as elements', async () => {
    expect(await row(HOSTILE_KEY).locator('button.key').textContent()).toBe(HOSTILE_KEY);
    expect(await page.locator('#files img, #files script').count()).toBe(0);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
  });

  it('filters by state and by key prefix', async () => {
    await page.selectOption('#filter-state', 'rejected');
    await page.click('#filters button[type=submit]');
    await poll(() => page.locator('#files tbody tr').count()).toBe(1);
    expect(await page.locator('#files tbody tr').getAttribute('data-key')).toMatch(/no-sku\.csv$/);

    await page.selectOption('#filter-state', '');
    await page.fill('#filter-prefix', withErrors.slice(0, withErrors.lastIndexOf('/') + 1));
    await page.click('#filters button[type=submit]');
    await poll(() => page.locator('#files tbody tr').count()).toBe(2);
    expect(await row(HOSTILE_KEY).count()).toBe(0);
  });

  it("opens a file's detail, replays it and shows the replay counted", async () => {
    await row(withErrors).locator('button.key').click();
    await poll(() => page.locator('#detail-key').textContent()).toBe(withErrors);
    await poll(() => page.locator('#versions .version').count()).toBe(1);
    expect(await page.locator('#history').isVisible()).toBe(false);
    const fact = (name: string) =>
      page.locator(`#versions .version [data-fact="${name}"]`).first().textContent();
    expect(await fact('Replays')).toBe('0');
    const lines = await page.locator('#versions .first-errors tbody tr td:first-child').allTextContents();
    expect(lines).toEqual(['8', '15', '22', '29', '32', '33']);
    expect(await page.locator('#versions .first-errors tbody').textContent()).toContain(HOSTILE_CELLS[1]);
    expect(await page.locator('#versions img, #versions script').count()).toBe(0);
    await screenshot('admin-page-detail.png');

    await page.click('#replay');
    await poll(() => page.locator('#replay-status').textContent()).toContain('Replay scheduled');
    await gateway.running.gateway.idle();
    // The detail refreshes itself while the replay is pending or running.
    const facts = async () => ({
      state: await fact('State'),
      replays: await fact('Replays'),
      attempts: await fact('Attempts'),
    });
    await poll(facts).toEqual({ state: 'ingested', replays: '1', attempts: '2' });
  });
});
