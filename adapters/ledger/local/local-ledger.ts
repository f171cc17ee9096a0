/**
 * A ledger in a directory: one JSON document per object key holding all its versions, replaced atomically
 * (write, fsync, rename) on every change. Chosen over SQLite because Node 20 has no built-in SQLite and a
 * native module would need compiling on every machine; the workload is a few writes per batch, which
 * atomic renames handle, and the documents stay readable by hand. One gateway process owns a data dir.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  Ledger,
} from '../../ports.js';
import { createKeyedMutex, writeFileAtomic } from '../../local/durable-files.js';
import { applyCheckpoint, applyFinish, decideClaim, isUnfinished } from '../ledger-rules.js';

interface KeyDocument {
  bucket: string;
  key: string;
  latestVersion: string;
  versions: Record<string, FileRecord>;
}

export async function createLocalLedger(options: { directory: string; now?: () => number }): Promise<Ledger> {
  const now = options.now ?? Date.now;
  const directory = join(options.directory, 'files');
  await mkdir(directory, { recursive: true });
  const withLock = createKeyedMutex();
  const pathOf = (bucket: string, key: string) =>
    join(directory, `${createHash('sha256').update(`${bucket}\n${key}`).digest('hex')}.json`);

  async function load(path: string): Promise<KeyDocument | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as KeyDocument;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Reads the key's document, lets `change` decide, and writes back what it returns. */
  async function update<T>(
    ref: FileVersionRef,
    change: (existing: FileRecord | undefined) => { record?: FileRecord; result: T },
  ): Promise<T> {
    const path = pathOf(ref.bucket, ref.key);
    return withLock(path, async () => {
      const document = (await load(path)) ?? {
        bucket: ref.bucket,
        key: ref.key,
        latestVersion: ref.version,
        versions: {},
      };
      const existing = document.versions[ref.version];
      const { record, result } = change(existing);
      if (record) {
        if (!existing) document.latestVersion = ref.version;
        document.versions[ref.version] = record;
        await writeFileAtomic(path, JSON.stringify(document));
      }
      return result;
    });
  }

  return {
    claim(ref: FileVersionRef, request: ClaimRequest) {
      return update(ref, (existing) => {
        const result = decideClaim(existing, ref, request, now());
        return { record: result.claimed ? result.record : undefined, result };
      });
    },
    checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number) {
      return update(ref, (existing) => ({
        record: applyCheckpoint(existing, ref, owner, checkpoint, leaseMs, now()),
        result: undefined,
      }));
    },
    finish(ref: FileVersionRef, owner: string, outcome: FileOutcome) {
      return update(ref, (existing) => {
        const record = applyFinish(existing, ref, owner, outcome, now());
        return { record, result: record };
      });
    },
    async get(ref: FileVersionRef) {
      return (await load(pathOf(ref.bucket, ref.key)))?.versions[ref.version];
    },
    async latest(bucket: string, key: string) {
      const document = await load(pathOf(bucket, key));
      return document?.versions[document.latestVersion];
    },
    async unfinished() {
      const names = (await readdir(directory)).filter(
        (name) => name.endsWith('.json') && !name.startsWith('.'),
      );
      const documents = await Promise.all(names.map((name) => load(join(directory, name))));
      return documents.flatMap((document) => Object.values(document?.versions ?? {}).filter(isUnfinished));
    },
  };
}
