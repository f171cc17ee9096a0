/**
 * A ledger in one DynamoDB table: one item per object version, holding the record as JSON and a
 * `revision` every write compares and sets, so of concurrent writers exactly one wins and the others
 * read again and decide again (ledger-rules.ts decides, as in every ledger). No transactions: a
 * version's first write creates its item, then moves the key's index item (for `latest`) forward only
 * if it is newer, so a crash between the two leaves the index one version behind, and the version's
 * next claim, or a redelivered landing, moves it on. `unfinished` pages a sparse index of the versions
 * that are pending, processing or failed.
 */
import { createHash } from 'node:crypto';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DropgateError, describeError } from '../../errors.js';
import type {
  Checkpoint,
  ClaimRequest,
  FileOutcome,
  FileRecord,
  FileVersionRef,
  HistoryQuery,
  Ledger,
  RegisterRequest,
  UnfinishedQuery,
} from '../../ports.js';
import {
  applyCheckpoint,
  applyFinish,
  applyRenew,
  decideClaim,
  decideRegister,
  isUnfinished,
} from '../ledger-rules.js';
import { historyCursor, planHistory, type HistoryPosition } from '../ledger-history.js';
import {
  ADD_HISTORY_INDEX_COMMAND,
  LEDGER_ATTRIBUTES,
  historyOrderOf,
  historyTimeBounds,
  positionOfHistoryOrder,
} from './ledger-table.js';

export interface DynamoDbLedgerOptions {
  table: string;
  /** The AWS region; the SDK's own resolution (AWS_REGION, the profile) when absent. */
  region?: string;
  now?: () => number;
  /**
   * Days a finished (ingested or rejected) record is kept before DynamoDB's TTL may delete it; kept for
   * good when absent. A notification of a version whose record is gone ingests it again.
   */
  retentionDays?: number;
  /** For tests; otherwise AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL, as the SDK reads them. */
  client?: DynamoDBClient;
}

export interface DynamoDbLedger extends Ledger {
  close(): Promise<void>;
}

type Item = Record<string, AttributeValue>;

const {
  partitionKey,
  unfinishedBucket,
  unfinishedIndex,
  timeToLive,
  historyBucket,
  historyOrder,
  historyIndex,
  dataset,
} = LEDGER_ATTRIBUTES;
/** Writers that lose a compare-and-set read again; this many losses in a row is contention, not luck. */
const MAX_CONFLICTS = 50;
/**
 * Most index items one history page evaluates while its filters (DynamoDB applies them after reading)
 * leave them out; the page then ends short, with a cursor.
 */
const HISTORY_READ_BUDGET = 1000;

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');
const versionKey = (ref: FileVersionRef) => `version#${sha256(ref.bucket, ref.key, ref.version)}`;
const keyIndexKey = (bucket: string, key: string) => `key#${sha256(bucket, key)}`;

export function createDynamoDbLedger(options: DynamoDbLedgerOptions): DynamoDbLedger {
  const { table } = options;
  const now = options.now ?? Date.now;
  const client = options.client ?? new DynamoDBClient(options.region ? { region: options.region } : {});

  /** The version's record and the revision it was read at (0: no item). */
  async function read(ref: FileVersionRef): Promise<{ record: FileRecord | undefined; revision: number }> {
    const { Item } = await call(() =>
      client.send(
        new GetItemCommand({
          TableName: table,
          Key: { [partitionKey]: { S: versionKey(ref) } },
          ConsistentRead: true,
        }),
      ),
    );
    if (!Item) return { record: undefined, revision: 0 };
    return { record: recordOf(Item), revision: Number(Item.revision!.N) };
  }

  /** Writes `record` as revision `revision + 1` if the item is still at `revision`; false if it moved. */
  async function write(record: FileRecord, revision: number): Promise<boolean> {
    const item: Item = {
      [partitionKey]: { S: versionKey(record) },
      revision: { N: String(revision + 1) },
      bucket: { S: record.bucket },
      key: { S: record.key },
      version: { S: record.version },
      state: { S: record.state },
      record: { S: JSON.stringify(record) },
      [historyBucket]: { S: record.bucket },
      [historyOrder]: { S: historyOrderOf(record) },
      [dataset]: { S: record.dataset },
    };
    if (isUnfinished(record)) item[unfinishedBucket] = { S: record.bucket };
    if (options.retentionDays !== undefined && !isUnfinished(record)) {
      item[timeToLive] = { N: String(Math.floor(now() / 1000) + options.retentionDays * 86_400) };
    }
    try {
      await call(() =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: item,
            ...(revision === 0
              ? {
                  ConditionExpression: 'attribute_not_exists(#pk)',
                  ExpressionAttributeNames: { '#pk': partitionKey },
                }
              : {
                  ConditionExpression: '#revision = :revision',
                  ExpressionAttributeNames: { '#revision': 'revision' },
                  ExpressionAttributeValues: { ':revision': { N: String(revision) } },
                }),
          }),
        ),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /**
   * Moves the key's index to `record`'s version unless it names a version first seen later (ties go to
   * the greater version, so every writer agrees). Idempotent: a repair writes what the first try would.
   */
  async function advanceLatest(record: FileRecord): Promise<void> {
    try {
      await call(() =>
        client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { [partitionKey]: { S: keyIndexKey(record.bucket, record.key) } },
            UpdateExpression: 'SET #bucket = :bucket, #key = :key, #version = :version, #seen = :seen',
            ConditionExpression:
              'attribute_not_exists(#seen) OR #seen < :seen OR (#seen = :seen AND #version <= :version)',
            ExpressionAttributeNames: {
              '#bucket': 'bucket',
              '#key': 'key',
              '#version': 'latestVersion',
              '#seen': 'latestFirstSeenAt',
            },
            ExpressionAttributeValues: {
              ':bucket': { S: record.bucket },
              ':key': { S: record.key },
              ':version': { S: record.version },
              ':seen': { S: record.firstSeenAt },
            },
          }),
        ),
      );
    } catch (error) {
      // A newer version holds the index: nothing to do.
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /**
   * Reads the version, lets `change` decide, and writes what it returns with compare-and-set, deciding
   * again on what another writer left whenever it loses.
   */
  async function update<T>(
    ref: FileVersionRef,
    change: (existing: FileRecord | undefined) => { record?: FileRecord; result: T },
  ): Promise<{ result: T; created: boolean; existing: FileRecord | undefined }> {
    for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
      const { record: existing, revision } = await read(ref);
      const { record, result } = change(existing);
      if (!record || (await write(record, revision)))
        return { result, created: !existing && !!record, existing };
    }
    throw new DropgateError(
      'LEDGER_UNAVAILABLE',
      `${ref.bucket}/${ref.key}@${ref.version} changed under ${MAX_CONFLICTS} writes in a row in DynamoDB table ${table}`,
      { context: { ...ref, table } },
    );
  }

  /** Runs a DynamoDB call, turning its failures into ledger faults. */
  async function call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw asLedgerError(error, table);
    }
  }

  return {
    async register(ref: FileVersionRef, request: RegisterRequest) {
      const { result, created, existing } = await update(ref, (existing) => {
        const result = decideRegister(existing, ref, request, now());
        return { record: result.changed ? result.record : undefined, result };
      });
      // A landing seen again before its first claim may follow a crash between the record and the index.
      if (created || (existing?.state === 'pending' && existing.attempts === 0)) {
        await advanceLatest(result.record);
      }
      return result;
    },
    async claim(ref: FileVersionRef, request: ClaimRequest) {
      const { result } = await update(ref, (existing) => {
        const result = decideClaim(existing, ref, request, now());
        return { record: result.claimed ? result.record : undefined, result };
      });
      if (result.claimed) await advanceLatest(result.record);
      return result;
    },
    async renew(ref: FileVersionRef, owner: string, leaseMs: number) {
      await update(ref, (existing) => ({
        record: applyRenew(existing, ref, owner, leaseMs, now()),
        result: undefined,
      }));
    },
    async checkpoint(ref: FileVersionRef, owner: string, checkpoint: Checkpoint, leaseMs: number) {
      await update(ref, (existing) => ({
        record: applyCheckpoint(existing, ref, owner, checkpoint, leaseMs, now()),
        result: undefined,
      }));
    },
    async finish(ref: FileVersionRef, owner: string, outcome: FileOutcome) {
      const { result } = await update(ref, (existing) => {
        const record = applyFinish(existing, ref, owner, outcome, now());
        return { record, result: record };
      });
      return result;
    },
    async get(ref: FileVersionRef) {
      return (await read(ref)).record;
    },
    async latest(bucket: string, key: string) {
      const { Item } = await call(() =>
        client.send(
          new GetItemCommand({
            TableName: table,
            Key: { [partitionKey]: { S: keyIndexKey(bucket, key) } },
            ConsistentRead: true,
          }),
        ),
      );
      const version = Item?.latestVersion?.S;
      return version === undefined ? undefined : (await read({ bucket, key, version })).record;
    },
    async unfinished(query: UnfinishedQuery) {
      const limit = query.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new DropgateError('BAD_REQUEST', `limit must be a positive integer, not ${limit}`);
      }
      // One more than a page, to know whether another follows; DynamoDB may stop short (1 MB a query).
      const items: Item[] = [];
      let start = query.cursor === undefined ? undefined : startKeyOf(query.cursor, query.bucket);
      do {
        const answer = await call(() =>
          client.send(
            new QueryCommand({
              TableName: table,
              IndexName: unfinishedIndex,
              KeyConditionExpression: '#bucket = :bucket',
              ExpressionAttributeNames: { '#bucket': unfinishedBucket },
              ExpressionAttributeValues: { ':bucket': { S: query.bucket } },
              Limit: limit + 1 - items.length,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        );
        items.push(...(answer.Items ?? []));
        start = answer.LastEvaluatedKey;
      } while (start && items.length <= limit);
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      return {
        records: page.map(recordOf),
        ...(items.length > limit && last ? { cursor: cursorOf(last[partitionKey]!.S!) } : {}),
      };
    },
    /**
     * Queries the `history` index, one bucket's versions in the history's order, from the cursor on and
     * within since/until (the key condition); prefix, dataset and state are filters DynamoDB applies to
     * what it read, so a page evaluates `limit + 1` items when nothing is filtered out, and ends short,
     * with a cursor, once HISTORY_READ_BUDGET items were evaluated.
     */
    async history(query: HistoryQuery) {
      const { filter, limit, after } = planHistory(query);
      const names: Record<string, string> = { '#bucket': historyBucket };
      const values: Item = { ':bucket': { S: filter.bucket } };
      // Newest first: `until` bounds the low end of the sort keys, `since` the high end.
      const low = filter.until && historyTimeBounds(new Date(Date.parse(filter.until) - 1).toISOString()).low;
      const high = filter.since && historyTimeBounds(filter.since).high;
      let range = '';
      if (low !== undefined) values[':low'] = { S: low };
      if (high !== undefined) values[':high'] = { S: high };
      if (low !== undefined || high !== undefined) names['#order'] = historyOrder;
      if (low !== undefined && high !== undefined) range = ' AND #order BETWEEN :low AND :high';
      else if (low !== undefined) range = ' AND #order >= :low';
      else if (high !== undefined) range = ' AND #order <= :high';
      const filters: string[] = [];
      if (filter.prefix !== '') {
        filters.push('begins_with(#key, :prefix)');
        names['#key'] = 'key';
        values[':prefix'] = { S: filter.prefix };
      }
      if (filter.dataset !== undefined) {
        filters.push('#dataset = :dataset');
        names['#dataset'] = dataset;
        values[':dataset'] = { S: filter.dataset };
      }
      if (filter.state !== undefined) {
        filters.push('#state = :state');
        names['#state'] = 'state';
        values[':state'] = { S: filter.state };
      }
      if (low !== undefined && high !== undefined && low > high) return { records: [] };

      const records: FileRecord[] = [];
      let start: Item | undefined = after && startKeyOfHistory(filter.bucket, after);
      let evaluated = 0;
      for (;;) {
        const answer = await call(() =>
          client.send(
            new QueryCommand({
              TableName: table,
              IndexName: historyIndex,
              KeyConditionExpression: `#bucket = :bucket${range}`,
              ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              // One more than the page, to know whether another follows.
              Limit: limit + 1 - records.length,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        ).catch((error: unknown) => {
          throw missingHistoryIndex(error, table) ?? error;
        });
        records.push(...(answer.Items ?? []).map(recordOf));
        evaluated += answer.ScannedCount ?? 0;
        start = answer.LastEvaluatedKey;
        if (records.length > limit) {
          const page = records.slice(0, limit);
          return { records: page, cursor: historyCursor(filter, page[limit - 1]!) };
        }
        if (!start) return { records };
        if (evaluated >= HISTORY_READ_BUDGET) {
          const position = positionOfHistoryOrder(start[historyOrder]?.S ?? '');
          if (!position)
            throw new DropgateError('INVARIANT_BROKEN', `DynamoDB handed back a key of no history order`);
          return { records, cursor: historyCursor(filter, position) };
        }
      }
    },
    async close() {
      if (!options.client) client.destroy();
    },
  };
}

function recordOf(item: Item): FileRecord {
  return JSON.parse(item.record!.S!) as FileRecord;
}

/** A page's cursor: the last item's key, opaque to callers. */
function cursorOf(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function startKeyOf(cursor: string, bucket: string): Item {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^version#[0-9a-f]{64}$/.test(key)) {
    throw new DropgateError('BAD_REQUEST', `cursor ${JSON.stringify(cursor)} is not one this ledger gave`);
  }
  return { [partitionKey]: { S: key }, [unfinishedBucket]: { S: bucket } };
}

/** Where the history query of `bucket` starts after `position`: the index's keys and the table's. */
function startKeyOfHistory(bucket: string, position: HistoryPosition): Item {
  return {
    [historyBucket]: { S: bucket },
    [historyOrder]: { S: historyOrderOf(position) },
    [partitionKey]: { S: versionKey({ bucket, key: position.key, version: position.version }) },
  };
}

/** The clear error for a table made before the history existed, which lacks its index. */
function missingHistoryIndex(error: unknown, table: string): DropgateError | undefined {
  const cause = error instanceof DropgateError ? error.cause : error;
  const name = (cause as { name?: string })?.name;
  const message = describeError(cause);
  if (name !== 'ValidationException' || !/index/i.test(message)) return undefined;
  return new DropgateError(
    'CONFIG_INVALID',
    `DynamoDB table ${table} has no "${historyIndex}" index, which the load history reads: add it with ` +
      `\`${ADD_HISTORY_INDEX_COMMAND}\` (it also fills it in for the records already written), or as ` +
      'docs/deploy-aws.md shows',
    { cause, context: { table, index: historyIndex } },
  );
}

/** Errors that say DynamoDB could not serve the call now; the same call can succeed later. */
const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'LimitExceededException',
  'TimeoutError',
]);

function asLedgerError(error: unknown, table: string): unknown {
  if (error instanceof DropgateError) return error;
  const name = (error as { name?: string }).name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // Conditional failures are the compare-and-set's answer, handled where it is made.
  if (name === 'ConditionalCheckFailedException') return error;
  const context = { table, awsError: name };
  if (name === 'ResourceNotFoundException') {
    return new DropgateError(
      'CONFIG_INVALID',
      `DynamoDB table ${table} (or its "${unfinishedIndex}" index) does not exist: create it with ` +
        '`dropgate ledger create-table` or the command in the README',
      { cause: error, context },
    );
  }
  // No HTTP status: the request never got an answer (connection refused or reset, a timeout).
  if (TRANSIENT.has(name) || status === undefined || status >= 500) {
    return new DropgateError('LEDGER_UNAVAILABLE', `DynamoDB did not answer: ${describeError(error)}`, {
      cause: error,
      context,
    });
  }
  return new DropgateError(
    'CONFIG_INVALID',
    `DynamoDB refused a ledger call on ${table}: ${name}: ${describeError(error)}`,
    {
      cause: error,
      context,
    },
  );
}
