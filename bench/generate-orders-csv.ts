/** Writes a deterministic orders CSV of about `bytes` bytes, matching schemas/orders/v1.json (1% bad rows). */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export async function generateOrdersCsv(
  path: string,
  bytes: number,
): Promise<{ rows: number; bytes: number }> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let rows = 0;
  let chunk = 'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note\n';
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  while (written < bytes) {
    rows++;
    const r = random();
    const bad = r % 100 === 0;
    const quantity = bad ? 0 : (r % 20) + 1;
    const note = r % 7 === 0 ? '"gift wrap, please; ""fragile"""' : r % 3 === 0 ? '' : 'leave at door';
    const day = String((r % 28) + 1).padStart(2, '0');
    chunk +=
      `ORD-${rows},CUST-${r % 100000},SKU-${r % 5000},${quantity},${(r % 10000) / 100},EUR,` +
      `2026-11-${day}T${String(r % 24).padStart(2, '0')}:15:00Z,${r % 5 === 0 ? '' : `2026-12-${day}`},` +
      `${r % 2 === 0 ? 'true' : 'false'},${note}\n`;
    if (chunk.length > 1 << 20) {
      written += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  written += Buffer.byteLength(chunk);
  out.end(chunk);
  await once(out, 'finish');
  return { rows, bytes: written };
}
