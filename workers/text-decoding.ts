/**
 * The port through which the core decodes text in encodings other than UTF-8, and its Web implementation.
 * UTF-8 is built into the core (decode.ts); each runtime injects what decodes the rest: iconv-lite on Node
 * (app/node/iconv-text-decoding.ts), the runtime's own `TextDecoder` on Workers.
 */

/** Decodes the encodings a runtime knows; the same labels are accepted by config and decoded at ingestion. */
export interface TextDecoding {
  /** Whether `label` (any case) names an encoding this runtime decodes; config rejects the others. */
  supports(label: string): boolean;
  /** A fresh decoder for one file in an encoding `supports` accepts. */
  decoder(label: string): ChunkDecoder;
}

/** Decodes one file's bytes chunk by chunk; never throws on bad bytes (they become U+FFFD). */
export interface ChunkDecoder {
  /** The text of `bytes`, after a leading byte-order mark of the file; bytes of a character cut at the end wait for the next chunk. */
  write(bytes: Uint8Array): string;
  /** The text of the bytes still waiting, at the end of the file. */
  end(): string;
}

/**
 * The runtime's `TextDecoder` (WHATWG Encoding labels). Correct on workerd, whose tables are complete:
 * windows-1252's 0x80 is €. Not for Node 20, whose `TextDecoder` drops windows-1252's 0x80-0x9F.
 * WHATWG maps `iso-8859-1`, `latin1` and `ascii` to windows-1252, where iconv-lite keeps 0x80-0x9F as
 * C1 controls: the two differ on those bytes only.
 */
export const webTextDecoding: TextDecoding = {
  supports(label) {
    try {
      new TextDecoder(label);
      return true;
    } catch {
      return false;
    }
  },
  decoder(label) {
    const decoder = new TextDecoder(label);
    return {
      write: (bytes) => decoder.decode(bytes, { stream: true }),
      end: () => decoder.decode(),
    };
  },
};
