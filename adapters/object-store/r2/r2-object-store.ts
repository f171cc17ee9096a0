/**
 * Object store `r2`: a Cloudflare R2 bucket through its Workers binding, every read pinned to the ETag
 * (`onlyIf: { etagMatches }`), and upload URLs presigned for R2's S3-compatible API with aws4fetch.
 */
import { AwsV4Signer } from 'aws4fetch';
import { DropgateError } from '../../errors.js';
import type { ObjectInfo, ObjectStore, SignedPutUpload, UploadUrlRequest } from '../../ports.js';
import { pageLimit } from '../listing.js';
import { assertSafeKey } from '../object-keys.js';

/** The part of R2's object metadata this store reads. */
export interface R2ObjectLike {
  key: string;
  size: number;
  etag: string;
  uploaded: Date;
  httpMetadata?: { contentType?: string; contentEncoding?: string };
}

export interface R2ObjectBodyLike extends R2ObjectLike {
  body: ReadableStream<Uint8Array>;
}

export interface R2GetOptionsLike {
  onlyIf?: { etagMatches?: string };
  range?: { offset: number; length?: number };
}

/** The R2 bucket binding (`env.BUCKET`), as much of it as this store uses. */
export interface R2BucketBinding {
  head(key: string): Promise<R2ObjectLike | null>;
  get(key: string, options?: R2GetOptionsLike): Promise<R2ObjectBodyLike | R2ObjectLike | null>;
  put(
    key: string,
    value: Uint8Array | string | ReadableStream,
    options?: unknown,
  ): Promise<R2ObjectLike | null>;
  delete(key: string): Promise<void>;
  list(options?: {
    prefix?: string;
    cursor?: string;
    limit?: number;
    include?: Array<'httpMetadata' | 'customMetadata'>;
  }): Promise<{ objects: R2ObjectLike[]; truncated: boolean; cursor?: string }>;
}

export interface R2ObjectStoreOptions {
  binding: R2BucketBinding;
  /** The bucket's name: R2 event notifications name it, and the S3 API addresses it. */
  bucket: string;
  /** R2 API token credentials (S3-compatible), used only to presign upload URLs. */
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The S3 API's origin; default `https://<accountId>.r2.cloudflarestorage.com`. */
  endpoint?: string;
}

/** R2's largest single PUT (the S3 API's PutObject limit): the only size bound a presigned PUT carries. */
export const R2_MAX_PUT_BYTES = 5 * 1024 ** 3 - 5 * 1024 ** 2;

export function createR2ObjectStore(options: R2ObjectStoreOptions): ObjectStore {
  const { binding, bucket } = options;
  const endpoint = (options.endpoint ?? `https://${options.accountId}.r2.cloudflarestorage.com`).replace(
    /\/+$/,
    '',
  );
  /** Sizes by key and ETag, which never change, so a range read needs no `head` after the first. */
  const sizes = new Map<string, number>();
  const remember = (object: R2ObjectLike) => {
    if (sizes.size > 1000) sizes.clear();
    sizes.set(`${object.key}\n${object.etag}`, object.size);
  };

  const infoOf = (object: R2ObjectLike): ObjectInfo => {
    remember(object);
    const { contentType, contentEncoding } = object.httpMetadata ?? {};
    return {
      bucket,
      key: object.key,
      size: object.size,
      version: object.etag,
      updated: object.uploaded.toISOString(),
      ...(contentType ? { contentType } : {}),
      ...(contentEncoding ? { contentEncoding } : {}),
    };
  };

  const gone = (key: string, version: string) =>
    new DropgateError('OBJECT_VERSION_GONE', `${bucket}/${key} is no longer version ${version}`, {
      context: { key, version },
    });

  /** Runs an R2 call, turning a failure of the binding itself into a retryable read fault. */
  async function guarded<T>(what: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof DropgateError) throw error;
      throw new DropgateError(
        'OBJECT_READ_FAILED',
        `R2 ${what} of ${bucket}/${key} failed: ${message(error)}`,
        {
          cause: error,
          context: { key },
        },
      );
    }
  }

  async function getPinned(key: string, version: string, range?: { offset: number; length: number }) {
    const object = await guarded('get', key, () =>
      binding.get(key, { onlyIf: { etagMatches: version }, ...(range ? { range } : {}) }),
    );
    // A failed `onlyIf` gives the current object without a body; a deleted key gives null.
    if (!object || !('body' in object)) throw gone(key, version);
    return object;
  }

  async function sizeOf(key: string, version: string): Promise<number> {
    const known = sizes.get(`${key}\n${version}`);
    if (known !== undefined) return known;
    const object = await guarded('head', key, () => binding.head(key));
    if (!object || object.etag !== version) throw gone(key, version);
    remember(object);
    return object.size;
  }

  return {
    bucket,
    source: `//r2.cloudflarestorage.com/buckets/${bucket}`,

    async stat(key) {
      const object = await guarded('head', key, () => binding.head(assertSafeKey(key)));
      return object ? infoOf(object) : undefined;
    },

    async read(key, version) {
      return (await getPinned(assertSafeKey(key), version)).body;
    },

    async readRange(key, version, start, end) {
      assertSafeKey(key);
      // R2 refuses a range that starts past the end, where the port answers no bytes.
      const size = await sizeOf(key, version);
      const last = Math.min(end, size);
      if (start >= last) return new Uint8Array(0);
      const object = await getPinned(key, version, { offset: start, length: last - start });
      // Read through `body`, which getPinned has looked at: through Miniflare's binding proxy, looking a
      // property up sends the body over, after which the object's own arrayBuffer() finds it used.
      return new Uint8Array(await new Response(object.body).arrayBuffer());
    },

    async copy(key, version, toKey) {
      const object = await getPinned(assertSafeKey(key), version);
      const copied = await guarded('put', toKey, () =>
        binding.put(assertSafeKey(toKey), object.body, {
          ...(object.httpMetadata ? { httpMetadata: object.httpMetadata } : {}),
        }),
      );
      if (!copied) throw new DropgateError('INTERNAL', `R2 put of ${bucket}/${toKey} answered nothing`);
      return infoOf(copied);
    },

    async delete(key, version) {
      // The binding's delete takes no condition: the check and the delete are two calls.
      const object = await guarded('head', key, () => binding.head(assertSafeKey(key)));
      if (!object || object.etag !== version) throw gone(key, version);
      await guarded('delete', key, () => binding.delete(key));
    },

    async list(prefix, { cursor, limit } = {}) {
      const page = await guarded('list', prefix, () =>
        binding.list({
          prefix,
          limit: pageLimit(limit),
          include: ['httpMetadata'],
          ...(cursor === undefined ? {} : { cursor }),
        }),
      );
      const objects = page.objects.map(infoOf);
      return page.truncated && page.cursor ? { objects, cursor: page.cursor } : { objects };
    },

    async createUploadUrl(request: UploadUrlRequest): Promise<SignedPutUpload> {
      const key = assertSafeKey(request.key);
      const url = new URL(`${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
      url.searchParams.set('X-Amz-Expires', String(request.expiresInSeconds));
      const headers: Record<string, string> = request.contentType
        ? { 'content-type': request.contentType }
        : {};
      // The signing instant, in whole seconds as SigV4 carries it, so expiresAt is exactly when R2 refuses.
      const signedAt = Math.floor(Date.now() / 1000) * 1000;
      const signed = await new AwsV4Signer({
        datetime: new Date(signedAt).toISOString().replace(/[:-]|\.\d{3}/g, ''),
        url: url.toString(),
        method: 'PUT',
        headers,
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.secretAccessKey,
        service: 's3',
        region: 'auto',
        signQuery: true,
        // aws4fetch leaves content-type unsigned by default: signed, R2 refuses an upload of another type.
        allHeaders: true,
      }).sign();
      return {
        method: 'PUT',
        url: signed.url.toString(),
        headers,
        key,
        expiresAt: new Date(signedAt + request.expiresInSeconds * 1000).toISOString(),
      };
    },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
