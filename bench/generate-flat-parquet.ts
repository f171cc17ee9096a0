/**
 * Writes a deterministic flat Parquet file with DuckDB, as a warehouse unloads a table: `rows` rows of
 * six scalar columns (BIGINT, VARCHAR, DECIMAL, DOUBLE, TIMESTAMP, BOOLEAN), zstd, in DuckDB's default
 * row groups (122,880 rows).
 */
export async function generateFlatParquet(path: string, rows: number): Promise<void> {
  // Loaded here, not at the top: measure.js imports the schema below, and DuckDB's native library would
  // add ~30 MB to the RSS it measures.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`
      COPY (
        SELECT
          i + 1 AS id,
          'CUST-' || (i * 7919 % 100000) AS customer_id,
          ((i * 31 % 100000) / 100)::DECIMAL(12, 2) AS amount,
          (i % 10007) / 10007.0 AS score,
          TIMESTAMP '2026-11-01 00:00:00' + INTERVAL (i) SECOND AS created_at,
          i % 3 <> 0 AS active
        FROM range(${rows}) AS t(i)
      ) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A dataset schema (JSON Schema 2020-12) every row of the generated file meets. */
export const flatParquetSchema = {
  type: 'object',
  required: ['id', 'customer_id', 'amount', 'score', 'created_at', 'active'],
  properties: {
    id: { type: 'integer', minimum: 1 },
    customer_id: { type: 'string' },
    amount: { type: 'string', pattern: '^-?[0-9]+\\.[0-9]{2}$' },
    score: { type: 'number', minimum: 0, maximum: 1 },
    created_at: { type: 'string', format: 'date-time' },
    active: { type: 'boolean' },
  },
  additionalProperties: false,
};
