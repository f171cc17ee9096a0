/** Runs the EventSink contract against the memory and local (NDJSON file) sinks, then the file specifics. */
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncodedEvents } from '../../workers/event-batch.js';
import {
  createLocalEventSink,
  type LocalEventSink,
} from '../../adapters/event-sink/local/local-event-sink.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { isDropgateError } from '../../adapters/errors.js';
import { eventSinkContract, testEvent } from './event-sink-contract.js';
import { createTemporaryDirectory, type TemporaryDirectory } from './temporary-directory.js';

const LOCK = '.writer.lock';

/** The lines of an NDJSON file; fails unless every line is whole (ends in a newline) and non-empty. */
async function linesOf(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${path} ends in a partial line`);
  const lines = text.slice(0, -1).split('\n');
  if (lines.some((line) => line === '')) throw new Error(`${path} holds an empty line`);
  return lines;
}

eventSinkContract('memory', async () => {
  const sink = createMemoryEventSink();
  return { sink, published: async (topic) => sink.events(topic).map((event) => event.body) };
});

eventSinkContract('local', async () => {
  const directory = await createTemporaryDirectory('event-sink');
  const sink = await createLocalEventSink({ directory: join(directory.path, 'events') });
  return { sink, published: (topic) => linesOf(sink.pathOf(topic)), dispose: directory.remove };
});

describe('memory event sink as a fake', () => {
  it('keeps ids and attributes of accepted events', async () => {
    const sink = createMemoryEventSink();
    await sink.publish('orders', EncodedEvents.of([testEvent('with-attributes')]));
    expect(sink.events('orders')).toEqual([testEvent('with-attributes')]);
    expect(sink.topics()).toEqual(['orders']);
  });
});

describe('local event sink on disk', () => {
  let directory: TemporaryDirectory;
  let events: string;
  let sinks: LocalEventSink[];
  beforeEach(async () => {
    directory = await createTemporaryDirectory('event-sink');
    events = join(directory.path, 'events');
    sinks = [];
  });
  afterEach(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    await directory.remove();
  });
  const open = async () => {
    const sink = await createLocalEventSink({ directory: events });
    sinks.push(sink);
    return sink;
  };
  /** The directory's files but the lock the open sink holds. */
  const topicFiles = async () => (await readdir(events)).filter((name) => name !== LOCK);

  it('writes one event body per line to <directory>/<topic>.ndjson', async () => {
    const sink = await open();
    await sink.publish('orders.dead-letter', EncodedEvents.of([testEvent('a'), testEvent('b')]));
    expect(sink.pathOf('orders.dead-letter')).toBe(join(events, 'orders.dead-letter.ndjson'));
    expect(await readFile(sink.pathOf('orders.dead-letter'), 'utf8')).toBe(
      `${testEvent('a').body}\n${testEvent('b').body}\n`,
    );
  });

  it('creates no file for an empty batch', async () => {
    const sink = await open();
    await sink.publish('orders', EncodedEvents.of([]));
    expect(await topicFiles()).toEqual([]);
  });

  it('never interleaves the lines of concurrent batches', async () => {
    const sink = await open();
    const padding = 'y'.repeat(100_000);
    const batches = Array.from({ length: 12 }, (_, batch) =>
      Array.from({ length: 10 }, (_, index) => testEvent(`b${batch}-e${index}`, { batch, index, padding })),
    );
    await Promise.all(batches.map((batch) => sink.publish('orders', EncodedEvents.of(batch))));

    const lines = await linesOf(sink.pathOf('orders'));
    expect(lines).toHaveLength(120);
    const parsed = lines.map((line) => JSON.parse(line) as { data: { batch: number; index: number } });
    for (let start = 0; start < parsed.length; start += 10) {
      const run = parsed.slice(start, start + 10).map(({ data }) => [data.batch, data.index]);
      const batch = run[0]?.[0];
      expect(run).toEqual(Array.from({ length: 10 }, (_, index) => [batch, index]));
    }
    expect(new Set(parsed.map((event) => event.data.batch)).size).toBe(12);
  });

  it.each(['../escape', 'nested/topic', '', '.hidden', 'with space', 'x'.repeat(256), 'new\nline'])(
    'rejects the topic name %j and writes nothing',
    async (topic) => {
      const sink = await open();
      const result = await sink.publish(topic, EncodedEvents.of([testEvent('a')])).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isDropgateError(result)).toBe(true);
      expect(await topicFiles()).toEqual([]);
      expect((await readdir(directory.path)).sort()).toEqual(['events']);
    },
  );

  it('refuses a directory another live process writes, naming it', async () => {
    await mkdir(events, { recursive: true });
    // The parent of this process: alive, and not this process.
    await writeFile(join(events, LOCK), String(process.ppid));
    await expect(open()).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(`pid ${process.ppid}`),
    });
  });

  it('takes over a lock left by a process that is gone, and lets go of it on close', async () => {
    await mkdir(events, { recursive: true });
    const gone = spawnSync(process.execPath, ['--version']).pid;
    await writeFile(join(events, LOCK), String(gone));
    const sink = await createLocalEventSink({ directory: events });
    expect(await readFile(join(events, LOCK), 'utf8')).toBe(String(process.pid));
    await sink.publish('orders', EncodedEvents.of([testEvent('a')]));
    await sink.close();
    expect(await readdir(events)).toEqual(['orders.ndjson']);
    // Free again for the next process.
    await open();
  });

  it('cuts a torn last line on open, so later publishes produce only whole lines', async () => {
    await mkdir(events, { recursive: true });
    const whole = `${testEvent('kept-1').body}\n${testEvent('kept-2').body}\n`;
    await writeFile(join(events, 'orders.ndjson'), whole);
    await appendFile(join(events, 'orders.ndjson'), testEvent('torn').body.slice(0, 37));

    const sink = await open();
    await sink.publish('orders', EncodedEvents.of([testEvent('after-1'), testEvent('after-2')]));
    expect(await linesOf(sink.pathOf('orders'))).toEqual(
      ['kept-1', 'kept-2', 'after-1', 'after-2'].map((id) => testEvent(id).body),
    );
  });

  it('cuts a file that is one torn line down to nothing', async () => {
    await mkdir(events, { recursive: true });
    await writeFile(join(events, 'orders.ndjson'), '{"specversion":"1.0","id":"to');

    const sink = await open();
    await sink.publish('orders', EncodedEvents.of([testEvent('first')]));
    expect(await readFile(sink.pathOf('orders'), 'utf8')).toBe(`${testEvent('first').body}\n`);
  });

  it('cuts a torn line longer than the repair read window', async () => {
    await mkdir(events, { recursive: true });
    const whole = `${testEvent('kept').body}\n`;
    await writeFile(join(events, 'orders.ndjson'), whole + 'z'.repeat(3 * 1024 * 1024 + 17));

    const sink = await open();
    await sink.publish('orders', EncodedEvents.of([testEvent('after')]));
    expect(await readFile(sink.pathOf('orders'), 'utf8')).toBe(`${whole}${testEvent('after').body}\n`);
  });

  it('leaves a file of whole lines untouched on open', async () => {
    await mkdir(events, { recursive: true });
    const whole = `${testEvent('one').body}\n${testEvent('two').body}\n`;
    await writeFile(join(events, 'orders.ndjson'), whole);

    const sink = await open();
    await sink.publish('orders', EncodedEvents.of([testEvent('three')]));
    expect(await readFile(sink.pathOf('orders'), 'utf8')).toBe(`${whole}${testEvent('three').body}\n`);
  });

  it('keeps accepted events across closing and reopening the sink', async () => {
    const first = await open();
    await first.publish('orders', EncodedEvents.of([testEvent('before-1'), testEvent('before-2')]));
    await first.publish('audit', EncodedEvents.of([testEvent('audit-1')]));
    await first.close();

    const second = await open();
    expect(await linesOf(second.pathOf('orders'))).toEqual(
      ['before-1', 'before-2'].map((id) => testEvent(id).body),
    );
    await second.publish('orders', EncodedEvents.of([testEvent('after')]));
    expect(await linesOf(second.pathOf('orders'))).toEqual(
      ['before-1', 'before-2', 'after'].map((id) => testEvent(id).body),
    );
    expect(await linesOf(second.pathOf('audit'))).toEqual([testEvent('audit-1').body]);
  });
});
