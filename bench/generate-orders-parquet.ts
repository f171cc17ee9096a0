/**
 * Writes a deterministic Parquet file with DuckDB (an independent writer): `rows` order lines in row
 * groups of `rowGroupSize`, zstd, with DECIMAL, TIMESTAMP, dictionary-encoded strings, a list and a struct.
 */
export async function generateOrdersParquet(path: string, rows: number, rowGroupSize: number): Promise<void> {
  // Loaded here, not at the top: measure.js imports the schema below, and DuckDB's native library would
  // add ~30 MB to the RSS it measures.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`
      COPY (
        SELECT
          'ORD-' || i AS order_id,
          'CUST-' || (i * 7919 % 100000) AS customer_id,
          'SKU-' || (i % 5000) AS sku,
          (i % 20 + 1)::INTEGER AS quantity,
          ((i % 100000) / 100)::DECIMAL(12, 2) AS unit_price,
          CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'EUR' END AS currency,
          TIMESTAMP '2026-11-01 00:00:00' + INTERVAL (i) SECOND + INTERVAL (i % 1000) MICROSECOND AS ordered_at,
          CASE WHEN i % 5 = 0 THEN NULL ELSE DATE '2026-12-01' + (i % 28)::INTEGER END AS ship_by,
          i % 2 = 0 AS gift,
          CASE WHEN i % 3 = 0 THEN NULL ELSE 'leave at door' END AS note,
          [i % 7, i % 11] AS tags,
          {'street': 'Main St ' || (i % 100), 'zip': lpad((i % 99999)::VARCHAR, 5, '0')} AS address
        FROM range(${rows}) AS t(i)
      ) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rowGroupSize})`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A dataset schema (JSON Schema 2020-12) every row of the generated file meets. */
export const ordersParquetSchema = {
  type: 'object',
  required: ['order_id', 'customer_id', 'sku', 'quantity', 'unit_price', 'currency', 'ordered_at'],
  properties: {
    order_id: { type: 'string' },
    customer_id: { type: 'string' },
    sku: { type: 'string' },
    quantity: { type: 'integer', minimum: 1 },
    unit_price: { type: 'string', pattern: '^-?[0-9]+\\.[0-9]{2}$' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    ordered_at: { type: 'string', format: 'date-time' },
    ship_by: { type: ['string', 'null'], format: 'date' },
    gift: { type: 'boolean' },
    note: { type: ['string', 'null'] },
    tags: { type: 'array', items: { type: 'integer' } },
    address: { type: 'object', properties: { street: { type: 'string' }, zip: { type: 'string' } } },
  },
  additionalProperties: false,
};
