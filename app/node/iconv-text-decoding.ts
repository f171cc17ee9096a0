/**
 * Node's TextDecoding: iconv-lite, which maps the single-byte Windows code pages fully (windows-1252's
 * 0x80 is €), where Node 20's own `TextDecoder` drops 0x80-0x9F. It needs `Buffer`, hence Node only.
 */
import iconv from 'iconv-lite';
import type { TextDecoding } from '../../workers/text-decoding.js';

export const iconvTextDecoding: TextDecoding = {
  supports: (label) => iconv.encodingExists(label),
  decoder(label) {
    const decoder = iconv.getDecoder(label, { stripBOM: true });
    return {
      write: (bytes) => decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      end: () => decoder.end() ?? '',
    };
  },
};
