/**
 * A gzip file is read only as far as its dataset's decompression limits allow: a bomb (a few hundred KB
 * that inflate to tens of MB of nothing) is rejected with the reason once it passes them, without
 * holding an ingestion slot for minutes; ordinary files are untouched.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { isDropgateError } from '../../adapters/errors.js';
import { plainBytes } from '../../workers/decode.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { testDataset } from '../support/datasets.js';
import { ordersFile } from '../integration/support/orders-csv.js';

async function ingestGzip(bytes: Uint8Array, decompression?: { maxBytes: number; maxRatio: number }) {
  const store = createMemoryObjectStore();
  const key = 'vendors/acme/orders/file.csv.gz';
  store.put(key, bytes);
  const sink = createMemoryEventSink();
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'dropgate.files', owner: 'test' },
    { dataset: testDataset(decompression ? { decompression } : {}), key, mode: 'notification' },
  );
  return { result, sink };
}

describe('decompression limits', () => {
  it('rejects a decompression bomb by its ratio once past 64 MiB, naming the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(80 << 20, '\n'));
    expect(bomb.byteLength).toBeLessThan(200_000);
    const limits = { maxBytes: 2 ** 40, maxRatio: 200, compressedBytes: bomb.byteLength };
    const plain = await plainBytes(new Blob([bomb]).stream(), { expectGzip: true, limits });
    let read = 0;
    const error = await (async () => {
      for await (const chunk of plain) read += chunk.byteLength;
    })().catch((reason: unknown) => reason);
    expect(isDropgateError(error, 'FILE_UNREADABLE')).toBe(true);
    expect((error as Error).message).toContain('more than 200 times');
    expect((error as Error).message).toContain('decompression.maxRatio');
    expect(read).toBeLessThanOrEqual(64 << 20);
    expect(read).toBeGreaterThan(60 << 20);
  });

  it('lets a small file compress as well as it likes: ratios count only past 64 MiB', async () => {
    const tiny = gzipSync(Buffer.alloc(4 << 20, 'a'));
    const limits = { maxBytes: 2 ** 40, maxRatio: 2, compressedBytes: tiny.byteLength };
    const plain = await plainBytes(new Blob([tiny]).stream(), { expectGzip: true, limits });
    let read = 0;
    for await (const chunk of plain) read += chunk.byteLength;
    expect(read).toBe(4 << 20);
  });

  it('rejects a file past the dataset’s maxBytes, and ingests one within it', async () => {
    const { csv } = ordersFile(50);
    const gzip = gzipSync(csv);
    const refused = await ingestGzip(gzip, { maxBytes: 2_000, maxRatio: 200 });
    expect(refused.result.status).toBe('rejected');
    if (refused.result.status !== 'rejected') return;
    expect(refused.result.summary.error?.message).toContain('more than 2000 bytes');

    const accepted = await ingestGzip(gzip, { maxBytes: csv.length, maxRatio: 200 });
    expect(accepted.result.status).toBe('ingested');
    expect(accepted.sink.events('orders')).toHaveLength(50);
  });
});
