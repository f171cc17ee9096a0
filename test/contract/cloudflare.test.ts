/**
 * The Ledger contract against the Durable Object ledger over a real workerd Durable Object (SQLite),
 * reached from Node through Miniflare's binding proxy; and an R2 presigned PUT sent to s3rver (Miniflare
 * serves no S3 API). s3rver took a URL with a changed key here, so this proves the URL's form, not its
 * signature: that needs R2 itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Miniflare } from 'miniflare';
import {
  createDurableObjectLedger,
  type DurableObjectNamespaceLike,
} from '../../adapters/ledger/durable-object/durable-object-ledger.js';
import { createR2ObjectStore, type R2BucketBinding } from '../../adapters/object-store/r2/r2-object-store.js';
import { TEST_CREDENTIALS, startS3rver, type StandIn } from '../support/aws-stand-ins.js';
import { bundleEdgeWorker, edgeConfig, startEdgeMiniflare } from '../workerd/support/edge-worker.js';
import { ledgerContract, ledgerHistoryContract, type LedgerFactory } from './ledger-contract.js';

let miniflare: Miniflare;
let remove: () => Promise<void>;
let ledgers = 0;

beforeAll(async () => {
  const bundle = await bundleEdgeWorker(edgeConfig());
  remove = bundle.remove;
  miniflare = startEdgeMiniflare(bundle.script);
  await miniflare.ready;
}, 60_000);

afterAll(async () => {
  await miniflare?.dispose();
  await remove?.();
});

const r2Store = (binding: R2BucketBinding, endpoint?: string) =>
  createR2ObjectStore({
    binding,
    bucket: 'dropgate-test-uploads',
    accountId: '0123456789abcdef0123456789abcdef',
    ...TEST_CREDENTIALS,
    ...(endpoint ? { endpoint } : {}),
  });

async function freshDurableObjectLedger(now: () => number) {
  const namespace = (await miniflare.getDurableObjectNamespace(
    'LEDGER',
    'dropgate',
  )) as unknown as DurableObjectNamespaceLike;
  // Each subject its own objects: the ledger names an object by bucket, so a fresh prefix makes a fresh ledger.
  const prefix = `ledger-${++ledgers}-`;
  return createDurableObjectLedger({
    namespace: {
      idFromName: (name) => namespace.idFromName(prefix + name),
      get: (id) => namespace.get(id),
    },
    now,
  });
}

const durableObjectLedger: LedgerFactory = async ({ now }) => ({
  ledger: await freshDurableObjectLedger(now),
});

ledgerContract('durable-object (Miniflare SQLite Durable Object)', durableObjectLedger);
ledgerHistoryContract('durable-object (Miniflare SQLite Durable Object)', durableObjectLedger);

describe('durable-object listing cursors (the scheduled backfill)', () => {
  it('keeps one cursor per name, replaced only from the value the step started at', async () => {
    const cursors = await freshDurableObjectLedger(Date.now);
    expect(await cursors.readCursor('b', 'backfill:a/')).toBeUndefined();
    expect(await cursors.saveCursor('b', 'backfill:a/', undefined, 'page-2')).toBe(true);
    expect(await cursors.saveCursor('b', 'backfill:other/', undefined, 'x')).toBe(true);
    // A step that started before the save above (it read no cursor) moves nothing.
    expect(await cursors.saveCursor('b', 'backfill:a/', undefined, 'page-1')).toBe(false);
    expect(await cursors.readCursor('b', 'backfill:a/')).toBe('page-2');
    expect(await cursors.saveCursor('b', 'backfill:a/', 'page-2', 'page-3')).toBe(true);
    // The listing's end clears it; the other name keeps its own.
    expect(await cursors.saveCursor('b', 'backfill:a/', 'page-3', undefined)).toBe(true);
    expect(await cursors.readCursor('b', 'backfill:a/')).toBeUndefined();
    expect(await cursors.readCursor('b', 'backfill:other/')).toBe('x');
  });
});

describe('r2 presigned upload URL, sent to an S3 API (s3rver)', () => {
  let s3: StandIn;
  beforeAll(async () => {
    s3 = await startS3rver(['dropgate-test-uploads']);
  });
  afterAll(() => s3?.stop());

  const sign = (contentType: string, expiresInSeconds = 600) =>
    r2Store({} as R2BucketBinding, s3.endpoint).createUploadUrl({
      key: 'vendors/acme/orders/2026-11-24/odd name ü.csv',
      maxBytes: 1_000,
      contentType,
      expiresInSeconds,
    });

  it('accepts the signed PUT with its headers, and the object lands at the key', async () => {
    const upload = await sign('text/csv');
    if (upload.method !== 'PUT') throw new Error('R2 signs PUT uploads');
    const response = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: 'a,b\n1,2\n' });
    expect(response.status).toBe(200);
    const object = await fetch(
      `${s3.endpoint}/dropgate-test-uploads/${encodeURIComponent(upload.key).replace(/%2F/g, '/')}`,
    );
    expect(await object.text()).toBe('a,b\n1,2\n');
  });
});
