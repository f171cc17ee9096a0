/**
 * One tick of a scheduled backfill (the Worker's cron trigger): one bounded listing step, its cursor kept
 * in the ledger between ticks, which share no memory. A walk that has not reached the end of the listing
 * goes on where the last tick stopped; one that has starts over on the next tick, so objects written
 * since, whose notification was lost, are found on the next pass.
 */
import type { ListingCursors } from '../adapters/ports.js';
import type { BackfillResult } from './backfill.js';
import type { Gateway } from './gateway.js';
import type { Logger } from './logger.js';

export interface ScheduledBackfillSettings {
  prefix: string;
  since?: string;
  /** Objects listed per tick. */
  limit: number;
}

export interface ScheduledBackfillDependencies {
  gateway: Pick<Gateway, 'backfill' | 'resumeUnfinished'>;
  cursors: ListingCursors;
  bucket: string;
  logger: Logger;
}

export async function scheduledBackfill(
  { gateway, cursors, bucket, logger }: ScheduledBackfillDependencies,
  { prefix, since, limit }: ScheduledBackfillSettings,
): Promise<BackfillResult & { resumed: number }> {
  // What an earlier tick recorded but could not finish within its time (the ledger holds it, pending or
  // with a lapsed lease) is woken first: no later step would, since backfill leaves known versions alone.
  const resumed = await gateway.resumeUnfinished('retryable');
  // Per prefix: a cursor is a position in one prefix's listing, meaningless in another's.
  const name = `backfill:${prefix}`;
  const cursor = await cursors.readCursor(bucket, name);
  logger.debug('scheduled backfill step', { prefix, cursor: cursor ?? null, limit });
  const result = await gateway.backfill({
    prefix,
    limit,
    ...(since === undefined ? {} : { since }),
    ...(cursor === undefined ? {} : { cursor }),
  });
  if (!(await cursors.saveCursor(bucket, name, cursor, result.cursor))) {
    logger.warn('another backfill step moved the cursor meanwhile; its position is kept', { prefix });
  }
  logger.info('scheduled backfill', {
    prefix,
    resumed,
    scanned: result.scanned,
    recorded: result.recorded,
    next: result.cursor === undefined ? 'the listing is done; the next tick starts over' : 'goes on',
  });
  return { ...result, resumed };
}
