/** The bare hyparquet reader the benches compare against: every row group in turn, as row objects. */
import { parquetMetadataAsync, parquetRead, type AsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

/** Reads every row group of `file` as row objects, one row group at a time; returns the rows read. */
export async function readEveryRowGroup(
  file: AsyncBuffer,
  onRows: (rows: Array<Record<string, unknown>>) => void = () => undefined,
): Promise<number> {
  const metadata = await parquetMetadataAsync(file);
  let rows = 0;
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    await parquetRead({
      file,
      metadata,
      rowStart,
      rowEnd,
      rowFormat: 'object',
      compressors,
      onComplete: (result: Array<Record<string, unknown>>) => {
        onRows(result);
        rows += result.length;
      },
    });
    rowStart = rowEnd;
  }
  return rows;
}
