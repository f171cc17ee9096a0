/**
 * The DynamoDB table the ledger keeps its records in, as one definition the CLI creates for development
 * and the README shows as an `aws dynamodb create-table` command.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import type { HistoryPosition } from '../ledger-history.js';

/**
 * Item attributes the ledger relies on. `pk` names one item: `version#<sha256>` per object version,
 * `key#<sha256>` per object key (the index behind `latest`). `unfinishedBucket` is present only while a
 * version is pending, processing or failed, so the `unfinished` index holds exactly those (sparse).
 * `expiresAt` (epoch seconds) is set on finished versions when a retention is configured: DynamoDB's TTL
 * deletes them after it. Every version item carries `historyBucket` and `historyOrder` (see historyOrderOf),
 * the keys of the `history` index, and its `dataset`, which the history filters by.
 */
export const LEDGER_ATTRIBUTES = {
  partitionKey: 'pk',
  unfinishedBucket: 'unfinishedBucket',
  unfinishedIndex: 'unfinished',
  timeToLive: 'expiresAt',
  historyBucket: 'historyBucket',
  historyOrder: 'historyOrder',
  historyIndex: 'history',
  dataset: 'dataset',
} as const;

/** The command that adds the history index to a table made before it, and fills it in; errors name it. */
export const ADD_HISTORY_INDEX_COMMAND = 'dropgate ledger create-table --config <file>';

/** Milliseconds are written as LATEST minus them, 15 digits, so ascending order is newest first. */
const LATEST = 999_999_999_999_999;
const TIME_DIGITS = 15;
/** Below every character of a key, so `key + SEPARATOR + version` sorts as the pair (key, version). */
const SEPARATOR = '\u0000';

/**
 * The `history` index's sort key of a version: first seen newest first, then key and version ascending by
 * their UTF-8 bytes, which is how DynamoDB compares strings. One ascending range of the index is a history.
 */
export function historyOrderOf(position: HistoryPosition): string {
  return `${historyTimeOf(position.firstSeenAt)}${SEPARATOR}${position.key}${SEPARATOR}${position.version}`;
}

/** The first (`low`) and last (`high`) sort keys of versions first seen at `instant`. */
export function historyTimeBounds(instant: string): { low: string; high: string } {
  const time = historyTimeOf(instant);
  return { low: time, high: `${time}\u0001` };
}

/** The version a `history` sort key names; undefined for a text that is none. */
export function positionOfHistoryOrder(order: string): HistoryPosition | undefined {
  const time = order.slice(0, TIME_DIGITS);
  const last = order.lastIndexOf(SEPARATOR);
  if (!/^\d{15}$/.test(time) || order[TIME_DIGITS] !== SEPARATOR || last <= TIME_DIGITS) return undefined;
  return {
    firstSeenAt: new Date(LATEST - Number(time)).toISOString(),
    key: order.slice(TIME_DIGITS + 1, last),
    version: order.slice(last + 1),
  };
}

function historyTimeOf(instant: string): string {
  return String(LATEST - Date.parse(instant)).padStart(TIME_DIGITS, '0');
}

const HISTORY_INDEX: GlobalSecondaryIndex = {
  IndexName: LEDGER_ATTRIBUTES.historyIndex,
  KeySchema: [
    { AttributeName: LEDGER_ATTRIBUTES.historyBucket, KeyType: 'HASH' },
    { AttributeName: LEDGER_ATTRIBUTES.historyOrder, KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
};
const HISTORY_ATTRIBUTES = [
  { AttributeName: LEDGER_ATTRIBUTES.historyBucket, AttributeType: 'S' as const },
  { AttributeName: LEDGER_ATTRIBUTES.historyOrder, AttributeType: 'S' as const },
];

export function ledgerTableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: LEDGER_ATTRIBUTES.partitionKey, AttributeType: 'S' },
      { AttributeName: LEDGER_ATTRIBUTES.unfinishedBucket, AttributeType: 'S' },
      ...HISTORY_ATTRIBUTES,
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
      HISTORY_INDEX,
    ],
  };
}

/**
 * Creates the ledger's table and turns on its TTL, waiting until it is active. A table that exists already
 * is kept (`created` false) and brought up to date: the `history` index is added if it lacks it
 * (`historyIndexAdded`), and version items written before the history existed get its attributes
 * (`recordsFilled`), so they show in it.
 */
export async function createLedgerTable(options: {
  table: string;
  region?: string;
  client?: DynamoDBClient;
}): Promise<{ created: boolean; historyIndexAdded: boolean; recordsFilled: number }> {
  const { table } = options;
  const client = options.client ?? new DynamoDBClient(options.region ? { region: options.region } : {});
  try {
    let created = true;
    try {
      await client.send(new CreateTableCommand(ledgerTableDefinition(table)));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
      created = false;
    }
    await waitUntilActive(client, table, 120);
    if (created) {
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: table,
            TimeToLiveSpecification: { AttributeName: LEDGER_ATTRIBUTES.timeToLive, Enabled: true },
          }),
        );
      } catch (error) {
        // dynalite has no TTL; a table without it keeps finished records, which is only a cost.
        if (!/UnknownOperation|not supported/i.test(`${(error as { name?: string }).name} ${String(error)}`))
          throw error;
      }
      return { created, historyIndexAdded: false, recordsFilled: 0 };
    }
    const historyIndexAdded = await addHistoryIndex(client, table);
    return { created, historyIndexAdded, recordsFilled: await fillHistoryAttributes(client, table) };
  } finally {
    if (!options.client) client.destroy();
  }
}

/** Waits until the table and every index of it are active; DynamoDB builds a new index over minutes. */
async function waitUntilActive(client: DynamoDBClient, table: string, seconds: number) {
  for (let waited = 0; waited < seconds; waited++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === 'ACTIVE' && indexes.every((index) => index.IndexStatus === 'ACTIVE')) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error(
    `DynamoDB table ${table} or one of its indexes is still not active after ${seconds} s: run the command again later`,
  );
}

/** Adds the `history` index to a table created before it existed; false when it has it already. */
async function addHistoryIndex(client: DynamoDBClient, table: string): Promise<boolean> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
  const indexes = Table?.GlobalSecondaryIndexes ?? [];
  if (indexes.some((index) => index.IndexName === LEDGER_ATTRIBUTES.historyIndex)) return false;
  await client.send(
    new UpdateTableCommand({
      TableName: table,
      AttributeDefinitions: HISTORY_ATTRIBUTES,
      GlobalSecondaryIndexUpdates: [{ Create: HISTORY_INDEX }],
    }),
  );
  // DynamoDB copies the table into the new index before it is active: minutes for a large table.
  await waitUntilActive(client, table, 3_600);
  return true;
}

/**
 * Gives every version item that lacks them the history's attributes, from its record: items written
 * before the history existed. One scan of the table; idempotent, so an interrupted fill is run again.
 */
async function fillHistoryAttributes(client: DynamoDBClient, table: string): Promise<number> {
  const { partitionKey, historyBucket, historyOrder, dataset } = LEDGER_ATTRIBUTES;
  let filled = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'begins_with(#pk, :version) AND attribute_not_exists(#order)',
        ExpressionAttributeNames: { '#pk': partitionKey, '#order': historyOrder },
        ExpressionAttributeValues: { ':version': { S: 'version#' } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const record = JSON.parse(item.record!.S!) as HistoryPosition & { bucket: string; dataset: string };
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { [partitionKey]: item[partitionKey]! },
            UpdateExpression: 'SET #bucket = :bucket, #order = :order, #dataset = :dataset',
            // An item TTL deleted meanwhile stays deleted; one a ledger rewrote meanwhile has them already.
            ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#order)',
            ExpressionAttributeNames: {
              '#pk': partitionKey,
              '#bucket': historyBucket,
              '#order': historyOrder,
              '#dataset': dataset,
            },
            ExpressionAttributeValues: {
              ':bucket': { S: record.bucket },
              ':order': { S: historyOrderOf(record) },
              ':dataset': { S: record.dataset },
            },
          }),
        );
        filled++;
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return filled;
}
