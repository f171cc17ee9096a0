/**
 * A Google Cloud Storage bucket through `@google-cloud/storage`. Versions are generations: every read
 * names the generation it was given, so a key overwritten mid-ingest fails OBJECT_VERSION_GONE instead of
 * mixing two uploads. Uploads are V4 signed `PUT` URLs bound to the key, content type and a size range.
 * Credentials come the Google way: a key file, or Application Default Credentials (on Cloud Run the
 * service account, which signs URLs through IAM `signBlob` as it holds no private key).
 * STORAGE_EMULATOR_HOST points the SDK at a stand-in.
 */
import { Storage, type File, type StorageOptions } from '@google-cloud/storage';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DropgateError, type ErrorCode } from '../../errors.js';
import type { ObjectInfo, ObjectStore, SignedPutUpload } from '../../ports.js';
import { pageLimit } from '../listing.js';
import { assertSafeKey } from '../object-keys.js';

export interface GcsObjectStoreOptions {
  bucket: string;
  /** Defaults to the credentials' project (ADC, the key file). */
  projectId?: string;
  /** A service-account JSON key file; absent: Application Default Credentials. */
  keyFile?: string;
  /** How often the SDK retries an idempotent request that failed retryably (its default: 3). */
  maxRetries?: number;
}

/** SDK object metadata, the fields read here. */
interface ObjectMetadata {
  name?: string;
  generation?: string | number;
  size?: string | number;
  updated?: string;
  contentType?: string;
  contentEncoding?: string;
}

const GENERATION = /^[1-9]\d{0,19}$/;
const SEVEN_DAYS = 7 * 24 * 60 * 60;

export function createGcsObjectStore(options: GcsObjectStoreOptions): ObjectStore {
  const { bucket: bucketName } = options;
  const storageOptions: StorageOptions = {
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.keyFile ? { keyFilename: options.keyFile } : {}),
    // The SDK reads a maxRetries of 0 as unset (its default, 3): no retries means autoRetry off.
    ...(options.maxRetries === undefined
      ? {}
      : {
          retryOptions: options.maxRetries === 0 ? { autoRetry: false } : { maxRetries: options.maxRetries },
        }),
  };
  const bucket = new Storage(storageOptions).bucket(bucketName);

  const infoOf = (metadata: ObjectMetadata): ObjectInfo => ({
    bucket: bucketName,
    key: metadata.name ?? '',
    size: Number(metadata.size ?? 0),
    version: String(metadata.generation),
    updated: metadata.updated ?? new Date(0).toISOString(),
    ...(metadata.contentType ? { contentType: metadata.contentType } : {}),
    ...(metadata.contentEncoding ? { contentEncoding: metadata.contentEncoding } : {}),
  });

  /** The file at `version`; a token that is no generation names nothing this bucket ever held. */
  const pinned = (key: string, version: string): File => {
    if (!GENERATION.test(version)) {
      throw new DropgateError(
        'OBJECT_VERSION_GONE',
        `gs://${bucketName}/${key} has no generation ${version}`,
        {
          context: { bucket: bucketName, key, version },
        },
      );
    }
    return bucket.file(key, { generation: version });
  };

  /**
   * Streams `file` with the bytes as stored (a gzip object stays compressed, as its size and
   * `contentEncoding` say). Resolves once the first bytes (or the end) arrived, so a missing generation
   * rejects here rather than in the middle of a consumer's stream. The SDK's own check is off: its CRC32C
   * in JavaScript ran at a third of the download's speed here; `read` checks the MD5 with native code.
   */
  async function open(file: File, key: string, version: string, range?: { start: number; end: number }) {
    const source: Readable = file.createReadStream({
      decompress: false,
      validation: false,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
    let headers: Record<string, string | undefined> = {};
    source.on('response', (response: { headers?: Record<string, string> }) => {
      headers = response.headers ?? {};
    });
    const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const next = async () => {
      try {
        return await iterator.next();
      } catch (error) {
        throw storeError(error, bucketName, key, version);
      }
    };
    return { first: await next(), next, source, headers: () => headers };
  }

  return {
    bucket: bucketName,
    source: `//storage.googleapis.com/projects/_/buckets/${bucketName}`,

    async stat(key) {
      try {
        const [metadata] = await bucket.file(key).getMetadata();
        return infoOf(metadata as ObjectMetadata);
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw storeError(error, bucketName, key);
      }
    },

    async read(key, version) {
      const { first, next, source, headers } = await open(pinned(key, version), key, version);
      const expected = md5Of(headers());
      const digest = expected === undefined ? undefined : createHash('md5');
      let pending: IteratorResult<Buffer> | undefined = first;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          const result = pending ?? (await next());
          pending = undefined;
          if (!result.done) {
            digest?.update(result.value);
            return controller.enqueue(ownBytes(result.value));
          }
          const actual = digest?.digest('base64');
          if (actual !== expected) {
            throw new DropgateError(
              'OBJECT_READ_FAILED',
              `gs://${bucketName}/${key}#${version} arrived with MD5 ${actual}, not the ${expected} GCS holds`,
              { context: { bucket: bucketName, key, version } },
            );
          }
          controller.close();
        },
        cancel: () => void source.destroy(),
      });
    },

    async readRange(key, version, start, end) {
      const file = pinned(key, version);
      if (end <= start) {
        // No bytes to fetch, but the generation must still exist: a pinned read never succeeds on a gone one.
        try {
          await file.getMetadata();
        } catch (error) {
          throw storeError(error, bucketName, key, version);
        }
        return new Uint8Array(0);
      }
      let opened;
      try {
        // The SDK's `end` is inclusive; a range past the object's end is clamped by GCS.
        opened = await open(file, key, version, { start, end: Math.min(end, Number.MAX_SAFE_INTEGER) - 1 });
      } catch (error) {
        // 416: the range starts at or past the end of an object that does exist at this generation.
        if (error instanceof DropgateError && error.context.status === 416) return new Uint8Array(0);
        throw error;
      }
      const chunks: Buffer[] = [];
      for (let result = opened.first; !result.done; result = await opened.next()) chunks.push(result.value);
      return ownBytes(Buffer.concat(chunks));
    },

    async list(prefix, { cursor, limit } = {}) {
      const maxResults = pageLimit(limit);
      try {
        const [files, nextQuery] = await bucket.getFiles({
          prefix,
          maxResults,
          autoPaginate: false,
          ...(cursor === undefined ? {} : { pageToken: cursor }),
        });
        const objects = files.map((file) =>
          infoOf({ ...(file.metadata as ObjectMetadata), name: file.name }),
        );
        const token = (nextQuery as { pageToken?: string } | null | undefined)?.pageToken;
        return token ? { objects, cursor: token } : { objects };
      } catch (error) {
        if (statusOf(error) === 404) {
          throw new DropgateError('OBJECT_NOT_FOUND', `bucket gs://${bucketName} does not exist`, {
            cause: error,
            context: { bucket: bucketName, prefix },
          });
        }
        throw storeError(error, bucketName, prefix);
      }
    },

    async copy(key, version, toKey) {
      const source = pinned(key, version);
      try {
        // The SDK's copy takes no source precondition: the live generation is checked first, and the
        // copy names the generation, so it copies exactly these bytes (a replaced one, in an unversioned
        // bucket, is gone: 404).
        const [live] = await bucket.file(key).getMetadata();
        if (String((live as ObjectMetadata).generation) !== version) {
          throw new DropgateError(
            'OBJECT_VERSION_GONE',
            `gs://${bucketName}/${key} is no longer generation ${version}: a newer upload replaced it`,
            { context: { bucket: bucketName, key, version } },
          );
        }
        const [copied] = await source.copy(bucket.file(assertSafeKey(toKey)));
        const [metadata] = await copied.getMetadata();
        return infoOf(metadata as ObjectMetadata);
      } catch (error) {
        throw preconditionError(error, bucketName, key, version);
      }
    },

    async delete(key, version) {
      pinned(key, version);
      try {
        await bucket.file(key).delete({ ifGenerationMatch: version });
      } catch (error) {
        throw preconditionError(error, bucketName, key, version);
      }
    },

    async createUploadUrl(request): Promise<SignedPutUpload> {
      const key = assertSafeKey(request.key);
      const { expiresInSeconds, maxBytes } = request;
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > SEVEN_DAYS) {
        throw new DropgateError('BAD_REQUEST', `a V4 signed URL expires in 1 to ${SEVEN_DAYS} seconds`, {
          context: { expiresInSeconds },
        });
      }
      if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
        throw new DropgateError('BAD_REQUEST', 'maxBytes must be a whole number of bytes', {
          context: { maxBytes },
        });
      }
      // Whole seconds: X-Goog-Date has no fraction, and the URL's expiry is that date plus X-Goog-Expires.
      const accessibleAt = Math.floor(Date.now() / 1000) * 1000;
      const expiresAt = accessibleAt + expiresInSeconds * 1000;
      const headers: Record<string, string> = {
        'x-goog-content-length-range': `0,${maxBytes}`,
        ...(request.contentType ? { 'content-type': request.contentType } : {}),
      };
      try {
        const [url] = await bucket.file(key).getSignedUrl({
          version: 'v4',
          action: 'write',
          accessibleAt,
          expires: expiresAt,
          ...(request.contentType ? { contentType: request.contentType } : {}),
          extensionHeaders: { 'x-goog-content-length-range': headers['x-goog-content-length-range']! },
        });
        return { method: 'PUT', url, headers, key, expiresAt: new Date(expiresAt).toISOString() };
      } catch (error) {
        throw signingError(error, bucketName, key);
      }
    },
  };
}

/**
 * The MD5 GCS holds for the bytes as sent (`x-goog-hash`), when it can be checked: composite objects have
 * none, and bytes GCS decompressed on the way (a gzip object served to a client without gzip) differ.
 */
function md5Of(headers: Record<string, string | undefined>): string | undefined {
  const stored = headers['x-goog-stored-content-encoding'];
  const asStored = stored === 'identity' || (stored === 'gzip' && headers['content-encoding'] === 'gzip');
  if (!asStored) return undefined;
  return /(?:^|,)\s*md5=([A-Za-z0-9+/=]+)/.exec(headers['x-goog-hash'] ?? '')?.[1];
}

/**
 * `buffer` as a Uint8Array that owns its memory: a small Node Buffer is a view into a shared pool, which a
 * consumer that transfers the bytes to a thread would detach for every other view.
 */
function ownBytes(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
  }
  return new Uint8Array(buffer);
}

/** The HTTP status of an SDK error (ApiError's `code`), when it has one. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** An SDK failure as the DropgateError a caller can act on; `version` set for reads of a generation. */
function storeError(error: unknown, bucket: string, key: string, version?: string): DropgateError {
  if (error instanceof DropgateError) return error;
  const status = statusOf(error);
  const object = version === undefined ? `gs://${bucket}/${key}` : `gs://${bucket}/${key}#${version}`;
  const context = {
    bucket,
    key,
    ...(version === undefined ? {} : { version }),
    ...(status ? { status } : {}),
  };
  const fail = (code: ErrorCode, message: string) =>
    new DropgateError(code, `${message}: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
      context,
    });
  if (status === 404) {
    return version === undefined
      ? fail('OBJECT_NOT_FOUND', `${object} does not exist`)
      : fail('OBJECT_VERSION_GONE', `${object} is gone (replaced or deleted)`);
  }
  if (status === 412) return fail('CONFLICT', `a precondition on ${object} did not hold`);
  if (status === 401 || status === 403) {
    return fail(
      'FORBIDDEN',
      `the credentials may not read ${object} (they need storage.objects.get and .list)`,
    );
  }
  if (status === 400) return fail('BAD_REQUEST', `GCS refused the request for ${object}`);
  if (status === 416) return fail('BAD_REQUEST', `the range asked of ${object} is past its end`);
  // 408, 429, 5xx, and failures without a status (a reset connection, a checksum mismatch): retry.
  return fail('OBJECT_READ_FAILED', `GCS did not serve ${object}`);
}

/** A failed `ifGenerationMatch` (412) or a missing object (404): the generation is no longer the live one. */
function preconditionError(error: unknown, bucket: string, key: string, version: string): DropgateError {
  const status = statusOf(error);
  if (status === 412 || status === 404) {
    return new DropgateError(
      'OBJECT_VERSION_GONE',
      `gs://${bucket}/${key} is no longer generation ${version} (replaced or deleted)`,
      { cause: error, context: { bucket, key, version, status } },
    );
  }
  return storeError(error, bucket, key, version);
}

/**
 * A failure to sign is the deployment's, not the vendor's: no credentials, or an account IAM does not let
 * sign (CONFIG_INVALID, naming the fix); anything else (IAM unreachable) may pass on a retry.
 */
function signingError(error: unknown, bucket: string, key: string): DropgateError {
  const message = (error as Error)?.message ?? String(error);
  const context = { bucket, key };
  const cannot = `cannot sign an upload URL for gs://${bucket}/${key}: ${message}`;
  if (/default credentials|client_email|private key/i.test(message)) {
    return new DropgateError(
      'CONFIG_INVALID',
      `${cannot} (give the store a keyFile, or run with Application Default Credentials of a service account)`,
      { cause: error, context },
    );
  }
  if (/denied|permission|403/i.test(message)) {
    return new DropgateError(
      'CONFIG_INVALID',
      `${cannot} (without a key file the service account signs through IAM signBlob and needs ` +
        'roles/iam.serviceAccountTokenCreator on itself)',
      { cause: error, context },
    );
  }
  return new DropgateError('INTERNAL', cannot, { cause: error, context });
}
