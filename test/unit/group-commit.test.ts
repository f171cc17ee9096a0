/** groupCommit: every caller waits for a sync that started after it called, and syncs are shared. */
import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../adapters/local/durable-files.js';

/** A sync whose runs the test finishes by hand, in order. */
function manualSync() {
  const runs: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const sync = () =>
    new Promise<void>((resolve, reject) => {
      runs.push({ resolve, reject });
    });
  return { sync, runs };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function watch(promise: Promise<void>) {
  const state = { done: false, error: undefined as Error | undefined };
  promise.then(
    () => (state.done = true),
    (error: Error) => (state.error = error),
  );
  return state;
}

describe('groupCommit', () => {
  it('starts a sync at once when none runs', async () => {
    const { sync, runs } = manualSync();
    const flush = groupCommit(sync);
    const first = watch(flush());
    expect(runs).toHaveLength(1);
    runs[0]!.resolve();
    await settle();
    expect(first.done).toBe(true);
  });

  it('makes callers that arrive during a sync wait for the next one, which serves them all', async () => {
    const { sync, runs } = manualSync();
    const flush = groupCommit(sync);
    const first = watch(flush());
    const second = watch(flush());
    const third = watch(flush());
    expect(runs).toHaveLength(1);

    runs[0]!.resolve();
    await settle();
    expect(first.done).toBe(true);
    // The first sync may have started before their writes: they wait for one that started after.
    expect(second.done).toBe(false);
    expect(third.done).toBe(false);
    expect(runs).toHaveLength(2);

    runs[1]!.resolve();
    await settle();
    expect(second.done).toBe(true);
    expect(third.done).toBe(true);
    expect(runs).toHaveLength(2);
  });

  it('fails the callers of a failed sync only, and syncs again for the next', async () => {
    const { sync, runs } = manualSync();
    const flush = groupCommit(sync);
    const first = watch(flush());
    const second = watch(flush());
    runs[0]!.reject(new Error('EIO'));
    await settle();
    expect(first.error?.message).toBe('EIO');
    expect(runs).toHaveLength(2);

    runs[1]!.resolve();
    await settle();
    expect(second.done).toBe(true);
    const third = watch(flush());
    expect(runs).toHaveLength(3);
    runs[2]!.resolve();
    await settle();
    expect(third.done).toBe(true);
  });
});
