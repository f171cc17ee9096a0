/**
 * The shortcuts row-group-slices.ts takes for flat columns give what its general path gives, on
 * DuckDB-written files: top-level columns that are not repeated taken without levels and assembly, UTF-8
 * strings decoded straight from PLAIN pages, and (when asked) INT64 values as exact numbers on pages
 * whose every value fits. Files: every variant of the fixture table, and a larger flat table with nulls,
 * long and non-ASCII strings and the edges of the exact integer range, in V1 and V2 pages, dictionary
 * and plain, in several row groups.
 */
import { asyncBufferFromFile, parquetMetadataAsync, type FileMetaData } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRowGroupSlices, type SliceOptions } from '../../workers/parquet/row-group-slices.js';
import { isDecimal, parsers, temporalFormat } from '../../workers/parquet/parquet-values.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';
import {
  PARQUET_VARIANTS,
  openTabular,
  writeParquet,
  writeParquetVariants,
} from '../support/parquet-fixtures.js';

let directory: TemporaryDirectory;
const files = new Map<string, string>();

/** 5,000 rows of scalar columns; `big` reaches 2^53 in the second row group only. */
const FLAT_SQL = String.raw`
  SELECT
    i AS id,
    CASE WHEN i = 2500 THEN 9007199254740992 WHEN i = 10 THEN 9007199254740991
         WHEN i = 11 THEN -9007199254740991 WHEN i % 7 = 0 THEN NULL ELSE i * 1000003 END AS big,
    CASE WHEN i % 5 = 0 THEN NULL WHEN i % 11 = 0 THEN 'Zoë ' || i WHEN i % 13 = 0 THEN repeat('long-', 10) || i
         ELSE 'CUST-' || (i % 300) END AS name,
    (i * 31 % 100000 / 100)::DECIMAL(18, 3) AS amount,
    CASE WHEN i % 3 = 0 THEN NULL ELSE i / 7.0 END AS ratio,
    CASE WHEN i % 17 = 0 THEN NULL ELSE TIMESTAMP '2026-11-01 00:00:00' + INTERVAL (i * 37) SECOND END AS at,
    CASE WHEN i % 4 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
    (i % 1000)::INTEGER AS small
  FROM range(5000) AS t(i)`;

const FLAT_VARIANTS = [
  ['v1-snappy', 'COMPRESSION snappy, ROW_GROUP_SIZE 2048'],
  ['v1-plain', 'COMPRESSION snappy, ROW_GROUP_SIZE 2048, DICTIONARY_SIZE_LIMIT 1'],
  ['v2-zstd', 'COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 2048'],
  ['v2-plain', 'COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 2048, DICTIONARY_SIZE_LIMIT 1'],
] as const;

beforeAll(async () => {
  directory = await createTemporaryDirectory('parquet-flat-columns');
  for (const { variant } of await writeParquetVariants(directory.path)) {
    files.set(variant.name, `${directory.path}/${variant.name}.parquet`);
  }
  const { connection, close } = await openTabular();
  try {
    for (const [name, options] of FLAT_VARIANTS) {
      files.set(name, await writeParquet(connection, directory.path, name, FLAT_SQL, options));
    }
  } finally {
    close();
  }
}, 60_000);
afterAll(() => directory.remove());

/**
 * Every row of every row group of `path`, `count` rows at a time, as row objects; `raw` reads DECIMAL,
 * DATE and TIMESTAMP columns as their integers, as the row source does.
 */
async function rowsOf(
  path: string,
  count: number,
  options: SliceOptions & { raw?: boolean },
): Promise<Array<Record<string, unknown>>> {
  const file = await asyncBufferFromFile(path);
  const footer: FileMetaData = await parquetMetadataAsync(file);
  const metadata = options.raw
    ? {
        ...footer,
        schema: footer.schema.map((element) =>
          isDecimal(element) || temporalFormat(element)
            ? { ...element, converted_type: undefined, logical_type: undefined }
            : element,
        ),
      }
    : footer;
  const rows: Array<Record<string, unknown>> = [];
  for (let group = 0; group < metadata.row_groups.length; group++) {
    const slices = await openRowGroupSlices(
      metadata,
      group,
      parsers,
      (start, end) => file.slice(start, end),
      options,
    );
    for (;;) {
      const { rows: read, columns } = slices.read(count);
      if (read === 0) break;
      for (let index = 0; index < read; index++) {
        const row: Record<string, unknown> = {};
        for (const [name, values] of columns) row[name] = values[index];
        rows.push(row);
      }
    }
  }
  return rows;
}

const names = [...PARQUET_VARIANTS.map((variant) => variant.name), ...FLAT_VARIANTS.map(([name]) => name)];

describe.each(names)('%s', (name) => {
  it.each([false, true])(
    'gives the rows of the general path, whatever the slice size (raw: %s)',
    async (raw) => {
      const path = files.get(name)!;
      const general = await rowsOf(path, 512, { generalOnly: true, raw });
      expect(general.length).toBeGreaterThan(0);
      for (const count of [1, 3, 512, 4096]) expect(await rowsOf(path, count, { raw })).toEqual(general);
    },
  );

  it('gives INT64 values as the numbers they are where a whole page fits, bigints elsewhere', async () => {
    const path = files.get(name)!;
    const general = await rowsOf(path, 512, { generalOnly: true, raw: true });
    const exact = await rowsOf(path, 37, { exactInt64: true, raw: true });
    expect(exact).toHaveLength(general.length);
    let numbers = 0;
    for (const [index, row] of exact.entries()) {
      for (const [column, value] of Object.entries(row)) {
        const expected = general[index]![column];
        if (typeof value === 'number' && typeof expected === 'bigint') {
          expect(BigInt(value)).toBe(expected);
          expect(Math.abs(value)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
          numbers++;
        } else {
          expect(value).toEqual(expected);
        }
      }
    }
    // Every file has INT64 columns whose pages fit (`price`, `at_us`; the flat table's `id`, `amount`).
    expect(numbers).toBeGreaterThan(0);
  });
});

describe('the flat table', () => {
  it('keeps bigints on the page holding 2^53, numbers on the others, and the exact edges', async () => {
    const path = files.get('v1-plain')!;
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([2048, 2048, 904]);
    const exact = await rowsOf(path, 512, { exactInt64: true });
    expect(exact[10]!.big).toBe(9007199254740991);
    expect(exact[11]!.big).toBe(-9007199254740991);
    expect(exact[2500]!.big).toBe(9007199254740992n);
    expect(typeof exact[2501]!.big).toBe('bigint');
    expect(typeof exact[4097]!.big).toBe('number');
    expect(exact[11]!.name).toBe('Zoë 11');
    expect(exact[13]!.name).toBe(`${'long-'.repeat(10)}13`);
    expect(exact[20]!.name).toBeNull();
  });
});
