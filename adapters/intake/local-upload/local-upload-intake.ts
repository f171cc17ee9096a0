/**
 * Intake `local-upload`: the signed `PUT /v1/local-uploads/<key>` a store that receives uploads itself
 * (local directory, memory) serves. The body is stored whole or not at all; the landing it yields is
 * recorded in the ledger before the 201 goes out, so an acknowledged upload is never lost.
 */
import { DropgateError } from '../../errors.js';
import type { HttpIntake, IntakeMode, UploadReceiver } from '../../ports.js';
import { UPLOAD_PATH } from '../../object-store/upload-signature.js';

export function createLocalUploadIntake(options: {
  receiver: UploadReceiver;
  mode?: IntakeMode;
}): HttpIntake {
  const { receiver } = options;
  return {
    type: 'local-upload',
    method: 'PUT',
    path: `${UPLOAD_PATH}*`,
    mode: options.mode ?? 'background',
    async receive(request) {
      const contentType = request.headers.get('content-type') ?? 'application/octet-stream';
      const verdict = await receiver.verifyUpload(new URL(request.url), contentType);
      if ('reason' in verdict) throw new DropgateError('FORBIDDEN', `upload refused: ${verdict.reason}`);
      const declared = Number(request.headers.get('content-length') ?? Number.NaN);
      if (declared > verdict.maxBytes) {
        throw new DropgateError(
          'PAYLOAD_TOO_LARGE',
          `upload of ${declared} bytes exceeds its limit of ${verdict.maxBytes}`,
        );
      }
      const body = exactBody(request.body, Number.isSafeInteger(declared) ? declared : undefined);
      const object = await receiver.receive(verdict.key, body, { maxBytes: verdict.maxBytes, contentType });
      return {
        landings: [
          {
            bucket: object.bucket,
            key: object.key,
            version: object.version,
            kind: 'finalized',
            via: 'local-upload',
            eventTime: object.updated,
          },
        ],
        reply: { objectKey: object.key, version: object.version, size: object.size },
      };
    },
    respond(result, outcomes) {
      return Response.json({ ...result.reply, ingestion: outcomes[0]?.status ?? 'ignored' }, { status: 201 });
    },
  };
}

/**
 * The request body, failing with BAD_REQUEST (the client's fault, not a server error) when the connection
 * breaks mid-body or when fewer or more bytes arrive than `Content-Length` declared: an upload is stored
 * only when exactly the declared body arrived.
 */
function exactBody(
  body: ReadableStream<Uint8Array> | null,
  declared: number | undefined,
): ReadableStream<Uint8Array> {
  const reader = body?.getReader();
  let received = 0;
  const incomplete = (detail: string) =>
    new DropgateError('BAD_REQUEST', `the upload body is incomplete: ${detail}; nothing was stored`, {
      context: { declared, received },
    });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
      try {
        chunk = reader ? await reader.read() : { done: true, value: undefined };
      } catch (error) {
        throw incomplete(`the connection broke after ${received} bytes (${(error as Error).message})`);
      }
      if (chunk.done) {
        if (declared !== undefined && received !== declared) {
          throw incomplete(`${received} of the ${declared} bytes declared in Content-Length arrived`);
        }
        controller.close();
        return;
      }
      received += chunk.value.byteLength;
      if (declared !== undefined && received > declared) {
        throw incomplete(`more than the ${declared} bytes declared in Content-Length arrived`);
      }
      controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader?.cancel(reason),
  });
}
