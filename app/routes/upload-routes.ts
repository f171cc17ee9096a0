/** Vendor uploads: `POST /v1/uploads` issues a signed URL (the upload itself goes to the store, or to an intake). */
import { Hono } from 'hono';
import { z } from 'zod';
import { DropgateError } from '../../adapters/errors.js';
import type { AppDependencies, AppEnv } from '../app-env.js';
import { jsonBody } from './request-body.js';

// RFC 9110 media type: type "/" subtype, then `; name=value` parameters (token or quoted string), no CR/LF.
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE = new RegExp(
  `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*$`,
);

const uploadRequest = z
  .object({
    dataset: z.string().min(1),
    filename: z.string().min(1),
    contentType: z
      .string()
      .max(200)
      .regex(MEDIA_TYPE, 'must be a media type such as text/csv or text/csv; charset=utf-8')
      .optional(),
    size: z.number().int().positive().optional(),
    schemaVersion: z.number().int().positive().optional(),
  })
  .strict();

export function uploadRoutes({ gateway, auth }: AppDependencies): Hono<AppEnv> {
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

  return routes;
}
