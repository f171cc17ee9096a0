/**
 * The contract every EventSink must pass, whatever its destination: each event of a batch is accepted
 * exactly as serialized or reported failed by its index in the whole batch, an event larger than the
 * sink's `maxMessageBytes` is refused for good and the rest accepted, a batch far larger than any one
 * request loses nothing, topics stay apart, and concurrent batches lose nothing. Order is only checked
 * of a sink whose capabilities say it keeps it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncodedEvents } from '../../workers/event-batch.js';
import type { EventSink, OutgoingEvent } from '../../adapters/ports.js';

export interface EventSinkSubject {
  sink: EventSink;
  /** The events accepted on `topic` so far, in the order the destination holds them. */
  published(topic: string): Promise<Array<{ id: string; body: string }>>;
  dispose?: () => Promise<void>;
}

/** A CloudEvents-like event whose body is serialized once, as the pipeline does. */
export function testEvent(id: string, data: Record<string, unknown> = {}): OutgoingEvent {
  const body = JSON.stringify({
    specversion: '1.0',
    id,
    source: '//dropgate.local/buckets/contract',
    type: 'OrderReceived',
    data: { id, ...data },
  });
  return { id, body, attributes: { dataset: 'orders' } };
}

/** A test event whose body is exactly `bytes` bytes of UTF-8. */
export function eventOfSize(id: string, bytes: number): OutgoingEvent {
  const event = testEvent(id, { padding: '' });
  const body = event.body.replace('"padding":""', `"padding":"${'p'.repeat(bytes - event.body.length)}"`);
  return { ...event, body };
}

const byBody = (left: { body: string }, right: { body: string }) =>
  left.body < right.body ? -1 : left.body > right.body ? 1 : 0;

export function eventSinkContract(name: string, factory: () => Promise<EventSinkSubject>) {
  describe(`EventSink contract: ${name}`, () => {
    let subject: EventSinkSubject;
    let sink: EventSink;

    beforeEach(async () => {
      subject = await factory();
      sink = subject.sink;
    });
    afterEach(async () => {
      await sink.close();
      await subject.dispose?.();
    });

    /**
     * That `topic` holds exactly `events`, ids and bodies: in this order when the sink keeps order, in
     * any order otherwise.
     */
    async function expectPublished(topic: string, events: OutgoingEvent[]) {
      const expected = events.map(({ id, body }) => ({ id, body }));
      const published = await subject.published(topic);
      if (sink.capabilities.ordered) expect(published).toEqual(expected);
      else expect([...published].sort(byBody)).toEqual([...expected].sort(byBody));
    }

    it('states what a caller may rely on', () => {
      expect(typeof sink.capabilities.ordered).toBe('boolean');
      expect(sink.capabilities.maxMessageBytes).toBeGreaterThanOrEqual(1024);
    });

    it('accepts every event of a batch, ids and bodies intact', async () => {
      const events = Array.from({ length: 25 }, (_, index) => testEvent(`event-${index}`, { index }));
      expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
      await expectPublished('orders', events);
    });

    it('keeps the events of later batches too', async () => {
      const first = [testEvent('a'), testEvent('b')];
      const second = [testEvent('c')];
      const third = [testEvent('d'), testEvent('e'), testEvent('f')];
      for (const batch of [first, second, third]) await sink.publish('orders', EncodedEvents.of(batch));
      await expectPublished('orders', [...first, ...second, ...third]);
    });

    it('keeps a body exactly as serialized: escapes, unicode and all', async () => {
      const body = '{"id":"u","data":{"name":"Zoë \\"Z\\" Ünal","note":"tab\\tand\\u2028sep","emoji":"📦"}}';
      await sink.publish('orders', EncodedEvents.of([{ id: 'u', body }]));
      expect(await subject.published('orders')).toEqual([{ id: 'u', body }]);
    });

    it('accepts the same event twice, as at-least-once delivery allows', async () => {
      const event = testEvent('same');
      await sink.publish('orders', EncodedEvents.of([event]));
      await sink.publish('orders', EncodedEvents.of([event]));
      await expectPublished('orders', [event, event]);
    });

    it('treats an empty batch as a no-op', async () => {
      expect(await sink.publish('orders', EncodedEvents.of([]))).toEqual({ failed: [] });
      expect(await subject.published('orders')).toEqual([]);
      await sink.publish('orders', EncodedEvents.of([testEvent('only')]));
      await sink.publish('orders', EncodedEvents.of([]));
      await expectPublished('orders', [testEvent('only')]);
    });

    it('keeps topics apart', async () => {
      await sink.publish('orders', EncodedEvents.of([testEvent('o1')]));
      await sink.publish('orders.dead-letter', EncodedEvents.of([testEvent('d1')]));
      await sink.publish('orders', EncodedEvents.of([testEvent('o2')]));
      await expectPublished('orders', [testEvent('o1'), testEvent('o2')]);
      await expectPublished('orders.dead-letter', [testEvent('d1')]);
      expect(await subject.published('never-used')).toEqual([]);
    });

    it('is not affected by changes to the events after publish', async () => {
      const event = testEvent('mutable');
      const original = { ...event };
      await sink.publish('orders', EncodedEvents.of([event]));
      event.body = '{"changed":true}';
      await expectPublished('orders', [original]);
    });

    it('accepts a batch far larger than one request of any destination, losing nothing', async () => {
      const events = Array.from({ length: 5_000 }, (_, index) => testEvent(`large-${index}`, { index }));
      expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
      await expectPublished('orders', events);
    });

    it('accepts an event of exactly maxMessageBytes', async () => {
      const event = eventOfSize('largest', sink.capabilities.maxMessageBytes);
      expect(new TextEncoder().encode(event.body).byteLength).toBe(sink.capabilities.maxMessageBytes);
      expect(await sink.publish('orders', EncodedEvents.of([event]))).toEqual({ failed: [] });
      await expectPublished('orders', [event]);
    });

    it('refuses each event larger than maxMessageBytes by its index, for good, and accepts the rest', async () => {
      const { maxMessageBytes } = sink.capabilities;
      const events = Array.from({ length: 1_200 }, (_, index) => testEvent(`batch-${index}`, { index }));
      // One at the start, one in the middle (a later request of a sink that splits), one at the end.
      const oversize = [0, 777, 1_199];
      for (const index of oversize) events[index] = eventOfSize(`too-large-${index}`, maxMessageBytes + 1);
      const { failed } = await sink.publish('orders', EncodedEvents.of(events));
      expect(failed).toEqual(
        oversize.map((index) => ({ index, message: expect.any(String), retryable: false })),
      );
      await expectPublished(
        'orders',
        events.filter((_, index) => !oversize.includes(index)),
      );
    });

    it('loses nothing under concurrent publishes to one topic', async () => {
      const padding = 'x'.repeat(Math.min(40_000, sink.capabilities.maxMessageBytes / 2));
      const batches = Array.from({ length: 10 }, (_, batch) =>
        Array.from({ length: 20 }, (_, index) => testEvent(`b${batch}-e${index}`, { batch, index, padding })),
      );
      const results = await Promise.all(
        batches.map((batch) => sink.publish('orders', EncodedEvents.of(batch))),
      );
      expect(results).toEqual(batches.map(() => ({ failed: [] })));

      const published = await subject.published('orders');
      expect([...published].sort(byBody)).toEqual(
        batches
          .flat()
          .map(({ id, body }) => ({ id, body }))
          .sort(byBody),
      );
      if (!sink.capabilities.ordered) return;
      // An ordered sink keeps each batch's order, whatever it interleaves.
      const bodies = published.map((event) => event.body);
      for (const batch of batches) {
        const positions = batch.map((event) => bodies.indexOf(event.body));
        expect(positions).toEqual([...positions].sort((left, right) => left - right));
      }
    });
  });
}
