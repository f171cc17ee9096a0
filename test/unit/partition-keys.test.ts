/**
 * Partition keys (dataset `partitionKey`): what the config accepts, how a row's key is written into its
 * event, how packing keeps one key a message, and how KeyOrder holds a failed key's later events back.
 */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';
import { KeyOrder } from '../../adapters/event-sink/key-order.js';
import type { OutgoingEvent } from '../../adapters/ports.js';
import { packEvents } from '../../adapters/event-sink/packed-events.js';
import { EncodedEvents } from '../../workers/event-batch.js';
import { RowBlockBuilder } from '../../workers/row-block.js';
import { rowEventAttributes, rowEventHead, type FileContext } from '../../workers/envelope.js';
import { testDataset } from '../support/datasets.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

const parse = (config: Record<string, unknown>) => () =>
  parseOrExplain(configFileSchema, { ...config }, 'config');

describe('partitionKey and pubsubMode in the config', () => {
  it('accept a column or objectKey, and name the path of anything else', () => {
    expect(parse({ datasets: [{ ...dataset, partitionKey: 'objectKey' }] })).not.toThrow();
    expect(parse({ datasets: [{ ...dataset, partitionKey: { column: 'customer_id' } }] })).not.toThrow();
    expect(parse({ datasets: [{ ...dataset, partitionKey: 'customer_id' }] })).toThrow(
      'datasets.0.partitionKey: must be "objectKey" or { "column": "<a column of the schema>" }',
    );
  });

  it('refuse an order the sink cannot keep, naming the field', () => {
    const cloudflare = { type: 'cloudflare-queues' };
    expect(parse({ sink: cloudflare, datasets: [{ ...dataset, partitionKey: 'objectKey' }] })).toThrow(
      'datasets.0.partitionKey: the cloudflare-queues sink keeps no order',
    );
    const sqs = { type: 'sqs' };
    const controlTopic = 'dropgate-files';
    const sqsDataset = { ...dataset, deadLetterTopic: 'orders-dead-letter' };
    expect(
      parse({ sink: sqs, controlTopic, datasets: [{ ...sqsDataset, partitionKey: 'objectKey' }] }),
    ).toThrow(
      'datasets.0.partitionKey: orders messages on a FIFO queue only, and topic "orders" is a standard queue',
    );
    expect(
      parse({
        sink: sqs,
        controlTopic,
        datasets: [{ ...sqsDataset, topic: 'orders.fifo', partitionKey: 'objectKey' }],
      }),
    ).not.toThrow();
  });

  it('refuse pubsubMode off the pubsub sink, with packing, or differing on one topic', () => {
    const pubsub = { type: 'pubsub', projectId: 'my-project' };
    expect(parse({ datasets: [{ ...dataset, pubsubMode: 'binary' }] })).toThrow(
      'datasets.0.pubsubMode: applies to the pubsub sink only, and the sink is local',
    );
    expect(
      parse({
        sink: { ...pubsub, rowsPerMessage: { orders: 10 } },
        datasets: [{ ...dataset, pubsubMode: 'binary' }],
      }),
    ).toThrow('datasets.0.pubsubMode: binary mode cannot carry the CloudEvents batches');
    expect(
      parse({
        sink: pubsub,
        datasets: [dataset, { ...dataset, name: 'returns', pubsubMode: 'binary' }],
      }),
    ).toThrow(
      'datasets.1.pubsubMode: topic "orders" gets binary mode here and structured mode from datasets.0',
    );
    expect(parse({ sink: pubsub, datasets: [{ ...dataset, pubsubMode: 'binary' }] })).not.toThrow();
  });
});

function fileOf(partitionKey?: 'objectKey' | { column: string }): FileContext {
  return {
    object: {
      bucket: 'incoming',
      key: 'vendors/acme/orders/a.csv',
      version: '1',
      size: 1,
      updated: '2024-05-01T00:00:00Z',
    },
    source: '//dropgate.local/buckets/incoming',
    dataset: testDataset(partitionKey ? { partitionKey } : {}),
    fingerprint: 'f',
  } as FileContext;
}

describe('row events', () => {
  it("carry a column's value as partitionkey, none for an empty or missing one, a number as its JSON", () => {
    const builder = new RowBlockBuilder({
      head: '{"id":"x-',
      partitionColumn: 'customer',
      validate: () => null,
      renderRaw: (raw) => raw,
      skipThrough: 0,
      startRow: 0,
    });
    const row = (n: number, customer: unknown) => ({
      row: n,
      line: n + 1,
      values: customer === undefined ? { n } : { n, customer },
      issues: [],
      raw: null,
    });
    builder.add([row(1, 'c"1'), row(2, ''), row(3, undefined), row(4, 42)]);
    const block = builder.take();
    expect(new TextDecoder().decode(block.bytes).split('\n').slice(0, 4)).toEqual([
      '{"id":"x-1","rownumber":1,"partitionkey":"c\\"1","data":{"n":1,"customer":"c\\"1"}}',
      '{"id":"x-2","rownumber":2,"data":{"n":2,"customer":""}}',
      '{"id":"x-3","rownumber":3,"data":{"n":3}}',
      '{"id":"x-4","rownumber":4,"partitionkey":"42","data":{"n":4,"customer":42}}',
    ]);
    expect(block.keys).toEqual(['c"1', undefined, undefined, '42']);
    builder.add([row(5, 'c5')]);
    expect(builder.take().keys).toEqual(['c5']);
  });

  it('carry the object key as partitionkey in the head and the attributes, and nothing without the setting', () => {
    const file = fileOf('objectKey');
    expect(rowEventHead(file)).toContain('"partitionkey":"vendors/acme/orders/a.csv","id":"f-');
    expect(rowEventAttributes(file).partitionkey).toBe('vendors/acme/orders/a.csv');
    expect(rowEventHead(fileOf())).not.toContain('partitionkey');
    expect(rowEventAttributes(fileOf())).not.toHaveProperty('partitionkey');
  });
});

const event = (id: string, key?: string): OutgoingEvent => ({
  id,
  body: JSON.stringify({ id }),
  attributes: { dataset: 'orders', ...(key === undefined ? {} : { partitionkey: key }) },
});

describe('packEvents', () => {
  it("puts one key's events in a message, in order, and messages in the order of their first members", () => {
    const events = EncodedEvents.of([
      event('0', 'a'),
      event('1', 'b'),
      event('2', 'a'),
      event('3'),
      event('4', 'a'),
      event('5', 'b'),
      event('6'),
    ]);
    const { members, messages } = packEvents(events, 2, 1_000);
    expect(members).toEqual([[0, 2], [1, 5], [3, 6], [4]]);
    expect([0, 1, 2, 3].map((index) => messages.attributes(index)?.partitionkey)).toEqual([
      'a',
      'b',
      undefined,
      'a',
    ]);
  });
});

describe('KeyOrder', () => {
  it("holds a failed key's later events until a publish carries its first failed event again", async () => {
    const order = new KeyOrder();
    const first = order.begin(EncodedEvents.of([event('a1', 'a'), event('b1', 'b')]));
    // The request with both keys failed; key b's event is refused for good (not to be sent again).
    (await first.turn(new Set(['a', 'b']))).done(true);
    first.end([
      { index: 0, message: 'unavailable', retryable: true },
      { index: 1, message: 'too large', retryable: false },
    ]);
    // A later publish: key a is held; key b (nothing of it to send again) and unkeyed events go.
    const later = order.begin(EncodedEvents.of([event('a2', 'a'), event('b2', 'b'), event('x')]));
    expect(later.admitted).toEqual([1, 2]);
    expect(later.held).toEqual([
      { index: 0, message: expect.stringContaining('partition key "a" is paused'), retryable: true },
    ]);
    later.end(later.held);
    // The retry carries a1: key a resumes.
    const retry = order.begin(EncodedEvents.of([event('a1', 'a'), event('a2', 'a')]));
    expect(retry.admitted).toBeNull();
    retry.end([]);
    expect(order.paused.size).toBe(0);
  });

  it('lets a request of a later publish go only once the publish before it with its key has ended', async () => {
    const order = new KeyOrder();
    const first = order.begin(EncodedEvents.of([event('a1', 'a')]));
    const second = order.begin(EncodedEvents.of([event('a2', 'a'), event('c1', 'c')]));
    const started: string[] = [];
    const secondTurn = second.turn(new Set(['a', 'c'])).then((turn) => {
      started.push('second');
      return turn;
    });
    const firstTurn = await first.turn(new Set(['a']));
    started.push('first');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(['first']);
    firstTurn.done(false);
    first.end([]);
    expect((await secondTurn).paused).toBeUndefined();
    expect(started).toEqual(['first', 'second']);
  });
});
