/** Vendor order files for the embedded `orders` dataset (the columns of schemas/orders/v1.json, which v2 reads too), and the rows they hold. */

export const ORDERS_HEADER =
  'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note';

/** A valid order line, numbered so its event can be recognised. */
export function orderLine(n: number): string {
  return orderLineWithNote(n, `note ${n}`);
}

function orderLineWithNote(n: number, note: string): string {
  return `ORD-${n},CUST-${n % 7},SKU-${n % 13},${(n % 5) + 1},${(n % 40) + 0.25},EUR,2024-05-01T10:00:00Z,2024-05-10,${n % 2 === 0},${note}`;
}

/**
 * A note of exactly `length` characters for row `n` (at least `note <n>`): `note <n>` and filler words,
 * the same on every run. Wide rows put fewer rows in a block of events.
 */
export function longNote(n: number, length: number): string {
  let note = `note ${n}`;
  for (let word = n; note.length < length; word = (word * 7 + 3) % 1009) note += ` w${word}`;
  return note.slice(0, Math.max(length, `note ${n}`.length));
}

/** The event data `orderLine(n)` becomes. */
export function orderData(n: number): Record<string, unknown> {
  return {
    order_id: `ORD-${n}`,
    customer_id: `CUST-${n % 7}`,
    sku: `SKU-${n % 13}`,
    quantity: (n % 5) + 1,
    unit_price: (n % 40) + 0.25,
    currency: 'EUR',
    ordered_at: '2024-05-01T10:00:00Z',
    ship_by: '2024-05-10',
    gift: n % 2 === 0,
    note: `note ${n}`,
  };
}

/** An order line that fails validation: quantity 0 is below the schema's minimum of 1. */
export function badOrderLine(n: number): string {
  return `ORD-${n},CUST-1,SKU-1,0,1.5,EUR,2024-05-01T10:00:00Z,,,`;
}

/**
 * `count` rows where every `badEvery`-th row (1-based) is invalid; returns the file and which rows are good.
 * With `noteLength`, each valid row's note is `longNote(row, noteLength)`.
 */
export function ordersFile(
  count: number,
  badEvery = 0,
  options: { noteLength?: number } = {},
): { csv: string; goodRows: number[]; badRows: number[] } {
  const { noteLength } = options;
  const lines = [ORDERS_HEADER];
  const goodRows: number[] = [];
  const badRows: number[] = [];
  for (let row = 1; row <= count; row++) {
    if (badEvery > 0 && row % badEvery === 0) {
      badRows.push(row);
      lines.push(badOrderLine(row));
    } else {
      goodRows.push(row);
      lines.push(noteLength ? orderLineWithNote(row, longNote(row, noteLength)) : orderLine(row));
    }
  }
  return { csv: `${lines.join('\n')}\n`, goodRows, badRows };
}
