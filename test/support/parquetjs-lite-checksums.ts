/**
 * parquetjs-lite made to write each V1 data page's CRC-32 in the page header, as parquet-mr (Spark, Hive)
 * does and parquetjs-lite does not: its writer compresses a page's levels and values, then serializes the
 * header, both through its own modules, which are patched for as long as `write` runs.
 */
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';

const require = createRequire(import.meta.url);
const util = require('parquetjs-lite/lib/util.js') as {
  serializeThrift(object: { data_page_header?: unknown; crc?: number }): Buffer;
};
const compression = require('parquetjs-lite/lib/compression.js') as {
  deflate(method: string, value: Buffer): Buffer;
};

/** Runs `write` (parquetjs-lite writing V1 pages) with each data page's checksum in its header. */
export async function withPageChecksums<T>(write: () => Promise<T>): Promise<T> {
  const { deflate } = compression;
  const { serializeThrift } = util;
  let body: Buffer | undefined;
  compression.deflate = (method, value) => (body = deflate(method, value));
  util.serializeThrift = (object) => {
    if (object.data_page_header && body) object.crc = crc32(body) | 0;
    body = undefined;
    return serializeThrift(object);
  };
  try {
    return await write();
  } finally {
    compression.deflate = deflate;
    util.serializeThrift = serializeThrift;
  }
}
