/** What the config's validation says about a field: its path, and the problem in words for people. */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

describe('config validation messages', () => {
  it('say a required field is missing, not what JavaScript received', () => {
    const { topic: _, ...withoutTopic } = dataset;
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [withoutTopic] }, 'config file x.json'),
    ).toThrow('config file x.json is invalid:\n  datasets.0.topic: is missing (must be a string)');
  });

  it('name the field and what it must be for a value of the wrong type', () => {
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [{ ...dataset, csv: { header: 'yes' } }] }, 'config'),
    ).toThrow('datasets.0.csv.header: Invalid input: expected boolean, received string');
  });
});
