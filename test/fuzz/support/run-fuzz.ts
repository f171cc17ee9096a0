/**
 * Runs one fuzz property with a fixed seed and prints one comparable line per property
 * (`fuzz csv-sequential: 4000 cases, 0 failures, seed 42`); a failure throws fast-check's report, with
 * the seed, the path and the shrunk counterexample to replay it.
 */
import fc from 'fast-check';

export interface FuzzRun {
  /** Cases to run. */
  cases: number;
  /** Fixed, so that every run tries the same inputs and runs are comparable. */
  seed: number;
  /** What the cases came to (e.g. how many files were rejected), added to the line printed. */
  outcomes?: () => string;
}

export async function runFuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  { cases, seed, outcomes }: FuzzRun,
): Promise<void> {
  const started = performance.now();
  const details = await fc.check(property, { numRuns: cases, seed });
  const failures = details.failed ? 1 : 0;
  const ran = details.failed ? details.numRuns : cases;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const counted = outcomes ? `; ${outcomes()}` : '';
  console.log(`fuzz ${name}: ${ran} cases, ${failures} failures, seed ${seed} (${seconds} s${counted})`);
  if (details.failed) {
    throw new Error(`fuzz ${name} failed\n${fc.defaultReportMessage(details)}`, {
      cause: details.errorInstance,
    });
  }
}

/**
 * `work`, failing with the case's description if it has not settled within `ms`: a hang becomes a
 * failing case (fast-check then reports its seed and path) instead of a stalled suite. Work that never
 * yields to the event loop cannot be interrupted this way; `elapsed` catches it once it does finish.
 */
export async function withinTime<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  try {
    const result = await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
    const elapsed = performance.now() - started;
    if (elapsed > ms) throw new Error(`${what} took ${Math.round(elapsed)} ms, over its ${ms} ms`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}
