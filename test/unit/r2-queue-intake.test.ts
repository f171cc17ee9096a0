/** R2 notification parsing (a pure function) and when the queue intake acknowledges or retries a message. */
import { describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import {
  createR2QueueIntake,
  parseR2Notification,
  type QueueMessageLike,
} from '../../adapters/intake/r2-queue/r2-queue-intake.js';
import type { IntakeResult, LandingOutcome } from '../../adapters/ports.js';

const body = (
  action: string,
  object: Record<string, unknown> = { key: 'vendors/acme/orders/a b.csv', size: 10, eTag: 'abc' },
) => ({
  account: 'acct',
  action,
  bucket: 'uploads',
  object,
  eventTime: '2026-11-24T10:00:00.000Z',
});

describe('parseR2Notification', () => {
  it.each(['PutObject', 'CopyObject', 'CompleteMultipartUpload'])(
    'makes %s a finalized landing pinned to the eTag, key as sent',
    (action) => {
      expect(parseR2Notification(body(action))).toEqual({
        landings: [
          {
            bucket: 'uploads',
            key: 'vendors/acme/orders/a b.csv',
            version: 'abc',
            kind: 'finalized',
            via: 'r2-queue',
            eventTime: '2026-11-24T10:00:00.000Z',
          },
        ],
      });
    },
  );

  it.each(['DeleteObject', 'LifecycleDeletion'])(
    'makes %s a deleted landing (no size or eTag on deletes)',
    (action) => {
      const result = parseR2Notification(body(action, { key: 'k.csv' }));
      expect(result).toMatchObject({ landings: [{ key: 'k.csv', kind: 'deleted' }] });
    },
  );

  it('reads a body sent as JSON text, and ignores an action it does not know', () => {
    expect(parseR2Notification(JSON.stringify(body('PutObject')))).toMatchObject({
      landings: [{ version: 'abc' }],
    });
    expect(parseR2Notification(body('RestoreObject'))).toEqual({
      ignored: 'R2 action RestoreObject is not one Dropgate ingests',
    });
  });

  it.each([
    ['{', 'the message body is not JSON'],
    [[], 'the message body is not a JSON object'],
    [{ bucket: 'b', object: { key: 'k' } }, 'action is missing'],
    [{ action: 'PutObject', object: { key: 'k' } }, 'bucket is missing'],
    [{ action: 'PutObject', bucket: 'b' }, 'object is missing'],
    [{ action: 'PutObject', bucket: 'b', object: {} }, 'object.key is missing'],
    [
      { action: 'PutObject', bucket: 'b', object: { key: 'k' } },
      'object.eTag is missing (must be a string) on a PutObject notification',
    ],
  ])('refuses %j with BAD_REQUEST naming what is wrong', (input, reason) => {
    let error: unknown;
    try {
      parseR2Notification(input);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(DropgateError);
    expect((error as DropgateError).code).toBe('BAD_REQUEST');
    expect((error as DropgateError).message).toContain(reason);
  });
});

describe('createR2QueueIntake', () => {
  function message(attempts: number, messageBody: unknown = body('PutObject')) {
    const seen: Array<'ack' | number> = [];
    const value: QueueMessageLike = {
      id: `m${attempts}`,
      body: messageBody,
      attempts,
      ack: () => seen.push('ack'),
      retry: (options) => seen.push(options?.delaySeconds ?? -1),
    };
    return { value, seen };
  }
  const outcome =
    (status: LandingOutcome['status'], ack: boolean, retryAfterSeconds?: number) =>
    async (result: IntakeResult) =>
      'landings' in result
        ? result.landings.map((landing) => ({
            landing,
            status,
            ack,
            ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
          }))
        : [];

  it('acks once every landing is acknowledged: ingested, rejected, duplicate', async () => {
    for (const status of ['ingested', 'rejected', 'duplicate'] as const) {
      const { value, seen } = message(1);
      const modes: string[] = [];
      await createR2QueueIntake({
        accept: async (result, mode) => (modes.push(mode), outcome(status, true)(result)),
      }).handle([value]);
      expect(seen).toEqual(['ack']);
      expect(modes).toEqual(['inline']);
    }
  });

  it('retries, never acks, a file not fully published, with a delay doubling per delivery up to the most', async () => {
    const intake = createR2QueueIntake({
      accept: outcome('failed', false),
      baseDelaySeconds: 10,
      maxDelaySeconds: 60,
    });
    const delays: Array<'ack' | number> = [];
    for (const attempts of [1, 2, 3, 4, 5]) {
      const { value, seen } = message(attempts);
      await intake.handle([value]);
      delays.push(...seen);
    }
    expect(delays).toEqual([10, 20, 40, 60, 60]);
  });

  it('waits at least as long as the gateway asks (a lease held elsewhere), and retries when accept throws', async () => {
    const leased = message(1);
    await createR2QueueIntake({ accept: outcome('in-progress', false, 45) }).handle([leased.value]);
    expect(leased.seen).toEqual([45]);
    const thrown = message(2);
    await createR2QueueIntake({
      accept: async () => {
        throw new DropgateError('LEDGER_UNAVAILABLE', 'down');
      },
    }).handle([thrown.value]);
    expect(thrown.seen).toEqual([20]);
  });

  it('retries a message that is no notification at the longest delay, so it reaches the dead-letter queue', async () => {
    const reasons: string[] = [];
    const bad = message(1, { hello: 'world' });
    await createR2QueueIntake({
      accept: outcome('ingested', true),
      maxDelaySeconds: 300,
      onRetry: ({ reason }) => reasons.push(reason),
    }).handle([bad.value]);
    expect(bad.seen).toEqual([300]);
    expect(reasons).toEqual(['not an R2 event notification: action is missing (must be a string)']);
  });

  it("stops at the time budget: the running file and the batch's later messages are retried at once", async () => {
    const first = message(3);
    const second = message(1);
    const accepted: string[] = [];
    await createR2QueueIntake({
      budgetSeconds: 0.05,
      baseDelaySeconds: 10,
      // The gateway stops the ingestion at a checkpoint once the budget aborts, and reports it failed.
      accept: async (result, _mode, { budget }) => {
        accepted.push(JSON.stringify(result));
        await new Promise((resolve) => budget.addEventListener('abort', resolve));
        expect((budget.reason as DropgateError).code).toBe('TIME_BUDGET_SPENT');
        return outcome('failed', false, 10)(result);
      },
    }).handle([first.value, second.value]);
    expect(first.seen).toEqual([0]);
    expect(second.seen).toEqual([0]);
    expect(accepted).toHaveLength(1);
  });
});
