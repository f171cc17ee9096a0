/** Event types are named in the past tense: the rule itself, and the config refusing a name at start. */
import { describe, expect, it } from 'vitest';
import { pastTenseNameProblem } from '../../schemas/past-tense-name.js';
import { configFileSchema, parseOrExplain } from '../../app/config.js';
import { CONTROL_SCHEMAS } from '../../schemas/control-schemas.js';

describe('the past-tense rule for event type names', () => {
  it.each([
    'OrderReceived',
    'OrderShipped',
    'PaymentSent',
    'InvoicePaid',
    'ReportBuilt',
    'AccountMade',
    'ReviewWritten',
    'StockHeld',
    'FileIngested',
    'RowRejected',
    'OrderResent',
    'InvoicePrepaid',
    'AccountOverdrawn',
    'Received',
  ])('accepts %s', (name) => {
    expect(pastTenseNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['ReceiveOrder', 'Order'],
    ['OrderReceive', 'Receive'],
    ['OrderProcessing', 'Processing'],
    ['ProductFeed', 'Feed'],
    ['OrderProceed', 'Proceed'],
    ['ShipmentSpeed', 'Speed'],
    ['Order', 'Order'],
  ])('refuses %s, naming the word "%s"', (name, word) => {
    expect(pastTenseNameProblem(name)).toBe(
      `"${name}" is not named in the past tense ("${word}"): its last word must be in the past tense: ` +
        'end in -ed (OrderReceived) or be an irregular past participle (PaymentSent, InvoicePaid); ' +
        'event types name what happened',
    );
  });

  it('refuses a name that ends in no word', () => {
    expect(pastTenseNameProblem('OrderReceivedV2')).toMatch(
      /^"OrderReceivedV2" names no event in the past tense: /,
    );
  });

  it('is enforced by the config, naming the field', () => {
    const dataset = {
      name: 'orders',
      match: 'vendors/*/orders/**',
      schema: 'schemas/orders',
      eventType: 'ReceiveOrder',
      topic: 'orders',
      deadLetterTopic: 'orders.dead-letter',
    };
    expect(() => parseOrExplain(configFileSchema, { datasets: [dataset] }, 'config file x.json')).toThrow(
      'config file x.json is invalid:\n  datasets.0.eventType: "ReceiveOrder" is not named in the past tense ("Order")',
    );
    expect(() =>
      parseOrExplain(configFileSchema, { datasets: [{ ...dataset, eventType: 'OrderReceived' }] }, 'x'),
    ).not.toThrow();
  });

  it("holds Dropgate's own event types to it too", () => {
    const types = CONTROL_SCHEMAS.flatMap((schema) => schema.eventTypes);
    expect(types.map(pastTenseNameProblem)).toEqual(types.map(() => undefined));
  });
});
