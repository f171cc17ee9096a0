/**
 * The UTF-8 length of a string, as TextEncoder would encode it, counted without encoding: sinks size
 * every message's attributes against their limits, and an encoding per attribute was ~4% of the SQS
 * sink's main thread (bench/README.md). A lone surrogate counts 3, the U+FFFD TextEncoder writes for it.
 * Web APIs only.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    // 2 bytes below U+0800, else 3 (a lone surrogate too), and a surrogate pair 4 for its two units.
    bytes += code < 0x800 ? 1 : 2;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
  }
  return bytes;
}
