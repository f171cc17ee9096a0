/**
 * The S3 upload signer's `expiresAt` against the expiry S3 will enforce, when the client's clock offset
 * (which the SDK sets from each answer's whole-second Date header) puts its corrected clock in the second
 * before the machine's.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createS3UploadSigner } from '../../adapters/object-store/s3/s3-upload-signer.js';
import type { SignedPostUpload, SignedPutUpload } from '../../adapters/ports.js';
import { TEST_CREDENTIALS, TEST_REGION } from '../support/aws-stand-ins.js';

const request = {
  key: 'vendors/acme/orders.csv',
  contentType: 'text/csv',
  maxBytes: 5_000,
  expiresInSeconds: 900,
};
// 50 ms into a second; the last answer's Date header said the second before, read 950 ms later.
const NOW = Date.parse('2026-12-03T10:08:34.050Z');
const OFFSET = -900;

function client() {
  const s3 = new S3Client({
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  s3.config.systemClockOffset = OFFSET;
  return s3;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the S3 upload signer', () => {
  it("states a POST's expiry no later than its policy's, on the client's corrected clock", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    const signer = createS3UploadSigner({ client: client(), bucket: 'uploads', method: 'post' });
    const signed = (await signer.sign(request)) as SignedPostUpload;
    const policy = JSON.parse(Buffer.from(signed.fields.Policy!, 'base64').toString('utf8')) as {
      expiration: string;
    };
    expect(policy.expiration).toBe('2026-12-03T10:23:33Z');
    expect(signed.expiresAt).toBe('2026-12-03T10:23:33.000Z');
  });

  it("states a PUT's expiry as its signature's date plus its lifetime, on the client's corrected clock", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    const signer = createS3UploadSigner({ client: client(), bucket: 'uploads', method: 'put' });
    const signed = (await signer.sign(request)) as SignedPutUpload;
    const url = new URL(signed.url);
    expect(url.searchParams.get('X-Amz-Date')).toBe('20261203T100833Z');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(signed.expiresAt).toBe('2026-12-03T10:23:33.000Z');
  });
});
