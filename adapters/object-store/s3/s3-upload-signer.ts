/**
 * Presigned uploads to an S3-compatible bucket, for the S3 store and R2's S3 API alike: a form POST whose
 * signed policy bounds the size (`content-length-range`), the key and the content type, or a PUT URL
 * signed for the key and content type (R2 has no POST policies; a PUT cannot bound the size).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { SignedUpload, UploadUrlRequest } from '../../ports.js';

export type S3UploadMethod = 'post' | 'put';

export interface S3UploadSigner {
  readonly method: S3UploadMethod;
  sign(request: UploadUrlRequest): Promise<SignedUpload>;
}

/**
 * The client must be made with `requestChecksumCalculation: 'WHEN_REQUIRED'`: otherwise the SDK signs a
 * checksum of an empty body into a PUT URL, and S3 refuses the vendor's real body.
 */
export function createS3UploadSigner(options: {
  client: S3Client;
  bucket: string;
  method: S3UploadMethod;
}): S3UploadSigner {
  const { client, bucket, method } = options;
  return {
    method,
    async sign(request) {
      const contentType = request.contentType ?? 'application/octet-stream';
      // Whole seconds, as both signatures state times, and on the client's corrected clock, as
      // createPresignedPost reads it: the SDK sets `systemClockOffset` from each answer's Date header (whole
      // seconds, so up to a second behind), and without it the policy could expire a second before
      // `expiresAt`. So `expiresAt` is never later than S3's expiry.
      const now = Date.now() + (client.config.systemClockOffset ?? 0);
      const signingDate = new Date(Math.floor(now / 1000) * 1000);
      const expiresAt = new Date(signingDate.getTime() + request.expiresInSeconds * 1000).toISOString();
      if (method === 'put') {
        const url = await getSignedUrl(
          client,
          new PutObjectCommand({ Bucket: bucket, Key: request.key, ContentType: contentType }),
          { expiresIn: request.expiresInSeconds, signingDate, signableHeaders: new Set(['content-type']) },
        );
        return { method: 'PUT', url, headers: { 'content-type': contentType }, key: request.key, expiresAt };
      }
      // createPresignedPost adds the exact-key condition itself; the policy expires `Expires` seconds
      // from its own clock reading, which is no earlier than `signingDate`.
      const { url, fields } = await createPresignedPost(client, {
        Bucket: bucket,
        Key: request.key,
        Conditions: [
          ['content-length-range', 0, request.maxBytes],
          ['eq', '$Content-Type', contentType],
        ],
        Fields: { 'Content-Type': contentType },
        Expires: request.expiresInSeconds,
      });
      return { method: 'POST', url, fields, fileField: 'file', key: request.key, expiresAt };
    },
  };
}
