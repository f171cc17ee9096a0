/** Test datasets built the way the gateway builds them: from config through the real compiler. */
import { createAjvValidatorFactory } from '../../schemas/row-validator.js';
import { defaultCsvOptions, type CsvOptions, type RowSchema } from '../../schemas/dataset.js';
import type { CompiledDataset } from '../../workers/ingest-file.js';
import ordersV1 from '../../schemas/orders/v1.json' with { type: 'json' };

const compile = createAjvValidatorFactory();

export function testDataset(
  overrides: Partial<Omit<CompiledDataset, 'validate' | 'csv'>> & { csv?: Partial<CsvOptions> } = {},
): CompiledDataset {
  const schema = (overrides.schema ?? ordersV1) as RowSchema;
  const definition = {
    name: 'orders',
    match: 'vendors/*/orders/**',
    format: 'auto' as const,
    schemaVersion: 1,
    eventType: 'OrderReceived',
    topic: 'orders',
    deadLetterTopic: 'orders.dead-letter',
    ...overrides,
    schema,
    csv: { ...defaultCsvOptions, ...overrides.csv },
  };
  return { ...definition, validate: compile(schema, `${definition.name}/v${definition.schemaVersion}`) };
}
