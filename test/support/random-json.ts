/**
 * Deterministic random JSON-ish values for EventBytesWriter: strings with escapes, lone surrogates and
 * non-ASCII text, numbers JSON writes its own way, nested objects and arrays. Shared by the unit test and
 * the workerd harness, which checks the same values inside workerd.
 */

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
export function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY_UNITS = [0x00, 0x08, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x2f, 0x5c, 0x7e, 0x7f, 0x80, 0xe9, 0x2028];

function randomString(next: () => number): string {
  const length = Math.floor(next() * 12);
  let text = '';
  for (let index = 0; index < length; index++) {
    const pick = next();
    if (pick < 0.7) text += String.fromCharCode(0x20 + Math.floor(next() * 95));
    else if (pick < 0.85)
      text += String.fromCharCode(TRICKY_UNITS[Math.floor(next() * TRICKY_UNITS.length)]!);
    else if (pick < 0.93) text += '🎉';
    // Lone surrogates, which JSON.stringify escapes.
    else text += String.fromCharCode(next() < 0.5 ? 0xd83c : 0xdf89);
  }
  return text;
}

function randomValue(next: () => number, depth: number): unknown {
  const pick = next();
  if (pick < 0.3) return randomString(next);
  if (pick < 0.45) return Math.floor((next() - 0.5) * 1e6);
  if (pick < 0.55) return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
  if (pick < 0.6)
    return [Number.NaN, Infinity, -Infinity, -0, 1e21, 5e-7, Number.MAX_VALUE][Math.floor(next() * 7)];
  if (pick < 0.68) return next() < 0.5;
  if (pick < 0.75) return null;
  if (pick < 0.78) return undefined;
  if (depth > 2) return 'leaf';
  if (pick < 0.88) return randomObject(next, depth + 1);
  return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
}

export function randomObject(next: () => number, depth = 0): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  const keys = Math.floor(next() * 8);
  for (let index = 0; index < keys; index++) {
    const key = next() < 0.2 ? String(Math.floor(next() * 20)) : randomString(next) || 'k';
    object[key] = randomValue(next, depth);
  }
  return object;
}

/** `count` numbers of every magnitude: decimals with up to 10 places, and floats from 1e-12 to 1e18. */
export function randomNumbers(next: () => number, count: number): number[] {
  const numbers: number[] = [];
  for (let index = 0; index < count; index++) {
    const sign = next() < 0.5 ? -1 : 1;
    numbers.push(
      next() < 0.5
        ? (sign * Math.round(next() * 10 ** Math.floor(next() * 12))) / 10 ** Math.floor(next() * 10)
        : sign * next() * 10 ** (Math.floor(next() * 30) - 12),
    );
  }
  return numbers;
}
