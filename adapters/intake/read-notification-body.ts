/** A notification's body, read whole up to a bound: notifications are small, a larger body is not one. */
import { DropgateError } from '../errors.js';

/** Largest notification body read, in bytes: an object resource is a few KB (custom metadata at most 8 KiB). */
export const NOTIFICATION_BODY_LIMIT = 256 * 1024;

/** The body as UTF-8 text; PAYLOAD_TOO_LARGE past `limit` bytes, BAD_REQUEST when it is not UTF-8. */
export async function readNotificationBody(
  request: Request,
  limit = NOTIFICATION_BODY_LIMIT,
): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () =>
    new DropgateError('PAYLOAD_TOO_LARGE', `a notification body is at most ${limit} bytes; this is not one`);
  if (declared > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DropgateError('BAD_REQUEST', 'the notification body is not UTF-8 text');
  }
}
