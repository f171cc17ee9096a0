/** The `s3` store's config: its fields, their messages, and the upload method an R2 endpoint needs. */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';
import { createS3ObjectStore } from '../../adapters/object-store/s3/s3-object-store.js';
import { TEST_CREDENTIALS } from '../support/aws-stand-ins.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};
const parseStore = (store: unknown) =>
  parseOrExplain(configFileSchema, { store, datasets: [dataset] }, 'config').store;
const R2 = 'https://0123456789abcdef.r2.cloudflarestorage.com';

describe('store config of type s3', () => {
  it('takes the bucket, region, endpoint, path style and upload method', () => {
    expect(
      parseStore({
        type: 's3',
        bucket: 'acme-uploads',
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: true,
        upload: 'put',
      }),
    ).toEqual({
      type: 's3',
      bucket: 'acme-uploads',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      upload: 'put',
    });
    expect(parseStore({ type: 's3', bucket: 'acme-uploads' })).toEqual({
      type: 's3',
      bucket: 'acme-uploads',
    });
  });

  it('names what is wrong: an unknown type, a missing or malformed bucket, an unknown field, an upload method', () => {
    expect(() => parseStore({ type: 'ftp' })).toThrow('store.type: must be one of: local, gcs, s3, r2');
    expect(() => parseStore({ type: 's3' })).toThrow('store.bucket: is missing (must be a string)');
    expect(() => parseStore({ type: 's3', bucket: 'Acme_Uploads' })).toThrow(
      'store.bucket: must be an S3 bucket name',
    );
    expect(() => parseStore({ type: 's3', bucket: 'acme-uploads', prefix: 'x/' })).toThrow(
      'store: Unrecognized key: "prefix"',
    );
    expect(() => parseStore({ type: 's3', bucket: 'acme-uploads', upload: 'get' })).toThrow('store.upload');
    expect(() => parseStore({ type: 's3', bucket: 'acme-uploads', endpoint: 'ftp://x' })).toThrow(
      'store.endpoint: must be an http(s) URL',
    );
    expect(() => parseStore({ type: 'local', bucket: 'acme-uploads' })).toThrow('Unrecognized key: "bucket"');
  });

  it('runs no intake unless one is chosen, and refuses the local upload intake, which it cannot serve', () => {
    const parse = (config: Record<string, unknown>) =>
      parseOrExplain(configFileSchema, { ...config, datasets: [dataset] }, 'config');
    expect(parse({ store: { type: 's3', bucket: 'acme-uploads' } }).intake).toEqual([]);
    expect(parse({}).intake).toEqual([{ type: 'local-upload', mode: 'background' }]);
    expect(() =>
      parse({ store: { type: 's3', bucket: 'acme-uploads' }, intake: [{ type: 'local-upload' }] }),
    ).toThrow('intake: local-upload receives uploads for the local store only');
  });

  it('refuses a presigned POST with an R2 endpoint, which accepts none', () => {
    expect(() => parseStore({ type: 's3', bucket: 'acme-uploads', endpoint: R2, upload: 'post' })).toThrow(
      'store.upload: R2 accepts no presigned POST: use "upload": "put" with an R2 endpoint',
    );
  });

  it('signs PUT uploads by default for an R2 endpoint, and POST for any other', async () => {
    const request = { key: 'a.csv', maxBytes: 10, contentType: 'text/csv', expiresInSeconds: 60 };
    const common = {
      bucket: 'acme-uploads',
      region: 'auto',
      clientConfig: { credentials: TEST_CREDENTIALS },
    };
    const r2 = await createS3ObjectStore({ ...common, endpoint: R2 });
    const minio = await createS3ObjectStore({
      ...common,
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
    try {
      const signed = await r2.createUploadUrl(request);
      expect(signed.method).toBe('PUT');
      expect(new URL(signed.url).hostname).toBe('acme-uploads.0123456789abcdef.r2.cloudflarestorage.com');
      expect((await minio.createUploadUrl(request)).method).toBe('POST');
    } finally {
      r2.client.destroy();
      minio.client.destroy();
    }
  });
});
