/**
 * Backfill: lists the bucket under a prefix and records every object version the ledger has never seen,
 * so a lost notification, or a bucket that predates Dropgate, is caught up. Runs in bounded steps (whole
 * listing pages up to a number of objects) and answers a cursor for the next step, so one call fits a
 * request's time limit however large the bucket.
 */
import type { FileVersionRef, Ledger, ObjectStore } from '../adapters/ports.js';
import type { CompiledDataset } from '../workers/compiled-dataset.js';
import { instant, listingStep } from './listing-step.js';
import type { Logger } from './logger.js';

export interface BackfillRequest {
  /** Key prefix to list (`''`: the whole bucket). */
  prefix: string;
  /** Only versions written at or after this instant (RFC 3339). */
  since?: string;
  /** Say what would be recorded, record nothing. */
  dryRun?: boolean;
  /** The `cursor` of the previous step of the same backfill. */
  cursor?: string;
  /** Objects to look at in this step, at least; whole listing pages are taken (default 10,000). */
  limit?: number;
}

export interface BackfillResult {
  prefix: string;
  dryRun: boolean;
  /** Objects listed in this step. */
  scanned: number;
  /** Versions recorded (`pending`) in this step; with `dryRun`, the versions that would be. */
  recorded: number;
  /** Versions the ledger already knew (ingested, pending, failed, ...): left as they are. */
  known: number;
  /** Objects no dataset's match pattern covers. */
  unmatched: number;
  /** Objects written before `since`. */
  older: number;
  /** The first keys recorded (or, with `dryRun`, to be recorded), at most 100. */
  keys: string[];
  /** Present while more of the listing remains: pass it back to go on. */
  cursor?: string;
}

export interface BackfillDependencies {
  store: ObjectStore;
  ledger: Ledger;
  datasetForKey(key: string): CompiledDataset | undefined;
  /** Starts ingesting a recorded version. */
  wake(ref: FileVersionRef): void;
  logger: Logger;
}

const KEYS_SHOWN = 100;

export async function backfill(
  { store, ledger, datasetForKey, wake, logger }: BackfillDependencies,
  request: BackfillRequest,
): Promise<BackfillResult> {
  const since = instant('since', request.since);
  const dryRun = request.dryRun ?? false;
  const result: BackfillResult = {
    prefix: request.prefix,
    dryRun,
    scanned: 0,
    recorded: 0,
    known: 0,
    unmatched: 0,
    older: 0,
    keys: [],
  };
  const step = await listingStep(store, request, async (object) => {
    if (since !== undefined && Date.parse(object.updated) < since) {
      result.older++;
      return;
    }
    const dataset = datasetForKey(object.key);
    if (!dataset) {
      result.unmatched++;
      return;
    }
    const ref = { bucket: store.bucket, key: object.key, version: object.version };
    if (await ledger.get(ref)) {
      result.known++;
      return;
    }
    if (!dryRun) {
      const { changed } = await ledger.register(ref, {
        dataset: dataset.name,
        via: 'backfill',
        request: 'ingest',
      });
      // A notification may have recorded it since the look-up: then it is that one's to ingest.
      if (!changed) {
        result.known++;
        return;
      }
      wake(ref);
    }
    result.recorded++;
    if (result.keys.length < KEYS_SHOWN) result.keys.push(object.key);
  });
  result.scanned = step.scanned;
  const { cursor } = step;
  if (cursor !== undefined) result.cursor = cursor;
  logger.info(dryRun ? 'backfill dry run' : 'backfill step', {
    prefix: result.prefix,
    scanned: result.scanned,
    recorded: result.recorded,
    known: result.known,
    unmatched: result.unmatched,
    older: result.older,
    more: cursor !== undefined,
  });
  return result;
}
