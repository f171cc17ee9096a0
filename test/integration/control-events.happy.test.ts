/**
 * Dropgate's own events meet the schemas the registry serves for them: the file summaries and dead letters
 * of real ingestions (bad rows, a drifted header, a rejected file) each name their control schema in
 * `dataschema`, the gateway serves it there, and the data validates, so the schemas cannot drift from
 * the code (they allow no property the code does not write).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ORDERS_HEADER, orderLine, ordersFile } from './support/orders-csv.js';
import { getDataschema, SCHEMA_BASE_URL as BASE, startSchemaGateway } from './support/schema-gateway.js';
import {
  call,
  putUpload,
  requestUpload,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import type { RowSchema } from '../../schemas/dataset.js';

let gateway: TestGateway;

afterEach(async () => {
  await gateway.close();
});

describe('control events and their schemas', () => {
  it('every summary and dead letter of real ingestions validates against the schema its dataschema serves', async () => {
    gateway = await startSchemaGateway({ orders: { drift: 'ignore' } });
    const files = [
      ordersFile(6, 3).csv,
      [`${ORDERS_HEADER},warehouse`, `${orderLine(1)},north`].join('\n'),
      [ORDERS_HEADER.replace('order_id,', ''), orderLine(2).replace(/^[^,]*,/, '')].join('\n'),
    ];
    for (const [index, body] of files.entries()) {
      const grant = await requestUpload(gateway, { dataset: 'orders', filename: `file-${index}.csv` });
      expect((await putUpload(grant, body)).status).toBe(201);
    }
    await gateway.running.gateway.idle();

    const summaries = await readTopic(gateway.dataDir, 'dropgate.files');
    const deadLetters = await readTopic(gateway.dataDir, 'orders.dead-letter');
    expect(summaries.map((event) => event.type).sort()).toEqual([
      'FileIngested',
      'FileIngested',
      'FileRejected',
    ]);
    expect(summaries.some((event) => 'drift' in event.data)).toBe(true);
    expect(summaries.some((event) => 'error' in event.data)).toBe(true);
    expect(deadLetters.map((event) => event.type)).toEqual(['RowRejected', 'RowRejected']);

    const compile = createAjvValidatorFactory();
    const validators = new Map<string, ReturnType<typeof compile>>();
    for (const event of [...summaries, ...deadLetters]) {
      const expected = event.type === 'RowRejected' ? 'dead-letter' : 'file-summary';
      expect(event.dataschema).toBe(`${BASE}/_dropgate/${expected}/v1`);
      // The dataset version of the file stays on the event, beside the control schema of its data.
      expect([event.dataset, event.schemaversion]).toEqual(['orders', 2]);
      let validate = validators.get(event.dataschema);
      if (!validate) {
        const served = await getDataschema(gateway, event.dataschema);
        expect(served.status).toBe(200);
        expect(served.headers.get('content-type')).toBe('application/schema+json');
        validate = compile(JSON.parse(served.body as string) as RowSchema, event.dataschema);
        validators.set(event.dataschema, validate);
      }
      expect(validate(event.data), `${event.type} ${JSON.stringify(event.data)}`).toBeNull();
    }
    expect([...validators.keys()].sort()).toEqual([
      `${BASE}/_dropgate/dead-letter/v1`,
      `${BASE}/_dropgate/file-summary/v1`,
    ]);
  });

  it('lists the control schemas beside the datasets, and answers 404 for an unknown one', async () => {
    gateway = await startTestGateway();
    const listing = await call<{ control: unknown }>(gateway, 'GET', '/schemas');
    expect(listing.body.control).toEqual([
      {
        name: '_dropgate/file-summary',
        eventTypes: ['FileIngested', 'FileRejected'],
        versions: [
          {
            version: 1,
            dataschema: 'urn:dropgate:schema:_dropgate/file-summary:v1',
            path: '/schemas/_dropgate/file-summary/v1',
          },
        ],
      },
      {
        name: '_dropgate/dead-letter',
        eventTypes: ['RowRejected'],
        versions: [
          {
            version: 1,
            dataschema: 'urn:dropgate:schema:_dropgate/dead-letter:v1',
            path: '/schemas/_dropgate/dead-letter/v1',
          },
        ],
      },
    ]);
    expect((await call(gateway, 'GET', '/schemas/_dropgate/file-summary/v2')).status).toBe(404);
    expect((await call(gateway, 'GET', '/schemas/_dropgate/nothing/v1')).status).toBe(404);
  });
});
