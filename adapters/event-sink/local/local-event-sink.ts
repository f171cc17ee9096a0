/**
 * An event sink of append-only NDJSON files, `<directory>/<topic>.ndjson`, one event per line. A batch
 * counts as published only once it is written and fdatasync'd. Writes to a topic go one at a time, so
 * batches never interleave; syncs are shared (group commit), so a batch is written while the one before
 * it is being flushed. A write that fails part way is cut off again, and on open a torn last line left by
 * a crash (a batch that was never acknowledged) is cut off, so every line in the file is a whole event.
 * Appends go past the page cache where the file system allows it (append-file.ts), each at the offset
 * the sink knows its file ends at, so one process at a time may write a directory: the sink holds
 * `<directory>/.writer.lock` (its process id) while open, and refuses a directory another live process
 * holds.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { lockDirectory } from '../../local/directory-lock.js';
import { join } from 'node:path';
import { DropgateError } from '../../errors.js';
import type { EventBatch, EventSink, PublishFailure } from '../../ports.js';
import { openAppendFile, type AppendFile } from './append-file.js';

const TOPIC_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export interface LocalEventSink extends EventSink {
  pathOf(topic: string): string;
}

/**
 * Far above any event the parsers make: a file has no limit of its own, but a line this long is a
 * mistake, not data.
 */
const DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

export async function createLocalEventSink(options: {
  directory: string;
  /** Largest event accepted, in bytes (default 64 MiB). */
  maxMessageBytes?: number;
}): Promise<LocalEventSink> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  await mkdir(options.directory, { recursive: true });
  const unlock = await lockDirectory(options.directory, '.writer.lock');
  const files = new Map<string, Promise<AppendFile>>();
  const pathOf = (topic: string) => {
    if (!TOPIC_NAME.test(topic)) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `topic "${topic}" is not a valid local topic name (letters, digits, . _ -)`,
      );
    }
    return join(options.directory, `${topic}.ndjson`);
  };
  const fileFor = (topic: string) => {
    let file = files.get(topic);
    if (!file) {
      file = openTopicFile(pathOf(topic));
      file.catch(() => files.delete(topic));
      files.set(topic, file);
    }
    return file;
  };

  return {
    // One append per publish, in the order of the calls: a file has no request limit to split by.
    capabilities: { ordered: true, maxMessageBytes },
    pathOf,
    async publish(topic: string, events: EventBatch) {
      if (events.length === 0) return { failed: [] };
      const file = await fileFor(topic);
      const { lines, failed } = withoutOversize(events, maxMessageBytes);
      if (lines.byteLength > 0) {
        await file.append(lines);
        await file.sync();
      }
      return { failed };
    },
    async close() {
      const open = [...files.values()];
      files.clear();
      await Promise.all(open.map(async (file) => (await file).close()));
      await unlock();
    },
  };
}

/**
 * The batch's NDJSON without the events larger than `maxMessageBytes`, which are reported failed. Only
 * a batch larger than that can hold one, so a batch of the pipeline's blocks is never looked into.
 */
function withoutOversize(
  events: EventBatch,
  maxMessageBytes: number,
): { lines: Uint8Array; failed: PublishFailure[] } {
  const whole = events.ndjson();
  if (whole.byteLength <= maxMessageBytes) return { lines: whole, failed: [] };
  const kept: Uint8Array[] = [];
  const failed: PublishFailure[] = [];
  let from = 0;
  const keep = (to: number) => {
    if (to > from) kept.push(events.slice(from, to).ndjson());
  };
  for (let index = 0; index < events.length; index++) {
    const size = events.body(index).byteLength;
    if (size <= maxMessageBytes) continue;
    keep(index);
    failed.push({
      index,
      message: `event of ${size} bytes is larger than the ${maxMessageBytes} bytes the sink accepts`,
      retryable: false,
    });
    from = index + 1;
  }
  keep(events.length);
  return { lines: Buffer.concat(kept), failed };
}

/** Opens a topic's file for appending, first cutting off a torn last line. */
async function openTopicFile(path: string): Promise<AppendFile> {
  await (await openRepaired(path)).close();
  return openAppendFile(path);
}

async function openRepaired(path: string): Promise<FileHandle> {
  const handle = await open(path, 'a+');
  const { size } = await handle.stat();
  if (size === 0) return handle;
  const tail = new Uint8Array(Math.min(size, 1 << 20));
  let end = size;
  // Walk back to the last newline; everything after it is a batch that was never acknowledged.
  while (end > 0) {
    const start = Math.max(0, end - tail.length);
    const { bytesRead } = await handle.read(tail, 0, end - start, start);
    const newline = tail.subarray(0, bytesRead).lastIndexOf(10);
    if (newline !== -1) {
      end = start + newline + 1;
      break;
    }
    end = start;
  }
  if (end !== size) {
    await handle.truncate(end);
    await handle.sync();
  }
  return handle;
}
