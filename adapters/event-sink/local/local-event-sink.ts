/**
 * An event sink of append-only NDJSON files, `<directory>/<topic>.ndjson`, one event per line. A batch
 * counts as published only once it is written and fdatasync'd. On open, a torn last line left by a crash
 * (a batch that was never acknowledged) is cut off, so every line in the file is a whole event.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DropgateError } from '../../../workers/errors.js';
import type { EventBatch, EventSink } from '../../ports.js';
import { createKeyedMutex } from '../../node/durable-files.js';

const TOPIC_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export interface LocalEventSink extends EventSink {
  pathOf(topic: string): string;
}

export async function createLocalEventSink(options: { directory: string }): Promise<LocalEventSink> {
  await mkdir(options.directory, { recursive: true });
  const handles = new Map<string, Promise<FileHandle>>();
  const withLock = createKeyedMutex();
  const pathOf = (topic: string) => {
    if (!TOPIC_NAME.test(topic)) {
      throw new DropgateError(
        'CONFIG_INVALID',
        `topic "${topic}" is not a valid local topic name (letters, digits, . _ -)`,
      );
    }
    return join(options.directory, `${topic}.ndjson`);
  };
  const handleFor = (topic: string) => {
    let handle = handles.get(topic);
    if (!handle) {
      handle = openRepaired(pathOf(topic));
      handle.catch(() => handles.delete(topic));
      handles.set(topic, handle);
    }
    return handle;
  };

  return {
    limits: { maxBatchEvents: 10_000, maxBatchBytes: 8 << 20 },
    pathOf,
    async publish(topic: string, events: EventBatch) {
      if (events.length === 0) return { failed: [] };
      const handle = await handleFor(topic);
      const lines = events.ndjson();
      await withLock(topic, async () => {
        await handle.appendFile(lines);
        await handle.datasync();
      });
      return { failed: [] };
    },
    async close() {
      const open = [...handles.values()];
      handles.clear();
      await Promise.all(open.map(async (handle) => (await handle).close()));
    },
  };
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
