/**
 * A file only ever appended to, written with O_DIRECT where the file system takes it.
 *
 * Why: a buffered write copies every byte into the page cache, and each page it fills is memory the
 * kernel touches for the first time. On the VMs Dropgate is measured on (memory handed back to the host
 * when free), that copy was most of the cost of the local sink: writing 6.25 GB of events in 8 MiB
 * batches took 9-21 s and 6-17 s of kernel CPU buffered, 3.6-3.9 s and 0.2-0.3 s with O_DIRECT
 * (`node` scripts alternating, same disk). The 1 GB CSV bench writes 6.6 GB of events.
 *
 * How: O_DIRECT moves whole, aligned blocks straight from memory to the disk. Appends are staged in a
 * page-aligned buffer (a WebAssembly memory: JS has no other way to align one) behind the bytes of the
 * file's last, partial block; the whole blocks go out with O_DIRECT (rewriting the partial block with
 * the same bytes first), and what is left of the last block with an ordinary write, so the file never
 * holds padding. The kernel keeps the two kinds of write coherent. Where O_DIRECT is refused (at open
 * or at the first write: some file systems, block sizes above 4 KiB) appends are ordinary writes.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { groupCommit } from '../../local/durable-files.js';

export interface AppendFile {
  /** Bytes in the file. */
  readonly size: number;
  /** Whether appends go out with O_DIRECT. */
  readonly direct: boolean;
  /**
   * Appends `bytes` whole or not at all: when a write fails, the file is cut back and the error thrown.
   * Appends run one at a time, in the order they were called.
   */
  append(bytes: Uint8Array): Promise<void>;
  /** Resolves once everything appended before the call is on disk; concurrent callers share a flush. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Direct writes are whole multiples of this, at offsets that are; 4 KiB covers 512 B and 4 KiB sectors. */
const BLOCK = 4096;
/** The staging buffer: appends larger than this go out a buffer at a time. */
const STAGE_BYTES = 1 << 20;
/** Ordinary writes are issued this many bytes at a time, as `FileHandle.appendFile` does. */
const BUFFERED_WRITE_BYTES = 512 << 10;
const WASM_PAGE = 65536;
/** `WebAssembly.Memory`, which the ES and Node type libraries this project uses do not declare. */
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
  }
).WebAssembly.Memory;

/** Opens `path` (which must exist) for appending; `direct: false` never tries O_DIRECT. */
export async function openAppendFile(path: string, options: { direct?: boolean } = {}): Promise<AppendFile> {
  const buffered = await open(path, 'r+');
  let size: number;
  let direct: FileHandle | null = null;
  try {
    size = (await buffered.stat()).size;
    if (options.direct !== false) direct = await openDirect(path);
  } catch (error) {
    await buffered.close();
    throw error;
  }
  const file = new AppendOnlyFile(buffered, direct, size);
  if (direct) await file.loadTail();
  return file;
}

/** How file systems say they do not do O_DIRECT (or not with these sizes and alignments). */
const refusesDirect = (error: unknown) =>
  ['EINVAL', 'EOPNOTSUPP', 'ENOTSUP'].includes((error as NodeJS.ErrnoException).code ?? '');

async function openDirect(path: string): Promise<FileHandle | null> {
  // Not every platform has O_DIRECT (macOS has none), and not every file system accepts it.
  if (constants.O_DIRECT === undefined) return null;
  try {
    return await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (error) {
    if (refusesDirect(error)) return null;
    throw error;
  }
}

class AppendOnlyFile implements AppendFile {
  /** Page-aligned: `stage[0, size % BLOCK)` holds the file's last, partial block. */
  private readonly stage: Uint8Array;
  readonly sync: () => Promise<void>;

  constructor(
    private readonly buffered: FileHandle,
    private directHandle: FileHandle | null,
    private bytes: number,
  ) {
    this.stage = directHandle
      ? new Uint8Array(new WasmMemory({ initial: STAGE_BYTES / WASM_PAGE }).buffer)
      : new Uint8Array(0);
    this.sync = groupCommit(() => this.buffered.datasync());
  }

  get size(): number {
    return this.bytes;
  }

  get direct(): boolean {
    return this.directHandle !== null;
  }

  /** Reads the file's last, partial block into the stage. */
  async loadTail(): Promise<void> {
    const tail = this.bytes % BLOCK;
    if (tail === 0) return;
    const { bytesRead } = await this.buffered.read(this.stage, 0, tail, this.bytes - tail);
    if (bytesRead !== tail) throw new Error(`read ${bytesRead} of the last ${tail} bytes of the file`);
  }

  /** The append running or last run; the next one starts after it. */
  private appending: Promise<void> = Promise.resolve();

  append(bytes: Uint8Array): Promise<void> {
    const run = this.appending.then(() => this.appendNow(bytes));
    this.appending = run.catch(() => undefined);
    return run;
  }

  private async appendNow(bytes: Uint8Array): Promise<void> {
    const size = this.bytes;
    try {
      if (this.directHandle) await this.appendDirect(bytes);
      else await this.appendBuffered(bytes);
    } catch (error) {
      await this.buffered.truncate(size).catch(() => undefined);
      if (this.directHandle && refusesDirect(error)) {
        // O_DIRECT accepted at open but not for writing: append as everyone else does from now on.
        await this.directHandle.close().catch(() => undefined);
        this.directHandle = null;
        await this.appendBuffered(bytes).catch(async (again: unknown) => {
          await this.buffered.truncate(size).catch(() => undefined);
          throw again;
        });
      } else {
        if (this.directHandle) await this.loadTail().catch(() => undefined);
        throw error;
      }
    }
    this.bytes = size + bytes.length;
  }

  private async appendDirect(bytes: Uint8Array): Promise<void> {
    const { stage } = this;
    let tail = this.bytes % BLOCK;
    let position = this.bytes - tail;
    for (let from = 0; from < bytes.length;) {
      const taken = Math.min(STAGE_BYTES - tail, bytes.length - from);
      stage.set(bytes.subarray(from, from + taken), tail);
      from += taken;
      const end = tail + taken;
      const whole = end - (end % BLOCK);
      if (whole > 0) await writeFully(this.directHandle!, stage, 0, whole, position);
      if (end > whole) await writeFully(this.buffered, stage, whole, end - whole, position + whole);
      stage.copyWithin(0, whole, end);
      position += whole;
      tail = end - whole;
    }
  }

  private async appendBuffered(bytes: Uint8Array): Promise<void> {
    for (let from = 0; from < bytes.length; from += BUFFERED_WRITE_BYTES) {
      const length = Math.min(BUFFERED_WRITE_BYTES, bytes.length - from);
      await writeFully(this.buffered, bytes, from, length, this.bytes + from);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.buffered.close(), this.directHandle?.close()]);
  }
}

async function writeFully(
  handle: FileHandle,
  bytes: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < length) {
    const { bytesWritten } = await handle.write(
      bytes,
      offset + written,
      length - written,
      position + written,
    );
    if (bytesWritten === 0) throw new Error(`wrote 0 of ${length - written} bytes`);
    written += bytesWritten;
  }
}
