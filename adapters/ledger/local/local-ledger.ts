/**
 * A ledger in a directory: one JSON document per object version (`versions/`), a per-key index naming the
 * latest version (`keys/`), and a marker per unfinished version (`unfinished/`) so a restart finds what to
 * resume without reading every record. Each document is replaced atomically (write, fsync, rename). Chosen
 * over SQLite because Node 20 has no built-in SQLite and a native module would need compiling on every
 * machine; the workload is a few writes per file, and the documents stay readable by hand.
 *
 * The ledger holds `<directory>/.lock` while open, so no other live process uses the directory: a lease
 * granted before it opened belongs to a process that is gone, and is taken over at once instead of being
 * waited out.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
  Ledger,
  RegisterRequest,
  UnfinishedQuery,
} from '../../ports.js';
import { createKeyedMutex, writeFileAtomic } from '../../local/durable-files.js';
import { lockDirectory } from '../../local/directory-lock.js';
import {
  applyCheckpoint,
  applyFinish,
  applyRenew,
  decideClaim,
  decideRegister,
  isUnfinished,
  type HolderAlive,
} from '../ledger-rules.js';
import { pageOfHistory, planHistory } from '../ledger-history.js';

interface KeyIndex {
  bucket: string;
  key: string;
  latestVersion: string;
}

export interface LocalLedger extends Ledger {
  close(): Promise<void>;
}

/** Per directory, the lease owners this process was granted: its live leases, whichever instance granted them. */
const grantedHere = new Map<string, Set<string>>();

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');

export async function createLocalLedger(options: {
  directory: string;
  now?: () => number;
}): Promise<LocalLedger> {
  const now = options.now ?? Date.now;
  await mkdir(options.directory, { recursive: true });
  const unlock = await lockDirectory(options.directory, '.lock');
  const folders = {
    versions: join(options.directory, 'versions'),
    keys: join(options.directory, 'keys'),
    unfinished: join(options.directory, 'unfinished'),
  };
  await Promise.all(Object.values(folders).map((folder) => mkdir(folder, { recursive: true })));

  // Owners this process was granted a lease on this directory; any other owner's lease is from a process
  // that is gone (this one holds the lock).
  const granted = grantedHere.get(options.directory) ?? new Set<string>();
  grantedHere.set(options.directory, granted);
  const alive: HolderAlive = (owner) => granted.has(owner);
  const withLock = createKeyedMutex();
  /** Markers sort by bucket first, so a page of one bucket's unfinished versions is a range of names. */
  const nameOf = (ref: FileVersionRef) =>
    `${hash(ref.bucket).slice(0, 16)}-${hash(ref.bucket, ref.key, ref.version)}`;
  const versionPath = (ref: FileVersionRef) => join(folders.versions, `${nameOf(ref)}.json`);
  const keyPath = (bucket: string, key: string) => join(folders.keys, `${hash(bucket, key)}.json`);
  const markerPath = (ref: FileVersionRef) => join(folders.unfinished, nameOf(ref));

  /** Writes a changed record, keeping the unfinished marker and the key's index in step with it. */
  async function save(ref: FileVersionRef, existing: FileRecord | undefined, record: FileRecord) {
    // The marker goes first and comes off last: a crash between the two leaves a marker too many (skipped
    // when read), never an unfinished record nobody will find.
    if (isUnfinished(record)) await writeFileAtomic(markerPath(ref), '');
    await writeFileAtomic(versionPath(ref), JSON.stringify(record));
    if (!isUnfinished(record)) await rm(markerPath(ref), { force: true });
    if (!existing) {
      const index: KeyIndex = { bucket: ref.bucket, key: ref.key, latestVersion: ref.version };
      await withLock(keyPath(ref.bucket, ref.key), () =>
        writeFileAtomic(keyPath(ref.bucket, ref.key), JSON.stringify(index)),
      );
    }
  }

  /** Reads the version's record, lets `change` decide, and saves what it returns. */
  function update<T>(
    ref: FileVersionRef,
    change: (existing: FileRecord | undefined) => { record?: FileRecord; result: T },
  ): Promise<T> {
    return withLock(versionPath(ref), async () => {
      const existing = await readJson<FileRecord>(versionPath(ref));
      const { record, result } = change(existing);
      if (record) await save(ref, existing, record);
      return result;
    });
  }

  await migrateKeyDocuments(join(options.directory, 'files'), save);

  return {
    register(ref: FileVersionRef, request: RegisterRequest) {
      return update(ref, (existing) => {
        const result = decideRegister(existing, ref, request, now(), alive);
        return { record: result.changed ? result.record : undefined, result };
      });
    },
    claim(ref: FileVersionRef, request: ClaimRequest) {
      return update(ref, (existing) => {
        const result = decideClaim(existing, ref, request, now(), alive);
        if (result.claimed) granted.add(request.owner);
        return { record: result.claimed ? result.record : undefined, result };
      });
    },
    renew(ref: FileVersionRef, owner: string, leaseMs: number) {
      return update(ref, (existing) => ({
        record: applyRenew(existing, ref, owner, leaseMs, now()),
        result: undefined,
      }));
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
    get: (ref: FileVersionRef) => readJson<FileRecord>(versionPath(ref)),
    async latest(bucket: string, key: string) {
      const index = await readJson<KeyIndex>(keyPath(bucket, key));
      return index && readJson<FileRecord>(versionPath({ bucket, key, version: index.latestVersion }));
    },
    async unfinished(query: UnfinishedQuery) {
      const limit = query.limit ?? 100;
      const prefix = `${hash(query.bucket).slice(0, 16)}-`;
      const names = (await readdir(folders.unfinished))
        .filter((name) => name.startsWith(prefix) && (query.cursor === undefined || name > query.cursor))
        .sort();
      const records: FileRecord[] = [];
      let last: string | undefined;
      for (const name of names) {
        if (records.length === limit) return { records, cursor: last! };
        last = name;
        const record = await readJson<FileRecord>(join(folders.versions, `${name}.json`));
        if (record && isUnfinished(record)) records.push(record);
      }
      return { records };
    },
    /** Reads every record of the bucket for each page: the local ledger keeps no index by time. */
    async history(query: HistoryQuery) {
      const plan = planHistory(query);
      const prefix = `${hash(query.bucket).slice(0, 16)}-`;
      const names = (await readdir(folders.versions)).filter(
        (name) => name.startsWith(prefix) && name.endsWith('.json'),
      );
      const records: FileRecord[] = [];
      // A few reads at a time: a bucket's records may outnumber the open files a process may hold.
      for (let start = 0; start < names.length; start += 64) {
        const batch = names.slice(start, start + 64);
        for (const record of await Promise.all(
          batch.map((name) => readJson<FileRecord>(join(folders.versions, name))),
        )) {
          if (record) records.push(record);
        }
      }
      return pageOfHistory(records, plan);
    },
    close: unlock,
  };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Ledgers written before 2026-12 kept one document per key holding every version; each is split into
 * the per-version layout once, then removed.
 */
async function migrateKeyDocuments(
  folder: string,
  save: (ref: FileVersionRef, existing: FileRecord | undefined, record: FileRecord) => Promise<void>,
) {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    const document = await readJson<{ latestVersion: string; versions: Record<string, FileRecord> }>(
      join(folder, name),
    );
    const versions = Object.values(document?.versions ?? {});
    // The latest version last, so the key's index names it.
    versions.sort(
      (a, b) => Number(a.version === document!.latestVersion) - Number(b.version === document!.latestVersion),
    );
    for (const old of versions) {
      const record: FileRecord = {
        ...old,
        replayRequested: old.replayRequested ?? false,
        via: old.via ?? null,
      };
      await save(record, undefined, record);
    }
    await rm(join(folder, name));
  }
  await rmdir(folder).catch(() => undefined);
}
