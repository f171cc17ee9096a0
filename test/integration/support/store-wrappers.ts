/** Object stores that behave as a real one can at its worst: slow reads, objects replaced mid-read. */
import { parseS3ObjectVersion, s3ObjectVersion } from '../../../adapters/object-store/s3-object-version.js';
import type { ListOptions, ObjectStore } from '../../../adapters/ports.js';

/** `store` with its reads replaced by `read` and `readRange` where given; everything else passes through. */
function overriding(
  store: ObjectStore,
  reads: Partial<Pick<ObjectStore, 'read' | 'readRange'>>,
): ObjectStore {
  return {
    bucket: store.bucket,
    source: store.source,
    stat: (key) => store.stat(key),
    read: reads.read ?? ((key, version) => store.read(key, version)),
    readRange: reads.readRange ?? ((key, version, start, end) => store.readRange(key, version, start, end)),
    createUploadUrl: (request) => store.createUploadUrl(request),
    list: (prefix, options) => store.list(prefix, options),
    copy: (key, version, toKey) => store.copy(key, version, toKey),
    delete: (key, version) => store.delete(key, version),
  };
}

/** A store whose reads arrive in small chunks with a pause between them, like a slow network read. */
export function withSlowReads(store: ObjectStore, pauseMs: number): ObjectStore {
  return overriding(store, {
    async read(key, version) {
      return (await store.read(key, version)).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, controller) {
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
            controller.enqueue(chunk);
          },
        }),
      );
    },
  });
}

export interface ReadHooks {
  /** Before `read` opens the version. */
  beforeRead?: (key: string) => Promise<void>;
  /** Once the `chunk`-th chunk (1-based) of a `read` is passed on; the stream waits for it. */
  afterChunk?: (key: string, chunk: number) => Promise<void>;
  /** Once the `call`-th `readRange` (1-based, counted over the store's life) has its bytes. */
  afterRange?: (key: string, call: number) => Promise<void>;
}

/** A store that lets a test act at exact points of a read, e.g. replace the object half-way through. */
export function interceptReads(store: ObjectStore, hooks: ReadHooks): ObjectStore {
  let ranges = 0;
  return overriding(store, {
    async read(key, version) {
      await hooks.beforeRead?.(key);
      let chunks = 0;
      return (await store.read(key, version)).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, controller) {
            controller.enqueue(chunk);
            await hooks.afterChunk?.(key, ++chunks);
          },
        }),
      );
    },
    async readRange(key, version, start, end) {
      const bytes = await store.readRange(key, version, start, end);
      await hooks.afterRange?.(key, ++ranges);
      return bytes;
    },
  });
}

/**
 * The memory store naming its versions as the `s3` store names those of an unversioned bucket
 * (`etag:<ETag>`, its own version standing in for the ETag): for tests that send S3 notifications naming
 * an object's ETag, which the intakes turn into the same token. Everything else passes through.
 */
export function withS3VersionTokens<T extends ObjectStore>(store: T): T {
  const raw = (version: string) => {
    const pin = parseS3ObjectVersion(version);
    return pin && 'etag' in pin ? pin.etag : `not-an-etag-token:${version}`;
  };
  return {
    ...store,
    stat: async (key: string) => {
      const info = await store.stat(key);
      return info && { ...info, version: s3ObjectVersion({ etag: info.version }) };
    },
    list: async (prefix: string, options?: ListOptions) => {
      const page = await store.list(prefix, options);
      return {
        ...page,
        objects: page.objects.map((info) => ({ ...info, version: s3ObjectVersion({ etag: info.version }) })),
      };
    },
    read: (key: string, version: string) => store.read(key, raw(version)),
    readRange: (key: string, version: string, start: number, end: number) =>
      store.readRange(key, raw(version), start, end),
  };
}

/** The `s3` store's token for an object whose ETag is `etag`. */
export const etagToken = (etag: string) => s3ObjectVersion({ etag });
