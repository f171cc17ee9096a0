/** Vendor order files as Parquet, the columns of orders-csv.ts's rows, written by DuckDB. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { orderData } from './orders-csv.js';

/**
 * `rows` order rows as Parquet in row groups of `rowGroupRows`, written to `directory/<tag>.parquet`:
 * row n is order `ORD-<n + orderOffset>` with the note `<tag> note <n>`, so each event names its file.
 * Returns the bytes, the data each row is published with, and which rows are good (all of them).
 */
export async function ordersParquet(
  directory: string,
  rows: number,
  rowGroupRows: number,
  tag: string,
  orderOffset = 0,
) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const path = join(directory, `${tag}.parquet`);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`
      COPY (
        SELECT 'ORD-' || (i + ${orderOffset}) AS order_id, 'CUST-' || (i % 7) AS customer_id,
          'SKU-' || (i % 13) AS sku, (i % 5 + 1)::INTEGER AS quantity, ((i % 40) + 0.25)::DOUBLE AS unit_price,
          'EUR' AS currency, '2024-05-01T10:00:00Z' AS ordered_at, '2024-05-10' AS ship_by, i % 2 = 0 AS gift,
          '${tag} note ' || i AS note
        FROM range(1, ${rows + 1}) AS t(i)
      ) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE ${rowGroupRows})`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return {
    bytes: new Uint8Array(await readFile(path)),
    dataOf: (row: number) => ({
      ...orderData(row),
      order_id: `ORD-${row + orderOffset}`,
      note: `${tag} note ${row}`,
    }),
    goodRows: Array.from({ length: rows }, (_, index) => index + 1),
    badRows: [] as number[],
  };
}
