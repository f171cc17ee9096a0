/** The config of the sqs sink and the dynamodb ledger: their fields, and topics checked against the sink. */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders-dead-letter',
};
const parse = (config: Record<string, unknown>) => parseOrExplain(configFileSchema, config, 'config');
const sqs = { sink: { type: 'sqs', region: 'eu-west-1' }, controlTopic: 'dropgate-files' };

describe('AWS adapters in the config', () => {
  it('takes an sqs sink and a dynamodb ledger with their fields', () => {
    const config = parse({
      ...sqs,
      sink: { type: 'sqs', region: 'eu-west-1', fifoGroup: 'orders', rowsPerMessage: { 'orders.fifo': 50 } },
      ledger: { type: 'dynamodb', table: 'dropgate-ledger', region: 'eu-west-1', retentionDays: 90 },
      datasets: [
        {
          ...dataset,
          topic: 'orders.fifo',
          deadLetterTopic: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dead-letter',
        },
      ],
    });
    expect(config.sink).toEqual({
      type: 'sqs',
      region: 'eu-west-1',
      fifoGroup: 'orders',
      rowsPerMessage: { 'orders.fifo': 50 },
    });
    expect(config.ledger).toEqual({
      type: 'dynamodb',
      table: 'dropgate-ledger',
      region: 'eu-west-1',
      retentionDays: 90,
    });
  });

  it('keeps the local adapters by default', () => {
    const config = parse({ datasets: [dataset] });
    expect(config.sink).toEqual({ type: 'local' });
    expect(config.ledger).toEqual({ type: 'local' });
  });

  it.each([
    [{ ledger: { type: 'dynamodb' } }, 'ledger.table: is missing'],
    [{ ledger: { type: 'dynamodb', table: 'x' } }, 'ledger.table: must be a DynamoDB table name'],
    [{ ledger: { type: 'local', table: 'ledger' } }, 'ledger: Unrecognized key: "table"'],
    [
      { ledger: { type: 'redis' } },
      'ledger.type: must be one of: local, firestore, dynamodb, durable-object',
    ],
    [{ sink: { type: 'kafka' } }, 'sink.type: must be one of: local, pubsub, sqs, cloudflare-queues'],
    [{ sink: { type: 'sqs', region: 'Ireland' } }, 'sink.region: must be an AWS region such as us-east-1'],
    [{ sink: { type: 'local', fifoGroup: 'g' } }, 'sink: Unrecognized key: "fifoGroup"'],
  ])('names the field at fault in %j', (adapters, message) => {
    expect(() => parse({ ...adapters, datasets: [dataset] })).toThrow(message);
  });

  it('holds topics to what the sink takes: SQS queue names or URLs, local file names', () => {
    expect(() => parse({ sink: { type: 'sqs' }, datasets: [dataset] })).toThrow(
      'controlTopic: must be an SQS queue name',
    );
    expect(() =>
      parse({ ...sqs, datasets: [{ ...dataset, deadLetterTopic: 'orders.dead-letter' }] }),
    ).toThrow('datasets.0.deadLetterTopic: must be an SQS queue name');
    expect(() =>
      parse({ datasets: [{ ...dataset, topic: 'https://sqs.eu-west-1.amazonaws.com/1/orders' }] }),
    ).toThrow('datasets.0.topic: must be letters, digits');
    expect(parse({ ...sqs, datasets: [dataset] }).datasets[0]!.topic).toBe('orders');
  });
});
