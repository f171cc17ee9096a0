/** publishWithRetries: what a sink did not take is published again, what it refused is handed back. */
import { describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import type { EventBatch, EventSink, PublishFailure } from '../../adapters/ports.js';
import { publishWithRetries } from '../../workers/batch-publisher.js';
import { EncodedEvents } from '../../workers/event-batch.js';

const events = (count: number) =>
  EncodedEvents.of(
    Array.from({ length: count }, (_, index) => ({ id: `e${index}`, body: `{"n":${index}}` })),
  );

/** A sink that answers each publish with the next of `answers`; keeps the ids of what it accepted. */
function scriptedSink(answers: Array<(batch: EventBatch) => PublishFailure[]>) {
  const calls: string[][] = [];
  const accepted: string[] = [];
  const sink = {
    async publish(_topic: string, batch: EventBatch) {
      const ids = batch.toEvents().map((event) => event.id);
      calls.push(ids);
      const failed = (answers[calls.length - 1] ?? (() => []))(batch);
      const failedIndices = new Set(failed.map((failure) => failure.index));
      accepted.push(...ids.filter((_, index) => !failedIndices.has(index)));
      return { failed };
    },
    async close() {},
  } as unknown as EventSink;
  return { sink, calls, accepted };
}

const retry = { attempts: 3, baseDelayMs: 1 };

describe('publishWithRetries', () => {
  it('publishes again only the events the sink did not take, and returns those it refused', async () => {
    const { sink, calls, accepted } = scriptedSink([
      () => [
        { index: 1, message: 'throttled', retryable: true },
        { index: 2, message: 'too large', retryable: false },
        { index: 4, message: 'throttled', retryable: true },
      ],
      // Of the retry [e1, e4], e4 fails again.
      () => [{ index: 1, message: 'throttled', retryable: true }],
    ]);
    const refused = await publishWithRetries(sink, 'orders', events(5), retry);
    expect(refused).toEqual([{ index: 2, reason: 'too large' }]);
    expect(calls).toEqual([['e0', 'e1', 'e2', 'e3', 'e4'], ['e1', 'e4'], ['e4']]);
    expect(accepted.sort()).toEqual(['e0', 'e1', 'e3', 'e4']);
  });

  it('fails PUBLISH_FAILED, retryable, once the attempts are spent', async () => {
    const always = () => [{ index: 0, message: 'throttled', retryable: true }];
    const { sink, calls } = scriptedSink([always, always, always, always]);
    await expect(publishWithRetries(sink, 'orders', events(2), retry)).rejects.toMatchObject({
      code: 'PUBLISH_FAILED',
      retryable: true,
      message: expect.stringContaining('after 3 attempts'),
    });
    expect(calls).toHaveLength(3);
  });

  it('passes on a fault of the sink that retrying cannot help, without retrying', async () => {
    let calls = 0;
    const sink = {
      async publish() {
        calls++;
        throw new DropgateError('CONFIG_INVALID', 'no such topic');
      },
    } as unknown as EventSink;
    await expect(publishWithRetries(sink, 'orders', events(2), retry)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(calls).toBe(1);
  });

  it('stops waiting to retry when the signal is aborted, failing SHUTTING_DOWN', async () => {
    const always = () => [{ index: 0, message: 'throttled', retryable: true }];
    const { sink, calls } = scriptedSink([always, always]);
    const controller = new AbortController();
    const publishing = publishWithRetries(sink, 'orders', events(1), {
      attempts: 5,
      baseDelayMs: 60_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 5);
    await expect(publishing).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retryable: true });
    expect(calls).toHaveLength(1);
  });
});
