/**
 * How a queue message is settled from its landings' outcomes: acknowledged only when every outcome is,
 * otherwise put back after the longest wait asked for; unreadable messages and ledger faults are never
 * acknowledged. The same settlement serves SQS and Cloudflare Queues.
 */
import { describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { settleQueueMessage, settlementOf } from '../../adapters/intake/queue-messages.js';
import { parseS3Notification } from '../../adapters/intake/s3-notifications.js';
import type { IntakeResult, Landing, LandingOutcome, QueueIntake } from '../../adapters/ports.js';
import { s3Record } from '../support/s3-notification-messages.js';

const landing = (key: string): Landing => ({ bucket: 'uploads', key, kind: 'finalized', via: 'sqs' });

const intake: QueueIntake = { type: 'sqs', parse: (body) => parseS3Notification(body, 'sqs') };

describe('queue message settlement', () => {
  it('acknowledges a message only when every outcome is acknowledged', () => {
    const outcomes: LandingOutcome[] = [
      { landing: landing('a.csv'), status: 'ingested', ack: true },
      { landing: landing('b.csv'), status: 'duplicate', ack: true },
    ];
    expect(settlementOf(outcomes)).toEqual({ settle: 'ack' });
    expect(settlementOf([])).toEqual({ settle: 'ack' });
  });

  it('puts a message back after the longest wait any unacknowledged outcome asks for, saying why', () => {
    const outcomes: LandingOutcome[] = [
      { landing: landing('a.csv'), status: 'ingested', ack: true },
      { landing: landing('b.csv'), status: 'failed', ack: false, reason: 'sink down', retryAfterSeconds: 10 },
      {
        landing: landing('c.csv'),
        status: 'in-progress',
        ack: false,
        reason: 'leased',
        retryAfterSeconds: 45,
      },
    ];
    expect(settlementOf(outcomes)).toEqual({
      settle: 'retry',
      retryAfterSeconds: 45,
      reason: 'b.csv: failed: sink down; c.csv: in-progress: leased',
    });
  });

  it('leaves an unreadable message for the dead-letter queue, never acknowledging it', async () => {
    const accepted: unknown[] = [];
    const settlement = await settleQueueMessage(intake, 'not json', {
      accept: async (result) => {
        accepted.push(result);
        return [];
      },
    });
    expect(settlement).toMatchObject({ settle: 'retry', reason: expect.stringContaining('is not JSON') });
    expect(accepted).toEqual([]);
  });

  it('puts a message back when the ledger could not record its landings', async () => {
    const body = JSON.stringify({ Records: [s3Record({ key: 'a.csv' })] });
    const settlement = await settleQueueMessage(intake, body, {
      accept: async () => {
        throw new DropgateError('LEDGER_UNAVAILABLE', 'the table is throttling');
      },
    });
    expect(settlement).toEqual({ settle: 'retry', retryAfterSeconds: 10, reason: 'the table is throttling' });
  });

  it('takes a body the queue already decoded (Cloudflare Queues JSON) as well as JSON text', async () => {
    const message = { Records: [s3Record({ key: 'a+b.csv' })] };
    const seen: string[] = [];
    const accept = async (result: IntakeResult) => {
      if ('landings' in result) for (const item of result.landings) seen.push(item.key);
      return [];
    };
    expect(await settleQueueMessage(intake, message, { accept })).toEqual({ settle: 'ack' });
    expect(await settleQueueMessage(intake, JSON.stringify(message), { accept })).toEqual({ settle: 'ack' });
    expect(seen).toEqual(['a b.csv', 'a b.csv']);
  });

  it('does not hand on landings known stale, and reports acknowledged ones as handled', async () => {
    const body = JSON.stringify({
      Records: [s3Record({ key: 'old.csv', sequencer: '01' }), s3Record({ key: 'new.csv', sequencer: '02' })],
    });
    const handed: string[] = [];
    const handled: string[] = [];
    const settlement = await settleQueueMessage(intake, body, {
      accept: async (result) =>
        'landings' in result
          ? result.landings.map((item) => {
              handed.push(item.key);
              return { landing: item, status: 'ingested' as const, ack: true };
            })
          : [],
      isStale: (item) => item.key === 'old.csv',
      handled: (item) => handled.push(item.key),
    });
    expect(settlement).toEqual({ settle: 'ack' });
    expect(handed).toEqual(['new.csv']);
    expect(handled).toEqual(['new.csv']);
  });
});
