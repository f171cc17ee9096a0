/** Vendor uploads: `POST /v1/uploads` issues a signed URL; `PUT /v1/local-uploads/<key>` receives one. */
import { Hono } from 'hono';
import { z } from 'zod';
import { UPLOAD_PATH } from '../../adapters/object-store/upload-signature.js';
import { DropgateError } from '../../adapters/errors.js';
import type { AppDependencies, AppEnv } from '../app-env.js';
import { jsonBody } from './request-body.js';

const uploadRequest = z
  .object({
    dataset: z.string().min(1),
    filename: z.string().min(1),
    contentType: z.string().min(1).max(200).optional(),
    size: z.number().int().positive().optional(),
  })
  .strict();

export function uploadRoutes({ gateway, auth, receiver }: AppDependencies): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post('/v1/uploads', async (context) => {
    const vendor = await auth.vendorFor(context.req.header('authorization'));
    if (!vendor)
      throw new DropgateError('UNAUTHORIZED', 'a vendor API key is required: Authorization: Bearer <key>');
    const request = await jsonBody(context, uploadRequest);
    const upload = await gateway.createUpload(vendor, request);
    const how =
      upload.method === 'PUT'
        ? { method: upload.method, headers: upload.headers }
        : { method: upload.method, fields: upload.fields, fileField: upload.fileField };
    return context.json(
      {
        objectKey: upload.key,
        uploadUrl: upload.url,
        ...how,
        maxBytes: upload.maxBytes,
        expiresAt: upload.expiresAt,
      },
      201,
    );
  });

  routes.put(`${UPLOAD_PATH}*`, async (context) => {
    if (!receiver) throw new DropgateError('NOT_FOUND', 'this gateway does not receive uploads itself');
    const contentType = context.req.header('content-type') ?? 'application/octet-stream';
    const verdict = await receiver.verifyUpload(new URL(context.req.url), contentType);
    if ('reason' in verdict) throw new DropgateError('FORBIDDEN', `upload refused: ${verdict.reason}`);
    const declared = Number(context.req.header('content-length') ?? Number.NaN);
    if (declared > verdict.maxBytes) {
      throw new DropgateError(
        'PAYLOAD_TOO_LARGE',
        `upload of ${declared} bytes exceeds its limit of ${verdict.maxBytes}`,
      );
    }
    const body =
      context.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    const object = await receiver.receive(verdict.key, body, { maxBytes: verdict.maxBytes, contentType });
    const notified = gateway.notify({
      bucket: object.bucket,
      key: object.key,
      version: object.version,
      kind: 'finalized',
      via: 'local-upload',
    });
    return context.json(
      { objectKey: object.key, version: object.version, size: object.size, ingestion: notified },
      201,
    );
  });

  return routes;
}
