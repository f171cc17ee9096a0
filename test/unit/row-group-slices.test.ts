/**
 * Row groups read a slice of rows at a time give exactly the rows hyparquet gives for the whole row
 * group, when slices and pages do not line up: files from parquetjs-lite (an independent writer that
 * starts a page every `pageSize` rows, V1 or V2), with nulls, lists, structs and repeated structs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import parquet from 'parquetjs-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRowGroupSlices } from '../../workers/parquet/row-group-slices.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';

const ROWS = 2_500;

let directory: TemporaryDirectory;
beforeAll(async () => {
  directory = await createTemporaryDirectory('row-group-slices');
});
afterAll(() => directory.remove());

async function writeFile(name: string, options: { useDataPageV2: boolean }, rows = ROWS): Promise<string> {
  const schema = new parquet.ParquetSchema({
    id: { type: 'INT64' },
    name: { type: 'UTF8', optional: true, compression: 'GZIP' },
    flag: { type: 'BOOLEAN' },
    tags: { type: 'UTF8', repeated: true },
    address: {
      optional: true,
      fields: { street: { type: 'UTF8' }, zip: { type: 'INT32', optional: true } },
    },
    lines: { repeated: true, fields: { sku: { type: 'UTF8' }, qty: { type: 'INT32' } } },
  });
  const path = join(directory.path, name);
  const writer = await parquet.ParquetWriter.openFile(schema, path, {
    rowGroupSize: 1_000,
    pageSize: 97,
    ...options,
  });
  for (let i = 0; i < rows; i++) {
    await writer.appendRow({
      id: i,
      ...(i % 7 === 0 ? {} : { name: `name-${i}` }),
      flag: i % 3 === 0,
      tags: Array.from({ length: i % 4 }, (_, k) => `t${i}-${k}`),
      ...(i % 5 === 0 ? {} : { address: { street: `${i} Main St`, ...(i % 2 ? { zip: i } : {}) } }),
      lines: Array.from({ length: i % 3 }, (_, k) => ({ sku: `SKU-${k}`, qty: k + i })),
    });
  }
  await writer.close();
  return path;
}

/** Every row of `group`, `count` rows at a time, as row objects. */
async function sliced(metadata: FileMetaData, path: string, group: number, count: number) {
  const file = await asyncBufferFromFile(path);
  const slices = await openRowGroupSlices(metadata, group, {}, (start, end) => file.slice(start, end));
  const rows: Array<Record<string, unknown>> = [];
  for (;;) {
    const { rows: read, columns } = slices.read(count);
    if (read === 0) break;
    for (let index = 0; index < read; index++) {
      const row: Record<string, unknown> = {};
      for (const [name, values] of columns) row[name] = values[index];
      rows.push(row);
    }
  }
  return rows;
}

describe.each([
  ['V1', false],
  ['V2', true],
])('row groups in slices, %s pages', (version, useDataPageV2) => {
  it('give the rows hyparquet gives for the whole row group, whatever the slice size', async () => {
    const path = await writeFile(`${version}.parquet`, { useDataPageV2 });
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([1000, 1000, 500]);
    let start = 0;
    for (const [group, { num_rows }] of metadata.row_groups.entries()) {
      const end = start + Number(num_rows);
      const whole = await parquetReadObjects({
        file,
        metadata,
        rowStart: start,
        rowEnd: end,
        compressors,
        utf8: false,
      });
      expect(whole).toHaveLength(end - start);
      // 1 row, a prime that pages of 97 rows never line up with, and more than the row group holds.
      for (const count of [1, 37, 4096]) {
        expect(await sliced(metadata, path, group, count)).toEqual(whole);
      }
      start = end;
    }
  }, 60_000);
});

describe('row groups in slices', () => {
  it('hold nulls, empty lists and nested rows as written', async () => {
    const path = await writeFile('check.parquet', { useDataPageV2: false });
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    const rows = await sliced(metadata, path, 0, 37);
    expect(rows[15]).toEqual({
      id: 15n,
      name: 'name-15',
      flag: true,
      tags: ['t15-0', 't15-1', 't15-2'],
      address: undefined, // hyparquet's null struct; parquet-values.ts makes it null
      lines: [],
    });
    expect(rows[14]).toEqual({
      id: 14n,
      name: null,
      flag: false,
      tags: ['t14-0', 't14-1'],
      address: { street: '14 Main St', zip: null },
      lines: [
        { sku: 'SKU-0', qty: 14 },
        { sku: 'SKU-1', qty: 15 },
      ],
    });
  });
});

describe('corrupt page headers', () => {
  it('a V2 page header cut short (its level lengths lost) is an error, not its levels read forever', async () => {
    const path = await writeFile('cut.parquet', { useDataPageV2: true }, 200);
    const bytes = new Uint8Array(await readFile(path));
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    const errors: string[] = [];
    for (const { meta_data: column } of metadata.row_groups[0]!.columns) {
      const start = Number(column!.data_page_offset);
      // 0xf0 is a field header of type STOP (low nibble 0): the header's struct, or one inside it, ends there.
      for (let offset = 1; offset < 24; offset++) {
        const damaged = new Uint8Array(bytes);
        damaged[start + offset] = 0xf0;
        const slices = await openRowGroupSlices(metadata, 0, {}, (from, to) =>
          damaged.buffer.slice(from, to),
        );
        try {
          slices.read(37); // the damaged page is the first one
        } catch (error) {
          errors.push(((error as Error).cause as Error).message);
        }
      }
    }
    expect(errors).toContain('parquet page header is corrupt: a size or count is missing or negative');
  });
});
