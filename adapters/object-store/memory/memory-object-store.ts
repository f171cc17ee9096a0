/** An object store in memory, keeping every version: the test double for every store. */
import { DropgateError } from '../../errors.js';
import type { ObjectInfo, ObjectStore, UploadReceiver } from '../../ports.js';
import { compareKeys, pageLimit } from '../listing.js';
import { assertSafeKey } from '../object-keys.js';
import { createUploadSigner } from '../upload-signature.js';

export interface MemoryObjectStore extends ObjectStore, UploadReceiver {
  put(
    key: string,
    bytes: Uint8Array | string,
    options?: { contentType?: string; contentEncoding?: string; updated?: string },
  ): ObjectInfo;
}

interface StoredVersion {
  info: ObjectInfo;
  bytes: Uint8Array;
}

export function createMemoryObjectStore(
  options: { bucket?: string; baseUrl?: string; secret?: string; chunkSize?: number } = {},
): MemoryObjectStore {
  const bucket = options.bucket ?? 'memory';
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const signer = createUploadSigner({
    baseUrl: options.baseUrl ?? 'http://localhost:8787',
    secret: options.secret ?? 'memory-store-secret',
  });
  const versions = new Map<string, StoredVersion>();
  const current = new Map<string, string>();
  let generation = 0;
  const versionOf = (key: string, version: string) => {
    const stored = versions.get(`${key}\n${version}`);
    if (!stored) {
      throw new DropgateError('OBJECT_VERSION_GONE', `${bucket}/${key} has no version ${version}`, {
        context: { key, version },
      });
    }
    return stored;
  };

  /** The stored `version` of `key` while it is the current one; OBJECT_VERSION_GONE otherwise. */
  const currentVersion = (key: string, version: string) => {
    if (current.get(key) !== version) {
      throw new DropgateError('OBJECT_VERSION_GONE', `${bucket}/${key} is no longer version ${version}`, {
        context: { key, version },
      });
    }
    return versionOf(key, version);
  };

  const store: MemoryObjectStore = {
    bucket,
    source: `//dropgate.local/buckets/${bucket}`,
    async stat(key) {
      const version = current.get(key);
      return version === undefined ? undefined : { ...versionOf(key, version).info };
    },
    async read(key, version) {
      const { bytes } = versionOf(key, version);
      let offset = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= bytes.byteLength) return controller.close();
          controller.enqueue(bytes.slice(offset, offset + chunkSize));
          offset += chunkSize;
        },
      });
    },
    async readRange(key, version, start, end) {
      return versionOf(key, version).bytes.slice(start, end);
    },
    async list(prefix, { cursor, limit } = {}) {
      const size = pageLimit(limit);
      const keys = [...current.keys()]
        .filter((key) => key.startsWith(prefix) && (cursor === undefined || compareKeys(key, cursor) > 0))
        .sort(compareKeys);
      const page = keys.slice(0, size);
      const objects = page.map((key) => ({ ...versionOf(key, current.get(key)!).info }));
      return keys.length > size ? { objects, cursor: page[page.length - 1] } : { objects };
    },
    async copy(key, version, toKey) {
      const stored = currentVersion(key, version);
      return store.put(toKey, stored.bytes, {
        ...(stored.info.contentType ? { contentType: stored.info.contentType } : {}),
        ...(stored.info.contentEncoding ? { contentEncoding: stored.info.contentEncoding } : {}),
      });
    },
    async delete(key, version) {
      currentVersion(key, version);
      current.delete(key);
    },
    createUploadUrl: async (request) => signer.sign({ ...request, key: assertSafeKey(request.key) }),
    async verifyUpload(url, contentType) {
      const result = await signer.verify(url, contentType);
      return 'grant' in result ? { key: result.grant.key, maxBytes: result.grant.maxBytes } : result;
    },
    async receive(key, body, { maxBytes, contentType }) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes)
          throw new DropgateError('PAYLOAD_TOO_LARGE', `upload exceeds its limit of ${maxBytes} bytes`);
        chunks.push(chunk);
      }
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return store.put(key, bytes, { contentType });
    },
    put(key, content, putOptions: { contentType?: string; contentEncoding?: string; updated?: string } = {}) {
      assertSafeKey(key);
      // A copy in a plain Uint8Array: a Node Buffer's slice() is a view into a shared pool.
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : new Uint8Array(content);
      const version = String(++generation);
      const info: ObjectInfo = {
        bucket,
        key,
        size: bytes.byteLength,
        version,
        updated: putOptions.updated ?? new Date().toISOString(),
        ...(putOptions.contentType ? { contentType: putOptions.contentType } : {}),
        ...(putOptions.contentEncoding ? { contentEncoding: putOptions.contentEncoding } : {}),
      };
      versions.set(`${key}\n${version}`, { info, bytes });
      current.set(key, version);
      return { ...info };
    },
  };
  return store;
}
