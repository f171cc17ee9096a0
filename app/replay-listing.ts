/**
 * Replay by prefix and time range: lists the bucket under a prefix and asks for a replay of each current
 * object version written in `[since, until)` that a dataset covers, in bounded steps with a cursor like
 * backfill. A version the ledger never saw is recorded and ingested as new. A dry run records nothing.
 */
import { DropgateError, isDropgateError } from '../adapters/errors.js';
import type { FileRecord, FileVersionRef, Ledger, ObjectStore } from '../adapters/ports.js';
import type { CompiledDataset } from '../workers/compiled-dataset.js';
import { instant, listingStep } from './listing-step.js';
import type { Logger } from './logger.js';

export interface ReplayListingRequest {
  /** Key prefix to list (`''`: the whole bucket). */
  prefix: string;
  /** Only versions written at or after this instant (RFC 3339). */
  since?: string;
  /** Only versions written before this instant (RFC 3339). */
  until?: string;
  /** Say what would be replayed, record nothing. */
  dryRun?: boolean;
  /** The `cursor` of the previous step of the same replay. */
  cursor?: string;
  /** Objects to look at in this step, at least; whole listing pages are taken (default 10,000). */
  limit?: number;
}

export interface ReplayListingResult {
  prefix: string;
  dryRun: boolean;
  /** Objects listed in this step. */
  scanned: number;
  /** Objects in the time range that a dataset covers: `replayed` + `new` + `skipped.inProgress`. */
  matched: number;
  /** Versions the ledger knew, now asked to start over from their first row (with `dryRun`: would be). */
  replayed: number;
  /** Versions the ledger never saw, recorded and ingested as new (with `dryRun`: would be). */
  new: number;
  skipped: {
    /** Objects no dataset's match pattern covers (archived and quarantined objects among them). */
    noDataset: number;
    /** Objects written before `since` or from `until` on. */
    outsideRange: number;
    /** Versions another worker holds a live lease on: replay them once they finish. */
    inProgress: number;
  };
  /** The first keys replayed or recorded (with `dryRun`: to be), at most 100. */
  keys: string[];
  /** Present while more of the listing remains: pass it back to go on. */
  cursor?: string;
}

export interface ReplayListingDependencies {
  store: ObjectStore;
  ledger: Ledger;
  datasetForKey(key: string): CompiledDataset | undefined;
  /** Starts ingesting a recorded version. */
  wake(ref: FileVersionRef): void;
  logger: Logger;
  now?: () => number;
}

const KEYS_SHOWN = 100;

export async function replayListing(
  { store, ledger, datasetForKey, wake, logger, now = Date.now }: ReplayListingDependencies,
  request: ReplayListingRequest,
): Promise<ReplayListingResult> {
  const since = instant('since', request.since);
  const until = instant('until', request.until);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new DropgateError(
      'BAD_REQUEST',
      `since (${request.since}) must be before until (${request.until}): the range is [since, until)`,
      { context: { field: 'until' } },
    );
  }
  const dryRun = request.dryRun ?? false;
  const result: ReplayListingResult = {
    prefix: request.prefix,
    dryRun,
    scanned: 0,
    matched: 0,
    replayed: 0,
    new: 0,
    skipped: { noDataset: 0, outsideRange: 0, inProgress: 0 },
    keys: [],
  };
  const step = await listingStep(store, request, async (object) => {
    const updated = Date.parse(object.updated);
    if ((since !== undefined && updated < since) || (until !== undefined && updated >= until)) {
      result.skipped.outsideRange++;
      return;
    }
    const dataset = datasetForKey(object.key);
    if (!dataset) {
      result.skipped.noDataset++;
      return;
    }
    result.matched++;
    const ref = { bucket: store.bucket, key: object.key, version: object.version };
    const known = await ledger.get(ref);
    if (known && leasedElsewhere(known, now())) {
      result.skipped.inProgress++;
      return;
    }
    if (!dryRun) {
      try {
        await ledger.register(ref, {
          dataset: dataset.name,
          via: 'admin-replay',
          request: known ? 'replay' : 'ingest',
        });
      } catch (error) {
        // Claimed by another worker since the look-up.
        if (!isDropgateError(error, 'CONFLICT')) throw error;
        result.skipped.inProgress++;
        return;
      }
      wake(ref);
    }
    if (known) result.replayed++;
    else result.new++;
    if (result.keys.length < KEYS_SHOWN) result.keys.push(object.key);
  });
  result.scanned = step.scanned;
  if (step.cursor !== undefined) result.cursor = step.cursor;
  logger.info(dryRun ? 'replay by prefix dry run' : 'replay by prefix step', {
    prefix: result.prefix,
    since: request.since,
    until: request.until,
    scanned: result.scanned,
    matched: result.matched,
    replayed: result.replayed,
    new: result.new,
    ...result.skipped,
    more: step.cursor !== undefined,
  });
  return result;
}

/** Whether a live lease of another worker holds the version (a replay of it now is refused). */
function leasedElsewhere(record: FileRecord, now: number): boolean {
  return record.state === 'processing' && record.leaseUntil !== null && Date.parse(record.leaseUntil) > now;
}
