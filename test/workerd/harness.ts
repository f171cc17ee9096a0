/**
 * A test-only Worker running the core inside workerd, for core-under-workerd.test.ts to compare with the
 * same runs on Node. POST /ingest ingests the body with memory adapters, a precompiled validator and the
 * Workers TextDecoding, answering every event published; POST /decode decodes the body with that
 * TextDecoding; GET /event-bytes checks EventBytesWriter against JSON.stringify.
 */
import { fromAjv } from '../../schemas/row-validator.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { webTextDecoding } from '../../workers/text-decoding.js';
import validators from './generated/validators.js';
import { checkEventBytes, runHarness, type HarnessDataset } from './run-harness.js';

async function ingest(url: URL, request: Request): Promise<unknown> {
  const dataset = JSON.parse(url.searchParams.get('dataset')!) as HarnessDataset;
  const validate = validators[dataset.validator];
  if (!validate) throw new Error(`no precompiled validator ${dataset.validator}`);
  const number = (name: string) =>
    url.searchParams.has(name) ? Number(url.searchParams.get(name)) : undefined;
  const segmentBytes = number('segmentBytes');
  return runHarness(
    { ingestFile, textDecoding: webTextDecoding, validate: fromAjv(validate) },
    {
      key: url.searchParams.get('key')!,
      updated: url.searchParams.get('updated')!,
      bytes: new Uint8Array(await request.arrayBuffer()),
      dataset,
      chunkSize: number('chunkSize') ?? 1024,
      ...(segmentBytes === undefined ? {} : { segmentBytes }),
    },
  );
}

async function decode(url: URL, request: Request): Promise<unknown> {
  const encoding = url.searchParams.get('encoding')!;
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (!webTextDecoding.supports(encoding)) return { supported: false };
  const decoder = webTextDecoding.decoder(encoding);
  // Byte by byte, so characters are cut between chunks.
  let text = '';
  for (let index = 0; index < bytes.length; index++) text += decoder.write(bytes.subarray(index, index + 1));
  return { supported: true, text: text + decoder.end() };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/ingest') return Response.json(await ingest(url, request));
    if (url.pathname === '/decode') return Response.json(await decode(url, request));
    if (url.pathname === '/event-bytes') {
      return Response.json(
        checkEventBytes(Number(url.searchParams.get('seed')), Number(url.searchParams.get('count'))),
      );
    }
    return new Response('not found', { status: 404 });
  },
};
