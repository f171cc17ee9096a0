/**
 * Encodings other than UTF-8 are decoded by the runtime's injected TextDecoding: iconv-lite on Node, the
 * runtime's TextDecoder on Workers (checked under workerd in core-under-workerd.test.ts, since Node 20's
 * TextDecoder drops windows-1252's 0x80-0x9F). Both keep the same contract on the encodings Node's
 * TextDecoder does get right; config accepts what the runtime's decoding supports, and an ingestion
 * given no decoding for its dataset's encoding fails as a fault instead of misreading the file.
 */
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { compileDatasets, configFileSchema, parseOrExplain } from '../../app/config.js';
import { iconvTextDecoding } from '../../app/node/iconv-text-decoding.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import ordersV1 from '../../schemas/orders/v1.json' with { type: 'json' };
import { ingestFile } from '../../workers/ingest-file.js';
import { webTextDecoding, type TextDecoding } from '../../workers/text-decoding.js';
import { testDataset } from '../support/datasets.js';

const decodings: Array<[string, TextDecoding]> = [
  ['iconv-lite (Node)', iconvTextDecoding],
  ['TextDecoder (Workers)', webTextDecoding],
];

const samples: Array<[encoding: string, text: string]> = [
  ['shift_jis', 'A-1,日本語,ｶﾀｶﾅ\r\n'],
  ['gbk', 'A-2,中文字符\n'],
  ['euc-kr', 'A-3,한국어\n'],
  ['koi8-r', 'A-4,Привет\n'],
  ['utf-16le', 'A-5,café €\n'],
];

function decodeInChunks(decoding: TextDecoding, encoding: string, bytes: Uint8Array, size: number): string {
  const decoder = decoding.decoder(encoding);
  let text = '';
  for (let start = 0; start < bytes.length; start += size)
    text += decoder.write(bytes.subarray(start, start + size));
  return text + decoder.end();
}

describe.each(decodings)('%s', (_, decoding) => {
  it.each(samples)(
    'decodes %s cut anywhere, even inside a character, as it decodes it whole',
    (encoding, text) => {
      const bytes = new Uint8Array(iconv.encode(text, encoding));
      for (const size of [1, 2, 3, bytes.length])
        expect(decodeInChunks(decoding, encoding, bytes, size)).toBe(text);
    },
  );

  it('drops a leading byte-order mark', () => {
    const bytes = new Uint8Array(iconv.encode('\ufeffé€', 'utf-16le'));
    expect(bytes[0]).toBe(0xff);
    expect(decodeInChunks(decoding, 'utf-16le', bytes, 1)).toBe('é€');
  });

  it('supports the labels it decodes, in any case, and no others', () => {
    expect(decoding.supports('Shift_JIS')).toBe(true);
    expect(decoding.supports('windows-1252')).toBe(true);
    expect(decoding.supports('no-such-encoding')).toBe(false);
  });
});

describe('csv.encoding in config', () => {
  const config = (encoding: string) => ({
    datasets: [
      {
        name: 'orders',
        match: 'vendors/*/orders/**',
        schema: 'v1.json',
        eventType: 'OrderReceived',
        topic: 'orders',
        deadLetterTopic: 'orders.dead-letter',
        csv: { encoding },
      },
    ],
  });
  /** The config's datasets as a runtime with `decoding` compiles them at startup. */
  const load = async (decoding: TextDecoding, encoding: string) => {
    const file = parseOrExplain(configFileSchema, config(encoding), 'the config');
    const datasets = await compileDatasets(
      file.datasets,
      async () => ordersV1,
      createAjvValidatorFactory(),
      decoding,
    );
    return datasets[0]!.csv.encoding;
  };

  it('accepts what the runtime decodes: cp437 on Node (iconv-lite), not with the Workers TextDecoder', async () => {
    expect(await load(iconvTextDecoding, 'cp437')).toBe('cp437');
    await expect(load(webTextDecoding, 'cp437')).rejects.toThrow(
      'datasets.0.csv.encoding: "cp437" is not an encoding Dropgate can decode on this runtime',
    );
  });

  it('refuses an unknown encoding on every runtime, naming the field', async () => {
    for (const [, decoding] of decodings) {
      await expect(load(decoding, 'klingon')).rejects.toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringContaining('datasets.0.csv.encoding: "klingon" is not an encoding'),
        }),
      );
    }
  });

  it('accepts UTF-8 whatever the runtime decodes: it is built into the core', async () => {
    const nothing: TextDecoding = {
      supports: () => false,
      decoder: () => {
        throw new Error('not called');
      },
    };
    expect(await load(nothing, 'UTF-8')).toBe('UTF-8');
  });
});

describe('ingesting a file in a legacy encoding', () => {
  const csv =
    'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at,ship_by,gift,note\r\n' +
    'W-1,Société Générale,CAFÉ-€,1,4.5,EUR,2024-03-01T10:00:00Z,,,"prix : 4,50 €"\r\n';

  async function ingest(textDecoding?: TextDecoding) {
    const store = createMemoryObjectStore({ chunkSize: 7 });
    const sink = createMemoryEventSink();
    const dataset = testDataset({ csv: { encoding: 'windows-1252' } });
    const key = 'vendors/acme/orders/file.csv';
    store.put(key, new Uint8Array(iconv.encode(csv, 'windows-1252')));
    const result = await ingestFile(
      {
        store,
        sink,
        ledger: createMemoryLedger(),
        controlTopic: 'dropgate.files',
        owner: 'test',
        ...(textDecoding ? { textDecoding } : {}),
      },
      { dataset, key, mode: 'notification' },
    );
    const notes = sink.events('orders').map((event) => JSON.parse(event.body).data.note as string);
    return { result, notes };
  }

  it('is decoded by the injected decoding', async () => {
    let chunks = 0;
    const counting: TextDecoding = {
      supports: (label) => iconvTextDecoding.supports(label),
      decoder(label) {
        const decoder = iconvTextDecoding.decoder(label);
        return {
          write(bytes) {
            chunks++;
            return decoder.write(bytes);
          },
          end: () => decoder.end(),
        };
      },
    };
    const { result, notes } = await ingest(counting);
    expect(result.status).toBe('ingested');
    expect(notes).toEqual(['prix : 4,50 €']);
    expect(chunks).toBeGreaterThan(10);
  });

  it('fails as a fault, reading nothing, when the runtime was given no decoding for it', async () => {
    const { result, notes } = await ingest();
    expect(result.status).toBe('failed');
    if (result.status !== 'failed') return;
    expect(result.error.code).toBe('CONFIG_INVALID');
    expect(result.error.retryable).toBe(false);
    expect(result.error.message).toContain('csv.encoding windows-1252 cannot be decoded');
    expect(notes).toEqual([]);
  });
});
