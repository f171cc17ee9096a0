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
      const body =
        request.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
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
