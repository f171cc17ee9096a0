/**
 * A bucket in a local directory. Uploads land in a temporary file and are renamed into place, so a key
 * always holds a whole object; the version token is the file's inode and nanosecond mtime. A read opens
 * the file once and checks the version on the open descriptor, so it keeps reading the version it
 * pinned even if a new upload replaces the key meanwhile. A listing walks the directory tree in key order,
 * entering only the directories that can hold keys under the prefix and after the cursor.
 */
import { randomUUID } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BigIntStats, Dirent } from 'node:fs';
import { DropgateError } from '../../errors.js';
import type { ObjectInfo, ObjectStore, UploadReceiver } from '../../ports.js';
import { syncDirectory } from '../../local/durable-files.js';
import { compareKeys, pageLimit } from '../listing.js';
import { assertSafeKey, isSafeKey } from '../object-keys.js';
import { createUploadSigner } from '../upload-signature.js';

const CHUNK = 256 * 1024;

export interface LocalObjectStore extends ObjectStore, UploadReceiver {
  pathOf(key: string): string;
}

export interface LocalObjectStoreOptions {
  directory: string;
  /** Where uploads are written before they are renamed into place; same filesystem as `directory`. */
  temporaryDirectory: string;
  bucket?: string;
  /** Public base URL of the gateway, for upload URLs. */
  baseUrl: string;
  signingSecret: string;
}

export async function createLocalObjectStore(options: LocalObjectStoreOptions): Promise<LocalObjectStore> {
  const bucket = options.bucket ?? 'local';
  await mkdir(options.directory, { recursive: true });
  await mkdir(options.temporaryDirectory, { recursive: true });
  const signer = createUploadSigner({ baseUrl: options.baseUrl, secret: options.signingSecret });
  const pathOf = (key: string) => join(options.directory, ...assertSafeKey(key).split('/'));
  const infoOf = (key: string, stats: BigIntStats): ObjectInfo => ({
    bucket,
    key,
    size: Number(stats.size),
    version: `${stats.ino.toString(16)}-${stats.mtimeNs.toString(16)}`,
    updated: new Date(Number(stats.mtimeMs)).toISOString(),
    ...(key.toLowerCase().endsWith('.gz') ? { contentEncoding: 'gzip' } : {}),
  });

  async function openVersion(key: string, version: string): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await open(pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new DropgateError('OBJECT_VERSION_GONE', `${bucket}/${key} no longer exists`, {
        context: { key, version },
      });
    }
    const current = infoOf(key, await handle.stat({ bigint: true })).version;
    if (current !== version) {
      await handle.close();
      throw new DropgateError(
        'OBJECT_VERSION_GONE',
        `${bucket}/${key} was replaced: version ${version} is gone`,
        {
          context: { key, version, current },
        },
      );
    }
    return handle;
  }

  // Real paths, so the temporary directory is recognized inside the bucket however either was spelled.
  const [root, temporaryRoot] = await Promise.all([
    realpath(options.directory),
    realpath(options.temporaryDirectory),
  ]);

  /**
   * The objects below `directory`, whose keys all start with `base`, that start with `prefix` and come
   * after `after`, in key order. A directory sorts as its name and a slash, the prefix of every key in it,
   * so `a-b` comes before the keys of directory `a`, as `-` sorts before `/`. Symbolic links are not
   * followed, whatever they point to, and the temporary directory of uploads is passed over.
   */
  async function* objectsBelow(
    directory: string,
    base: string,
    prefix: string,
    after: string | undefined,
  ): AsyncGenerator<ObjectInfo> {
    let names: Dirent[];
    try {
      names = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw error;
    }
    const entries = names
      .flatMap((entry) => {
        const path = join(directory, entry.name);
        if (entry.isDirectory() && path !== temporaryRoot) {
          return [{ path, key: `${base}${entry.name}/`, isDirectory: true }];
        }
        if (entry.isFile()) {
          return [{ path, key: base + entry.name, isDirectory: false }];
        }
        return [];
      })
      .sort((left, right) => compareKeys(left.key, right.key));
    for (const entry of entries) {
      const afterCursor = after === undefined || compareKeys(entry.key, after) > 0;
      if (entry.isDirectory) {
        const underPrefix = entry.key.startsWith(prefix) || prefix.startsWith(entry.key);
        const holdsLaterKeys = afterCursor || after?.startsWith(entry.key) === true;
        if (underPrefix && holdsLaterKeys) yield* objectsBelow(entry.path, entry.key, prefix, after);
      } else if (afterCursor && entry.key.startsWith(prefix) && isSafeKey(entry.key)) {
        const stats = await lstat(entry.path, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        });
        if (stats?.isFile()) yield infoOf(entry.key, stats);
      }
    }
  }

  const store: LocalObjectStore = {
    bucket,
    source: `//dropgate.local/buckets/${bucket}`,
    pathOf,
    async stat(key) {
      try {
        const stats = await stat(pathOf(key), { bigint: true });
        return stats.isFile() ? infoOf(key, stats) : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async read(key, version) {
      const handle = await openVersion(key, version);
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const buffer = new Uint8Array(CHUNK);
            try {
              const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
              if (bytesRead === 0) {
                await handle.close();
                controller.close();
              } else {
                controller.enqueue(buffer.subarray(0, bytesRead));
              }
            } catch (error) {
              await handle.close().catch(() => undefined);
              throw error;
            }
          },
          cancel: () => handle.close(),
        },
        { highWaterMark: 2 },
      );
    },
    async readRange(key, version, start, end) {
      const handle = await openVersion(key, version);
      try {
        const { size } = await handle.stat();
        const length = Math.max(0, Math.min(end, size) - start);
        const buffer = new Uint8Array(length);
        let offset = 0;
        while (offset < length) {
          const { bytesRead } = await handle.read(buffer, offset, length - offset, start + offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
        }
        return buffer.subarray(0, offset);
      } finally {
        await handle.close();
      }
    },
    async list(prefix, { cursor, limit } = {}) {
      const size = pageLimit(limit);
      const objects: ObjectInfo[] = [];
      // One object past the page tells whether another page follows; returning from the loop ends the walk.
      for await (const object of objectsBelow(root, '', prefix, cursor)) {
        if (objects.length === size) return { objects, cursor: objects[size - 1]!.key };
        objects.push(object);
      }
      return { objects };
    },
    async copy(key, version, toKey) {
      // The read is pinned to the version on its open descriptor; the copy lands whole, as an upload does.
      const bytes = await store.read(key, version);
      return store.receive(toKey, bytes, { maxBytes: Number.POSITIVE_INFINITY, contentType: '' });
    },
    async delete(key, version) {
      // No conditional unlink exists: the file is taken aside by an atomic rename, then checked. A newer
      // upload taken aside by mistake goes back, unless an even newer one has landed since.
      const path = pathOf(key);
      const aside = join(options.temporaryDirectory, `${randomUUID()}.delete`);
      try {
        await rename(path, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        throw new DropgateError('OBJECT_VERSION_GONE', `${bucket}/${key} no longer exists`, {
          context: { key, version },
        });
      }
      const taken = infoOf(key, await stat(aside, { bigint: true })).version;
      if (taken !== version) {
        await link(aside, path).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        await rm(aside, { force: true });
        throw new DropgateError(
          'OBJECT_VERSION_GONE',
          `${bucket}/${key} was replaced: version ${version} is gone`,
          {
            context: { key, version, current: taken },
          },
        );
      }
      await rm(aside, { force: true });
      await syncDirectory(dirname(path));
    },
    createUploadUrl: async (request) => signer.sign({ ...request, key: assertSafeKey(request.key) }),
    async verifyUpload(url, contentType) {
      const result = await signer.verify(url, contentType);
      return 'grant' in result ? { key: result.grant.key, maxBytes: result.grant.maxBytes } : result;
    },
    async receive(key, body, { maxBytes }) {
      const target = pathOf(key);
      const temporary = join(options.temporaryDirectory, `${randomUUID()}.upload`);
      const handle = await open(temporary, 'wx');
      let size = 0;
      try {
        for await (const chunk of body) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            throw new DropgateError('PAYLOAD_TOO_LARGE', `upload exceeds its limit of ${maxBytes} bytes`, {
              context: { key, maxBytes },
            });
          }
          await handle.write(chunk);
        }
        await handle.sync();
      } catch (error) {
        await handle.close();
        await rm(temporary, { force: true });
        throw error;
      }
      await handle.close();
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'ENOTEMPTY') {
          throw new DropgateError(
            'CONFLICT',
            `object key ${key} clashes with an existing key that is its prefix or extension`,
            {
              context: { key },
            },
          );
        }
        throw error;
      }
      await syncDirectory(dirname(target));
      const info = await store.stat(key);
      if (!info) throw new DropgateError('INTERNAL', `upload of ${key} vanished after it was stored`);
      return info;
    },
  };
  return store;
}
