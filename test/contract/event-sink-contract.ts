/**
 * The contract every EventSink must pass: accepted events come back in order with their bodies byte for
 * byte, an empty batch changes nothing, topics stay apart, and concurrent batches lose nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncodedEvents } from '../../workers/event-batch.js';
import type { EventSink, OutgoingEvent } from '../../adapters/ports.js';

export interface EventSinkSubject {
  sink: EventSink;
  /** The bodies accepted on `topic` so far, in the order the destination holds them. */
  published(topic: string): Promise<string[]>;
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

    it('declares usable batch limits', () => {
      expect(sink.limits.maxBatchEvents).toBeGreaterThanOrEqual(1);
      expect(sink.limits.maxBatchBytes).toBeGreaterThan(0);
    });

    it('gives back what was published, in order, body for body', async () => {
      const events = Array.from({ length: 25 }, (_, index) => testEvent(`event-${index}`, { index }));
      expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
      expect(await subject.published('orders')).toEqual(events.map((event) => event.body));
    });

    it('appends later batches after earlier ones', async () => {
      const first = [testEvent('a'), testEvent('b')];
      const second = [testEvent('c')];
      const third = [testEvent('d'), testEvent('e'), testEvent('f')];
      for (const batch of [first, second, third]) await sink.publish('orders', EncodedEvents.of(batch));
      expect(await subject.published('orders')).toEqual(
        [...first, ...second, ...third].map((event) => event.body),
      );
    });

    it('keeps a body exactly as serialized: escapes, unicode and all', async () => {
      const body = '{"id":"u","data":{"name":"Zoë \\"Z\\" Ünal","note":"tab\\tand\\u2028sep","emoji":"📦"}}';
      await sink.publish('orders', EncodedEvents.of([{ id: 'u', body }]));
      expect(await subject.published('orders')).toEqual([body]);
    });

    it('accepts the same event twice, as at-least-once delivery allows', async () => {
      const event = testEvent('same');
      await sink.publish('orders', EncodedEvents.of([event]));
      await sink.publish('orders', EncodedEvents.of([event]));
      expect(await subject.published('orders')).toEqual([event.body, event.body]);
    });

    it('treats an empty batch as a no-op', async () => {
      expect(await sink.publish('orders', EncodedEvents.of([]))).toEqual({ failed: [] });
      expect(await subject.published('orders')).toEqual([]);
      await sink.publish('orders', EncodedEvents.of([testEvent('only')]));
      await sink.publish('orders', EncodedEvents.of([]));
      expect(await subject.published('orders')).toEqual([testEvent('only').body]);
    });

    it('keeps topics apart', async () => {
      await sink.publish('orders', EncodedEvents.of([testEvent('o1')]));
      await sink.publish('orders.dead-letter', EncodedEvents.of([testEvent('d1')]));
      await sink.publish('orders', EncodedEvents.of([testEvent('o2')]));
      expect(await subject.published('orders')).toEqual([testEvent('o1').body, testEvent('o2').body]);
      expect(await subject.published('orders.dead-letter')).toEqual([testEvent('d1').body]);
      expect(await subject.published('never-used')).toEqual([]);
    });

    it('is not affected by changes to the events after publish', async () => {
      const event = testEvent('mutable');
      const original = event.body;
      await sink.publish('orders', EncodedEvents.of([event]));
      event.body = '{"changed":true}';
      expect(await subject.published('orders')).toEqual([original]);
    });

    it('accepts a full batch at its declared limits', async () => {
      const count = Math.min(sink.limits.maxBatchEvents, 5_000);
      const events = Array.from({ length: count }, (_, index) => testEvent(`full-${index}`));
      const characters = events.reduce((total, event) => total + event.body.length, 0);
      expect(characters).toBeLessThanOrEqual(sink.limits.maxBatchBytes);
      expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
      expect(await subject.published('orders')).toEqual(events.map((event) => event.body));
    });

    it('loses nothing and keeps each batch in order under concurrent publishes to one topic', async () => {
      const padding = 'x'.repeat(40_000);
      const batches = Array.from({ length: 10 }, (_, batch) =>
        Array.from({ length: 20 }, (_, index) => testEvent(`b${batch}-e${index}`, { batch, index, padding })),
      );
      const results = await Promise.all(
        batches.map((batch) => sink.publish('orders', EncodedEvents.of(batch))),
      );
      expect(results).toEqual(batches.map(() => ({ failed: [] })));

      const published = await subject.published('orders');
      expect([...published].sort()).toEqual(
        batches
          .flat()
          .map((event) => event.body)
          .sort(),
      );
      for (const batch of batches) {
        const positions = batch.map((event) => published.indexOf(event.body));
        expect(positions).toEqual([...positions].sort((left, right) => left - right));
      }
    });
  });
}
