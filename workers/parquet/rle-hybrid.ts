/**
 * Parquet's RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans), read as hyparquet's
 * `readRleBitPackedHybrid` reads it, value for value and byte for byte, but with its work bounded by the
 * values wanted: hyparquet repeats an RLE run as many times as its header says and walks a bit-packed
 * run of width 0 (or of a negative length) value by value, so one corrupt run header of a few bytes
 * (2^31 values) held a core for minutes. Here a run fills at most what is left of the output, values
 * past it are skipped by their bytes, and a run that does not fit in the data is an error.
 */
import type { DataReader, DecodedArray } from 'hyparquet/src/types.js';
import { readVarInt } from 'hyparquet/src/thrift.js';

/** Reads `output.length` values of `width` bits; `length` bytes of runs, or (absent) a 4-byte length first. */
export function readHybridRuns(
  reader: DataReader,
  width: number,
  output: DecodedArray,
  length?: number,
): void {
  const { view } = reader;
  if (length === undefined) {
    length = view.getUint32(reader.offset, true);
    reader.offset += 4;
  }
  const start = reader.offset;
  // A corrupt length would move the values that follow the levels, read then as garbage.
  if (length < 0 || start + length > view.byteLength) {
    throw new Error(`parquet levels of ${length} bytes run past the page's ${view.byteLength - start}`);
  }
  const values = output as { length: number; [index: number]: number };
  const valueBytes = (width + 7) >> 3;
  let seen = 0;
  while (seen < values.length) {
    const header = readVarInt(reader);
    if (header & 1) {
      seen = readBitPacked(reader, header, width, values, seen);
    } else {
      const count = header >>> 1;
      let value = 0;
      for (let i = 0; i < valueBytes; i++) value |= view.getUint8(reader.offset++) << (i << 3);
      const end = Math.min(values.length, seen + count);
      for (let i = seen; i < end; i++) values[i] = value;
      seen += count;
    }
  }
  reader.offset = start + length;
}

/** One bit-packed run (8 values per group, least significant bits first); returns the values seen so far. */
function readBitPacked(
  reader: DataReader,
  header: number,
  width: number,
  output: { length: number; [index: number]: number },
  seen: number,
): number {
  const { view } = reader;
  const count = (header >> 1) << 3;
  if (count < 0) throw new Error('parquet bit-packed run is corrupt: its length is negative');
  const mask = (1 << width) - 1;
  const runStart = reader.offset;
  // hyparquet reads the run's first byte whatever its width, and needs one unless the width is 0.
  const runBytes = mask ? Math.max(1, Math.ceil((count * width) / 8)) : runStart < view.byteLength ? 1 : 0;
  if (mask && runStart + runBytes > view.byteLength) {
    throw new Error(`parquet bit-packed run of ${count} values passes the end of its data`);
  }
  let wanted = Math.min(count, output.length - seen);
  let data = runBytes > 0 ? view.getUint8(reader.offset++) : 0;
  let left = 8;
  let right = 0;
  while (wanted) {
    if (right > 8) {
      right -= 8;
      left -= 8;
      data >>>= 8;
    } else if (left - right < width) {
      data |= view.getUint8(reader.offset) << left;
      reader.offset++;
      left += 8;
    } else {
      output[seen++] = (data >> right) & mask;
      wanted--;
      right += width;
    }
  }
  reader.offset = runStart + runBytes;
  return seen;
}
