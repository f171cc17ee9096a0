/** S3's answers as DropgateErrors: a gone version, a missing object, a fault worth retrying, a setup fault. */
import { DropgateError } from '../../errors.js';

interface S3Failure {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** The HTTP status of an SDK error (HEAD answers carry no error code, only a status). */
export function statusOf(error: unknown): number | undefined {
  return (error as S3Failure | undefined)?.$metadata?.httpStatusCode;
}

function codeOf(error: unknown): string {
  const failure = (error ?? {}) as S3Failure;
  return failure.Code ?? failure.name ?? 'Error';
}

const VERSION_GONE = new Set(['NoSuchVersion', 'PreconditionFailed']);
const SETUP = new Set(['NoSuchBucket', 'PermanentRedirect', 'AuthorizationHeaderMalformed']);
const CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

/**
 * `error` from an S3 call about `key` as a DropgateError. A read of a version that no longer matches
 * (412), that the key never had, or whose key was deleted is OBJECT_VERSION_GONE, as the port has it;
 * another call's missing key is OBJECT_NOT_FOUND; a bucket that does not exist or lives in another region
 * CONFIG_INVALID. Everything else, denied access included, is OBJECT_READ_FAILED, which is retried: once
 * an operator fixes the credentials or grants the permission, the file resumes by itself rather than
 * staying failed until someone replays it.
 */
export function s3Error(error: unknown, context: { bucket: string; key?: string; version?: string }) {
  if (error instanceof DropgateError) return error;
  const code = codeOf(error);
  const status = statusOf(error);
  const where =
    context.key === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.key}`;
  const detail = `${code}${status === undefined ? '' : ` (HTTP ${status})`}`;
  const options = { cause: error, context: { ...context, s3Code: code, status } };
  // A read names a version: whatever made it unreadable (replaced, deleted), that version is gone.
  const pinnedRead = context.version !== undefined;
  const missing = code === 'NoSuchKey' || (status === 404 && !SETUP.has(code));
  if (VERSION_GONE.has(code) || status === 412 || (pinnedRead && (missing || code === 'InvalidArgument'))) {
    return new DropgateError(
      'OBJECT_VERSION_GONE',
      `${where} no longer has version ${context.version ?? '(current)'}: it was replaced or deleted (${detail})`,
      options,
    );
  }
  if (missing) {
    return new DropgateError('OBJECT_NOT_FOUND', `${where} does not exist (${detail})`, options);
  }
  if (SETUP.has(code) || status === 301) {
    return new DropgateError(
      'CONFIG_INVALID',
      `store bucket ${context.bucket} cannot be reached as configured: ${detail}: ${messageOf(error)}; check store.bucket, store.region and store.endpoint`,
      options,
    );
  }
  if (CREDENTIALS.has(code)) {
    return new DropgateError(
      'OBJECT_READ_FAILED',
      `S3 refused the gateway's credentials for ${where} (${detail}): check the AWS credentials it runs with`,
      options,
    );
  }
  if (code === 'AccessDenied' || status === 403) {
    return new DropgateError(
      'OBJECT_READ_FAILED',
      `access to ${where} was denied (${detail}): the gateway's principal needs s3:GetObject, s3:GetObjectVersion and s3:ListBucket on the bucket (without s3:ListBucket, S3 answers 403 for a missing key); a HEAD request is also answered so when S3 does not accept the credentials`,
      options,
    );
  }
  return new DropgateError(
    'OBJECT_READ_FAILED',
    `S3 did not serve ${where}: ${detail}: ${messageOf(error)}`,
    options,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
