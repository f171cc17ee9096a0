/**
 * The DynamoDB table the ledger keeps its records in, as one definition the CLI creates for development
 * and the README shows as an `aws dynamodb create-table` command.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';

/**
 * Item attributes the ledger relies on. `pk` names one item: `version#<sha256>` per object version,
 * `key#<sha256>` per object key (the index behind `latest`). `unfinishedBucket` is present only while a
 * version is pending, processing or failed, so the `unfinished` index holds exactly those (sparse).
 * `expiresAt` (epoch seconds) is set on finished versions when a retention is configured: DynamoDB's TTL
 * deletes them after it.
 */
export const LEDGER_ATTRIBUTES = {
  partitionKey: 'pk',
  unfinishedBucket: 'unfinishedBucket',
  unfinishedIndex: 'unfinished',
  timeToLive: 'expiresAt',
} as const;

export function ledgerTableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: LEDGER_ATTRIBUTES.partitionKey, AttributeType: 'S' },
      { AttributeName: LEDGER_ATTRIBUTES.unfinishedBucket, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: LEDGER_ATTRIBUTES.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: LEDGER_ATTRIBUTES.unfinishedIndex,
        KeySchema: [
          { AttributeName: LEDGER_ATTRIBUTES.unfinishedBucket, KeyType: 'HASH' },
          { AttributeName: LEDGER_ATTRIBUTES.partitionKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/**
 * Creates the ledger's table and turns on its TTL, waiting until it is active. A table that exists
 * already is left as it is: `created` is false.
 */
export async function createLedgerTable(options: {
  table: string;
  region?: string;
  client?: DynamoDBClient;
}): Promise<{ created: boolean }> {
  const client = options.client ?? new DynamoDBClient(options.region ? { region: options.region } : {});
  try {
    let created = true;
    try {
      await client.send(new CreateTableCommand(ledgerTableDefinition(options.table)));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
      created = false;
    }
    for (let attempt = 0; attempt < 120; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: options.table }));
      if (Table?.TableStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    if (created) {
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: options.table,
            TimeToLiveSpecification: { AttributeName: LEDGER_ATTRIBUTES.timeToLive, Enabled: true },
          }),
        );
      } catch (error) {
        // dynalite has no TTL; a table without it keeps finished records, which is only a cost.
        if (!/UnknownOperation|not supported/i.test(`${(error as { name?: string }).name} ${String(error)}`))
          throw error;
      }
    }
    return { created };
  } finally {
    if (!options.client) client.destroy();
  }
}
