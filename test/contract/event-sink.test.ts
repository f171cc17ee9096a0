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
import {
  createMemoryEventSink,
  type MemoryEventSink,
} from '../../adapters/event-sink/memory/memory-event-sink.js';
import { DropgateError, isDropgateError } from '../../adapters/errors.js';
import { eventOfSize, eventSinkContract, testEvent } from './event-sink-contract.js';
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

const idsAndBodies = (sink: MemoryEventSink) => async (topic: string) =>
  sink.events(topic).map(({ id, body }) => ({ id, body }));

eventSinkContract('memory', async () => {
  const sink = createMemoryEventSink();
  return { sink, published: idsAndBodies(sink) };
});

eventSinkContract('memory, small requests finishing out of order', async () => {
  const sink = createMemoryEventSink({
    maxRequestEvents: 7,
    maxRequestBytes: 16 << 10,
    maxMessageBytes: 4 << 10,
    maxInFlight: 3,
    // Requests take their time, so later ones often finish first.
    inject: () => new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 2)),
  });
  return { sink, published: idsAndBodies(sink) };
});

eventSinkContract('local', async () => {
  const directory = await createTemporaryDirectory('event-sink');
  const sink = await createLocalEventSink({
    directory: join(directory.path, 'events'),
    maxMessageBytes: 64 << 10,
  });
  // The file keeps bodies only; a CloudEvent's id is in its body.
  const published = async (topic: string) =>
    (await linesOf(sink.pathOf(topic))).map((body) => ({
      id: (JSON.parse(body) as { id: string }).id,
      body,
    }));
  return { sink, published, dispose: directory.remove };
});

describe('memory event sink as a fake', () => {
  const events = (count: number, bytes = 200) =>
    Array.from({ length: count }, (_, index) => eventOfSize(`e${index}`, bytes));

  it('keeps ids and attributes of accepted events', async () => {
    const sink = createMemoryEventSink();
    await sink.publish('orders', EncodedEvents.of([testEvent('with-attributes')]));
    expect(sink.events('orders')).toEqual([testEvent('with-attributes')]);
    expect(sink.topics()).toEqual(['orders']);
  });

  it('splits a batch into requests of its limits, by events and by bytes', async () => {
    const sink = createMemoryEventSink({ maxRequestEvents: 10, maxRequestBytes: 2_000 });
    await sink.publish('orders', EncodedEvents.of([...events(25), ...events(3, 900), ...events(1)]));
    expect(sink.requests().map(({ events, bytes }) => [events, bytes])).toEqual([
      [10, 2_000],
      [10, 2_000],
      [6, 1_900],
      [3, 2_000],
    ]);
    expect(sink.events('orders')).toHaveLength(29);
  });

  it('reports the failures a request is given by their index in the whole batch, keeping the rest', async () => {
    const sink = createMemoryEventSink({
      maxRequestEvents: 10,
      // The third request loses its 2nd and 5th events; the fourth is throttled as a whole.
      inject: ({ number }) => {
        if (number === 3) {
          return [
            { index: 1, message: 'too large', retryable: false },
            { index: 4, message: 'throttled', retryable: true },
          ];
        }
        if (number === 4) throw new DropgateError('PUBLISH_FAILED', 'throttled');
      },
    });
    const batch = events(45);
    const { failed } = await sink.publish('orders', EncodedEvents.of(batch));
    const fourth = Array.from({ length: 10 }, (_, index) => ({
      index: 30 + index,
      message: 'throttled',
      retryable: true,
    }));
    expect(failed).toEqual([
      { index: 21, message: 'too large', retryable: false },
      { index: 24, message: 'throttled', retryable: true },
      ...fourth,
    ]);
    const lost = new Set(failed.map(({ index }) => index));
    expect(sink.events('orders')).toEqual(batch.filter((_, index) => !lost.has(index)));
  });

  it('fails the whole publish on a fault retrying cannot help, once its requests in flight are done', async () => {
    let running = 0;
    let finishedAfterFault = 0;
    let faulted = false;
    const sink = createMemoryEventSink({
      maxRequestEvents: 1,
      maxInFlight: 3,
      inject: async ({ number }) => {
        running++;
        await new Promise((resolve) => setTimeout(resolve, number === 2 ? 1 : 10));
        running--;
        if (number === 2) {
          faulted = true;
          throw new DropgateError('CONFIG_INVALID', 'no such topic');
        }
        if (faulted) finishedAfterFault++;
      },
    });
    await expect(sink.publish('orders', EncodedEvents.of(events(20)))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(running).toBe(0);
    // The two requests in flight beside the faulty one finished; no other started.
    expect(finishedAfterFault).toBe(2);
    expect(sink.requests()).toHaveLength(3);
  });

  it('runs at most maxInFlight requests at once', async () => {
    let running = 0;
    let most = 0;
    const sink = createMemoryEventSink({
      maxRequestEvents: 2,
      maxInFlight: 4,
      inject: async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
      },
    });
    expect(sink.capabilities.ordered).toBe(false);
    expect(await sink.publish('orders', EncodedEvents.of(events(40)))).toEqual({ failed: [] });
    expect(most).toBe(4);
    expect(sink.events('orders')).toHaveLength(40);
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
    expect((await readFile(join(events, LOCK), 'utf8')).split(' ')[0]).toBe(String(process.pid));
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
