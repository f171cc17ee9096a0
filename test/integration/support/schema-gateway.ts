/**
 * A gateway that names and serves its schemas under SCHEMA_BASE_URL, as if published there, with the
 * `orders` dataset read from the repository's schemas/orders.
 */
import { join } from 'node:path';
import { call, startTestGateway, type ApiResponse, type TestGateway } from './test-gateway.js';

export const SCHEMA_BASE_URL = 'https://dropgate.example.com/schemas';

export function startSchemaGateway(
  options: { schemaBaseUrl?: string; orders?: Record<string, unknown> } = {},
): Promise<TestGateway> {
  return startTestGateway({
    configFile: {
      schemaBaseUrl: options.schemaBaseUrl ?? SCHEMA_BASE_URL,
      datasets: [
        {
          name: 'orders',
          match: 'vendors/*/orders/**',
          schema: join(process.cwd(), 'schemas/orders'),
          eventType: 'OrderReceived',
          topic: 'orders',
          deadLetterTopic: 'orders.dead-letter',
          ...options.orders,
        },
      ],
    },
  });
}

/** What the gateway serves at an event's `dataschema`: the base URL is where it is published, here itself. */
export function getDataschema(gateway: TestGateway, dataschema: string): Promise<ApiResponse<string>> {
  return call<string>(gateway, 'GET', dataschema.replace('https://dropgate.example.com', ''));
}
