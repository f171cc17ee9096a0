/**
 * How the fault suite reports: one line per case on stdout, `faults: ...`, with the figures a reader
 * compares between runs. The inputs are fixed (generated the same way every run, and any randomness the
 * cases need comes from `seededRandom`), so two runs' lines differ only by what the code under test did.
 */

export function reportFigures(line: string): void {
  console.log(`faults: ${line}`);
}

/** `60000` as `60,000`. */
export const count = (value: number): string => value.toLocaleString('en-US');

/** Milliseconds as seconds with one decimal: `1.4 s`. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** A deterministic stream of numbers in [0, 1) (mulberry32): the same `seed`, the same stream. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
