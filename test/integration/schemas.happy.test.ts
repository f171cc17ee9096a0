/** The registry served: every event's `dataschema` resolves to the JSON Schema its row was validated by. */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ORDERS_HEADER, orderLine } from './support/orders-csv.js';
import { getDataschema, SCHEMA_BASE_URL as BASE, startSchemaGateway } from './support/schema-gateway.js';
import {
  call,
  makeTemporaryDirectory,
  putUpload,
  requestUpload,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway;

afterEach(async () => {
  await gateway.close();
});

const schemaFile = async (version: number) =>
  JSON.parse(await readFile(join(process.cwd(), `schemas/orders/v${version}.json`), 'utf8'));

describe('GET /schemas', () => {
  it('lists each dataset with its versions, which is retired, and where each is served', async () => {
    gateway = await startSchemaGateway({ orders: { retired: [1] } });
    const response = await call(gateway, 'GET', '/schemas');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      control: expect.any(Array),
      datasets: [
        {
          name: 'orders',
          eventType: 'OrderReceived',
          topic: 'orders',
          deadLetterTopic: 'orders.dead-letter',
          defaultVersion: 2,
          versions: [
            { version: 1, retired: true, dataschema: `${BASE}/orders/v1`, path: '/schemas/orders/v1' },
            { version: 2, retired: false, dataschema: `${BASE}/orders/v2`, path: '/schemas/orders/v2' },
          ],
        },
      ],
    });
  });
});

describe('GET /schemas/<dataset>/v<N>', () => {
  it('answers the JSON Schema an event names in its dataschema, for each version', async () => {
    gateway = await startSchemaGateway({ schemaBaseUrl: `${BASE}/` });
    for (const schemaVersion of [1, 2]) {
      const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'a.csv', schemaVersion });
      expect((await putUpload(grant, `${ORDERS_HEADER}\n${orderLine(schemaVersion)}\n`)).status).toBe(201);
    }
    await gateway.running.gateway.idle();
    const events = await readTopic(gateway.dataDir, 'orders');
    expect(events.map((event) => event.dataschema)).toEqual([`${BASE}/orders/v1`, `${BASE}/orders/v2`]);

    for (const [index, event] of events.entries()) {
      const response = await getDataschema(gateway, event.dataschema);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/schema+json');
      expect(JSON.parse(response.body as string)).toEqual(await schemaFile(index + 1));
    }
  });

  it('keeps a schema’s own $id as the dataschema, and serves that schema too', async () => {
    const directory = await makeTemporaryDirectory();
    const v1 = { ...(await schemaFile(1)), $id: 'https://contracts.example.com/orders/1' };
    await mkdir(join(directory, 'orders'));
    await writeFile(join(directory, 'orders/v1.json'), JSON.stringify(v1));
    gateway = await startSchemaGateway({ orders: { schema: join(directory, 'orders') } });
    const listing = await call<{ datasets: Array<{ versions: Array<{ dataschema: string }> }> }>(
      gateway,
      'GET',
      '/schemas',
    );
    expect(listing.body.datasets[0]!.versions[0]!.dataschema).toBe('https://contracts.example.com/orders/1');
    const served = await call<string>(gateway, 'GET', '/schemas/orders/v1');
    expect(JSON.parse(served.body as string)).toEqual(v1);
    await rm(directory, { recursive: true, force: true });
  });
});
