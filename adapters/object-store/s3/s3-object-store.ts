/** Object store `s3`: an S3 bucket (or an S3-compatible one: MinIO, R2's S3 API), reads pinned to a version. */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type _Object,
  type GetObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { DropgateError } from '../../errors.js';
import type { ObjectInfo, ObjectStore } from '../../ports.js';
import { pageLimit } from '../listing.js';
import { isR2Endpoint } from '../s3-endpoints.js';
import { assertSafeKey } from '../object-keys.js';
import { s3Error, statusOf } from './s3-errors.js';
import { parseS3ObjectVersion, s3ObjectVersion, type S3VersionPin } from '../s3-object-version.js';
import { createS3UploadSigner, type S3UploadMethod } from './s3-upload-signer.js';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Else the SDK's own (AWS_REGION, the profile). */
  region?: string;
  /** An S3-compatible endpoint; else the SDK's own (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS). */
  endpoint?: string;
  /** Bucket in the path rather than the host name, as MinIO and most stand-ins need. */
  forcePathStyle?: boolean;
  /**
   * `post`: a form whose policy bounds the size; `put`: a bare PUT URL, with no size bound. Default
   * `post`, or `put` for an R2 endpoint, which accepts no POST.
   */
  upload?: S3UploadMethod;
  /** CloudEvents `source`; default the bucket's ARN. */
  source?: string;
  /** Passed to the SDK client as they are (credentials, retries, a request handler). */
  clientConfig?: S3ClientConfig;
}

export interface S3ObjectStore extends ObjectStore {
  readonly client: S3Client;
}

/** Objects looked up at once when a listing needs each one's version id. */
const HEAD_CONCURRENCY = 16;

export async function createS3ObjectStore(options: S3ObjectStoreOptions): Promise<S3ObjectStore> {
  const { bucket } = options;
  const client = new S3Client({
    ...options.clientConfig,
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
    // The default computes and sends checksums nobody asked for: it signs an empty body's checksum into
    // presigned PUTs (real S3 then refuses the upload) and corrupts streamed bodies in s3rver.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.config.region();
  } catch (error) {
    client.destroy();
    throw new DropgateError(
      'CONFIG_INVALID',
      `store: no AWS region for bucket ${bucket}: set store.region or AWS_REGION`,
      { cause: error },
    );
  }
  const method = options.upload ?? (isR2Endpoint(options.endpoint) ? 'put' : 'post');
  const signer = createS3UploadSigner({ client, bucket, method });

  async function head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const answer = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        bucket,
        key,
        size: answer.ContentLength ?? 0,
        version: s3ObjectVersion({ versionId: answer.VersionId, etag: answer.ETag }),
        updated: toSeconds(answer.LastModified),
        ...(answer.ContentType ? { contentType: answer.ContentType } : {}),
        ...(answer.ContentEncoding ? { contentEncoding: answer.ContentEncoding } : {}),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw s3Error(error, { bucket, key });
    }
  }

  /** What `version` pins; OBJECT_VERSION_GONE for a token this store never issued. */
  function pinOf(key: string, version: string): S3VersionPin {
    const pin = parseS3ObjectVersion(version);
    if (!pin) {
      throw new DropgateError(
        'OBJECT_VERSION_GONE',
        `s3://${bucket}/${key} has no version ${JSON.stringify(version)}: not a version this store names`,
        { context: { key, version } },
      );
    }
    return pin;
  }

  /**
   * GetObject of exactly the pinned version: by version id, or with `If-Match` on the ETag so a replaced
   * object fails 412. The answer's own ETag or version id is checked too, because some S3-compatible
   * servers ignore `If-Match` (s3rver does) and would hand over the new bytes.
   */
  async function getPinned(key: string, version: string, range?: string): Promise<GetObjectCommandOutput> {
    const pin = pinOf(key, version);
    const answer = await client.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...('versionId' in pin ? { VersionId: pin.versionId } : { IfMatch: `"${pin.etag}"` }),
        ...(range === undefined ? {} : { Range: range }),
      }),
    );
    const served = 'versionId' in pin ? answer.VersionId : answer.ETag?.replace(/^(W\/)?"|"$/g, '');
    const expected = 'versionId' in pin ? pin.versionId : pin.etag;
    if (served !== undefined && served !== expected) {
      await answer.Body?.transformToWebStream().cancel();
      throw new DropgateError(
        'OBJECT_VERSION_GONE',
        `s3://${bucket}/${key} no longer has version ${version}: the store served ${served} instead`,
        { context: { key, version, served } },
      );
    }
    return answer;
  }

  const gone = (key: string, version: string) =>
    new DropgateError('OBJECT_VERSION_GONE', `s3://${bucket}/${key} is no longer version ${version}`, {
      context: { key, version },
    });

  /**
   * The pin of `version` while it is `key`'s current version. Checked by a HeadObject first because a
   * version id also names a replaced version, and because stand-ins (s3rver) ignore `If-Match`.
   */
  async function currentPin(key: string, version: string): Promise<S3VersionPin> {
    const pin = pinOf(key, version);
    const current = await head(key);
    if (current?.version !== version) throw gone(key, version);
    return pin;
  }

  /** Whether `version` is still what `key` serves: a broken read of a replaced version cannot succeed later. */
  async function stillCurrent(key: string, version: string): Promise<boolean> {
    const pin = parseS3ObjectVersion(version);
    if (!pin || 'versionId' in pin) return true;
    const current = await head(key).catch(() => undefined);
    return current?.version === version;
  }

  /** Whether any object may carry a version id: versioning was ever turned on for the bucket. */
  async function mayHaveVersionIds(): Promise<boolean> {
    try {
      const answer = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
      return answer.Status !== undefined;
    } catch {
      // Without s3:GetBucketVersioning (or on a stand-in without it) every listed object is looked up.
      return true;
    }
  }

  async function describeListed(objects: _Object[]): Promise<ObjectInfo[]> {
    if (!(await mayHaveVersionIds())) {
      return objects.map((object) => ({
        bucket,
        key: object.Key!,
        size: object.Size ?? 0,
        version: s3ObjectVersion({ etag: object.ETag }),
        updated: toSeconds(object.LastModified),
      }));
    }
    // ListObjectsV2 carries no version ids; HeadObject does, exactly as `stat` reports them.
    const described: Array<ObjectInfo | undefined> = new Array(objects.length);
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const index = next++;
        described[index] = await head(objects[index]!.Key!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, objects.length) }, worker));
    // An object deleted since it was listed is left out, as the port allows.
    return described.filter((info): info is ObjectInfo => info !== undefined);
  }

  return {
    bucket,
    client,
    source: options.source ?? `arn:aws:s3:::${bucket}`,
    stat: (key) => head(key),

    async read(key, version) {
      let answer: GetObjectCommandOutput;
      try {
        answer = await getPinned(key, version);
      } catch (error) {
        throw s3Error(error, { bucket, key, version });
      }
      const body = answer.Body?.transformToWebStream() as ReadableStream<Uint8Array> | undefined;
      if (!body) return emptyStream();
      return withReadFaults(body, async (error) =>
        (await stillCurrent(key, version))
          ? s3Error(error, { bucket, key, version })
          : new DropgateError(
              'OBJECT_VERSION_GONE',
              `s3://${bucket}/${key} was replaced while version ${version} was read`,
              { cause: error, context: { key, version } },
            ),
      );
    },

    async readRange(key, version, start, end) {
      pinOf(key, version);
      if (end <= start) return new Uint8Array(0);
      try {
        const answer = await getPinned(key, version, `bytes=${start}-${end - 1}`);
        return (await answer.Body?.transformToByteArray()) ?? new Uint8Array(0);
      } catch (error) {
        // 416: the range starts at or past the end; the version's precondition was checked first.
        if (statusOf(error) === 416) return new Uint8Array(0);
        throw s3Error(error, { bucket, key, version });
      }
    },

    async list(prefix, { cursor, limit } = {}) {
      const size = pageLimit(limit);
      let answer;
      try {
        answer = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            MaxKeys: size,
            ...(cursor === undefined ? {} : { ContinuationToken: cursor }),
          }),
        );
      } catch (error) {
        throw s3Error(error, { bucket });
      }
      const objects = await describeListed(answer.Contents ?? []);
      return answer.IsTruncated && answer.NextContinuationToken
        ? { objects, cursor: answer.NextContinuationToken }
        : { objects };
    },

    async copy(key, version, toKey) {
      const pin = await currentPin(key, version);
      const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      try {
        await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: assertSafeKey(toKey),
            ...('versionId' in pin
              ? { CopySource: `${source}?versionId=${encodeURIComponent(pin.versionId)}` }
              : { CopySource: source, CopySourceIfMatch: `"${pin.etag}"` }),
          }),
        );
      } catch (error) {
        throw statusOf(error) === 412 ? gone(key, version) : s3Error(error, { bucket, key, version });
      }
      const copied = await head(toKey);
      if (!copied)
        throw new DropgateError('INTERNAL', `the copy of s3://${bucket}/${key} at ${toKey} vanished`);
      return copied;
    },

    async delete(key, version) {
      const pin = await currentPin(key, version);
      try {
        // A version id deletes exactly that version; `If-Match` (S3 since 2024) refuses a replaced object.
        await client.send(
          new DeleteObjectCommand({
            Bucket: bucket,
            Key: key,
            ...('versionId' in pin ? { VersionId: pin.versionId } : { IfMatch: `"${pin.etag}"` }),
          }),
        );
      } catch (error) {
        throw statusOf(error) === 412 ? gone(key, version) : s3Error(error, { bucket, key, version });
      }
    },

    createUploadUrl: async (request) => signer.sign({ ...request, key: assertSafeKey(request.key) }),
  };
}

/** HeadObject's time has whole seconds and a listing's has milliseconds: both say it in whole seconds. */
function toSeconds(date: Date | undefined): string {
  const time = date?.getTime() ?? 0;
  return new Date(Math.floor(time / 1000) * 1000).toISOString();
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

/** `body` with a failure mid-stream (a broken connection) turned into a DropgateError by `describe`. */
function withReadFaults(
  body: ReadableStream<Uint8Array>,
  describe: (error: unknown) => Promise<DropgateError>,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(await describe(error));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
