/** How the s3 store names S3's answers: which are gone versions, setup faults, or worth retrying. */
import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3Error } from '../../adapters/object-store/s3/s3-errors.js';

/** An error shaped as the SDK throws it for an S3 answer of `status` with error code `name`. */
function answer(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} from S3`,
  });
}

const bucket = 'acme-uploads';
const read = { bucket, key: 'a.csv', version: 'etag:abc' };

describe('S3 errors as DropgateErrors', () => {
  it.each([
    ['PreconditionFailed', 412],
    ['NoSuchVersion', 404],
    ['NoSuchKey', 404],
    ['NotFound', 404],
    ['InvalidArgument', 400],
  ])(
    'a pinned read answered %s (%i) is OBJECT_VERSION_GONE: the version cannot come back',
    (name, status) => {
      const error = s3Error(answer(name, status), read);
      expect(error).toMatchObject({ code: 'OBJECT_VERSION_GONE', retryable: false });
      expect(error.message).toContain('s3://acme-uploads/a.csv no longer has version etag:abc');
    },
  );

  it('a missing key outside a pinned read is OBJECT_NOT_FOUND', () => {
    expect(s3Error(answer('NoSuchKey', 404), { bucket, key: 'a.csv' })).toMatchObject({
      code: 'OBJECT_NOT_FOUND',
    });
  });

  it.each([
    ['SlowDown', 503],
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['RequestTimeout', 400],
  ])('%s (%i) is a retryable OBJECT_READ_FAILED', (name, status) => {
    expect(s3Error(answer(name, status), read)).toMatchObject({
      code: 'OBJECT_READ_FAILED',
      retryable: true,
    });
  });

  it('a network failure with no answer at all is a retryable OBJECT_READ_FAILED', () => {
    const error = s3Error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), read);
    expect(error).toMatchObject({ code: 'OBJECT_READ_FAILED', retryable: true });
    expect(error.message).toContain('socket hang up');
  });

  it('access denied names the permissions the gateway needs, and stays retryable until they are granted', () => {
    const error = s3Error(answer('AccessDenied', 403), read);
    expect(error).toMatchObject({ code: 'OBJECT_READ_FAILED', retryable: true });
    expect(error.message).toMatch(/denied.*s3:GetObject, s3:GetObjectVersion and s3:ListBucket/);
  });

  it.each([
    ['NoSuchBucket', 404],
    ['PermanentRedirect', 301],
    ['AuthorizationHeaderMalformed', 400],
  ])('%s is CONFIG_INVALID naming the bucket and the fields to check', (name, status) => {
    const error = s3Error(answer(name, status), read);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
    expect(error.message).toContain('acme-uploads');
    expect(error.message).toContain('store.region');
  });
});
