/**
 * Runs the Ledger contract against the DynamoDB ledger on dynalite (a fresh table per test), then what
 * is its own: claims raced from several processes, paging, `latest` over many versions and its repair
 * after a crash between two writes, and faults.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbLedger, type DynamoDbLedger } from '../../adapters/ledger/dynamodb/dynamodb-ledger.js';
import { createLedgerTable, ledgerTableDefinition } from '../../adapters/ledger/dynamodb/ledger-table.js';
import { packageRoot } from '../../app/node/load-config.js';
import { startDynalite, useTestCredentials } from '../support/aws-stand-ins.js';
import {
  claimBy,
  ledgerContract,
  ledgerHistoryContract,
  outcomeOf,
  ref,
  type LedgerFactory,
} from './ledger-contract.js';

useTestCredentials();
const dynalite = await startDynalite();
process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
afterAll(() => dynalite.stop());

let tables = 0;
/** A table of its own for each test, created as `dropgate ledger create-table` does. */
async function freshTable(): Promise<string> {
  const table = `ledger-${process.pid}-${++tables}`;
  expect(await createLedgerTable({ table })).toMatchObject({ created: true });
  return table;
}

const dynamoDbLedger: LedgerFactory = async ({ now }) => {
  const ledger = createDynamoDbLedger({ table: await freshTable(), now });
  return { ledger, dispose: () => ledger.close() };
};

ledgerContract('dynamodb on dynalite', dynamoDbLedger);
ledgerHistoryContract('dynamodb on dynalite', dynamoDbLedger);

describe('DynamoDB ledger', () => {
  let table: string;
  let clock: number;
  let ledgers: DynamoDbLedger[];
  const open = (options: Partial<Parameters<typeof createDynamoDbLedger>[0]> = {}) => {
    const ledger = createDynamoDbLedger({ table, now: () => clock, ...options });
    ledgers.push(ledger);
    return ledger;
  };

  beforeEach(async () => {
    table = await freshTable();
    clock = Date.parse('2024-05-01T12:00:00.000Z');
    ledgers = [];
  });
  afterEach(async () => {
    await Promise.all(ledgers.map((ledger) => ledger.close()));
  });

  it('leaves an existing table as it is when asked to create it again', async () => {
    expect(await createLedgerTable({ table })).toEqual({
      created: false,
      historyIndexAdded: false,
      recordsFilled: 0,
    });
  });

  it('grants each version to exactly one of several processes racing to claim it', async () => {
    const module = pathToFileURL(join(packageRoot, 'dist/adapters/ledger/dynamodb/dynamodb-ledger.js')).href;
    const versions = Array.from({ length: 20 }, (_, index) => `v${index}`);
    const script = `import { createDynamoDbLedger } from ${JSON.stringify(module)};
      const ledger = createDynamoDbLedger({ table: ${JSON.stringify(table)} });
      process.stdout.write('ready\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      const owner = 'process-' + process.pid;
      const results = await Promise.all(${JSON.stringify(versions)}.map((version) =>
        ledger.claim({ bucket: 'contract', key: 'race.csv', version },
          { dataset: 'orders', owner, leaseMs: 600000, mode: 'notification' })));
      process.stdout.write(JSON.stringify(results.map((result) => result.claimed ? owner : null)) + '\\n');
      await ledger.close();`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const outputs = children.map(
      (child) =>
        new Promise<{ lines: string[]; code: number | null; stderr: string }>((resolve) => {
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
            if (stdout === 'ready\n') readyOne();
          });
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('exit', (code) => resolve({ lines: stdout.trim().split('\n'), code, stderr }));
        }),
    );
    let ready = 0;
    let allReady: () => void;
    const started = new Promise<void>((resolve) => (allReady = resolve));
    function readyOne() {
      if (++ready === children.length) allReady();
    }
    await started;
    // Every process is connected and waiting: let them all go at once.
    for (const child of children) child.stdin.end('go\n');
    const results = await Promise.all(outputs);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const winners = results.map((result) => JSON.parse(result.lines[1]!) as Array<string | null>);
    const ledger = open({ now: Date.now });
    for (const [index, version] of versions.entries()) {
      const owners = winners.map((claims) => claims[index]).filter((owner) => owner !== null);
      expect(owners, version).toHaveLength(1);
      const record = await ledger.get({ bucket: 'contract', key: 'race.csv', version });
      expect(record).toMatchObject({ owner: owners[0], attempts: 1, state: 'processing' });
    }
  }, 60_000);

  it('pages many unfinished versions, each once, in a stable order, with no cursor on the last page', async () => {
    const ledger = open();
    const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };
    const keys = Array.from({ length: 75 }, (_, index) => `vendors/acme/${index}.csv`);
    const expected = keys.filter((_, index) => index % 20 !== 0);
    // The keys at once, each key's steps in order: the listing is under test, not the landings.
    await Promise.all(
      keys.map(async (key, index) => {
        await ledger.register(ref('v1', key), landing);
        if (index % 10 === 0) {
          await ledger.claim(ref('v1', key), claimBy('worker'));
          await ledger.finish(ref('v1', key), 'worker', outcomeOf(index % 20 === 0 ? 'ingested' : 'failed'));
        }
      }),
    );
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await ledger.unfinished({ bucket: 'contract', limit: 12, ...(cursor ? { cursor } : {}) });
      pages.push(page.records.map((record) => record.key));
      cursor = page.cursor;
    } while (cursor);
    expect(pages.flat().sort()).toEqual(expected.sort());
    expect(pages.slice(0, -1).every((page) => page.length === 12)).toBe(true);
    expect(pages.at(-1)!.length).toBeGreaterThan(0);
    // The same pages again: the order is stable.
    const again = await ledger.unfinished({ bucket: 'contract', limit: 12 });
    expect(again.records.map((record) => record.key)).toEqual(pages[0]);

    await expect(ledger.unfinished({ bucket: 'contract', cursor: 'not-a-cursor' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('answers latest from the key index over many versions of one key', async () => {
    const ledger = open();
    const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };
    for (let index = 0; index < 60; index++) {
      clock += 1_000;
      await ledger.register(ref(`v${index}`), landing);
    }
    expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v59');
    // Old versions claimed again do not move it back.
    clock += 1_000;
    await ledger.claim(ref('v3'), claimBy('worker'));
    expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v59');
  });

  it('repairs latest when a crash fell between a version item and the key index', async () => {
    const ledger = open();
    const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };
    await ledger.register(ref('v1'), landing);
    clock += 1_000;
    // A process that crashed after writing v2's item, before the key index.
    const crashing = new DynamoDBClient({});
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') throw new Error('process killed');
        return next(args);
      },
      { step: 'initialize' },
    );
    await expect(open({ client: crashing }).register(ref('v2'), landing)).rejects.toThrow();
    crashing.destroy();
    expect((await ledger.get(ref('v2')))?.state).toBe('pending');
    expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v1');

    // The landing, never acknowledged, comes again: the index catches up.
    clock += 1_000;
    expect((await ledger.register(ref('v2'), landing)).changed).toBe(false);
    expect((await ledger.latest('contract', 'vendors/acme/orders/a.csv'))?.version).toBe('v2');
  });

  it('keeps finished records for the retention, then lets TTL delete them; unfinished ones for good', async () => {
    const ledger = open({ retentionDays: 30 });
    await ledger.claim(ref('v1'), claimBy('worker'));
    const client = new DynamoDBClient({});
    const item = async () =>
      (
        await client.send(
          new GetItemCommand({
            TableName: table,
            Key: { pk: { S: `version#${sha256Of('contract', 'vendors/acme/orders/a.csv', 'v1')}` } },
          }),
        )
      ).Item;
    expect((await item())?.expiresAt).toBeUndefined();
    expect((await item())?.unfinishedBucket?.S).toBe('contract');
    await ledger.finish(ref('v1'), 'worker', outcomeOf('ingested'));
    expect(Number((await item())?.expiresAt?.N)).toBe(Math.floor(clock / 1000) + 30 * 86_400);
    expect((await item())?.unfinishedBucket).toBeUndefined();
    client.destroy();
  });

  it('fails LEDGER_UNAVAILABLE when DynamoDB does not answer, CONFIG_INVALID for a missing table', async () => {
    const unreachable = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 2 });
    await expect(open({ client: unreachable }).get(ref('v1'))).rejects.toMatchObject({
      code: 'LEDGER_UNAVAILABLE',
    });
    unreachable.destroy();
    const throttled = new DynamoDBClient({ maxAttempts: 1 });
    throttled.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
          name: 'ProvisionedThroughputExceededException',
          $metadata: { httpStatusCode: 400 },
        });
      },
      { step: 'finalizeRequest' },
    );
    await expect(open({ client: throttled }).claim(ref('v1'), claimBy('worker'))).rejects.toMatchObject({
      code: 'LEDGER_UNAVAILABLE',
    });
    throttled.destroy();
    await expect(open({ table: 'no-such-table' }).get(ref('v1'))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('dropgate ledger create-table'),
    });
  });

  it('refuses the history of a table made before its index, naming the index and the command that adds it', async () => {
    const client = new DynamoDBClient({});
    const definition = ledgerTableDefinition(`${table}-old`);
    await client.send(
      new CreateTableCommand({
        ...definition,
        AttributeDefinitions: definition.AttributeDefinitions!.filter(
          (attribute) => !attribute.AttributeName!.startsWith('history'),
        ),
        GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes!.filter(
          (index) => index.IndexName !== 'history',
        ),
      }),
    );
    while (
      (await client.send(new DescribeTableCommand({ TableName: `${table}-old` }))).Table?.TableStatus !==
      'ACTIVE'
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    client.destroy();
    const ledger = open({ table: `${table}-old` });
    await ledger.register(ref('v1'), { dataset: 'orders', via: 'test', request: 'ingest' });
    const error = await ledger.history({ bucket: 'contract' }).catch((reason: unknown) => reason);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((error as Error).message).toContain(`table ${table}-old has no "history" index`);
    expect((error as Error).message).toContain('dropgate ledger create-table --config <file>');
  });

  it('lists records written before the history once create-table has filled them in, each once, in order', async () => {
    const ledger = open();
    const landing = { dataset: 'orders', via: 'test', request: 'ingest' as const };
    await ledger.register(ref('v1'), landing);
    await ledger.claim(ref('v1'), claimBy('worker'));
    await ledger.finish(ref('v1'), 'worker', outcomeOf('ingested'));
    clock += 1_000;
    await ledger.register(ref('v2'), { ...landing, dataset: 'stock' });
    await ledger.register(ref('v1', 'vendors/acme/orders/b.csv'), landing);
    clock += 1_000;
    await ledger.claim(ref('v1', 'vendors/globex/c.csv'), claimBy('worker'));
    const expected = [
      'vendors/globex/c.csv@v1',
      'vendors/acme/orders/a.csv@v2',
      'vendors/acme/orders/b.csv@v1',
      'vendors/acme/orders/a.csv@v1',
    ];
    expect((await ledger.history({ bucket: 'contract' })).records.map(labelOf)).toEqual(expected);

    // Items as the ledger wrote them before the history: without its attributes, so not in its index.
    const client = new DynamoDBClient({});
    const { Items } = await client.send(new ScanCommand({ TableName: table }));
    const versions = (Items ?? []).filter((item) => item.pk!.S!.startsWith('version#'));
    expect(versions).toHaveLength(4);
    for (const item of versions) {
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: item.pk! },
          UpdateExpression: 'REMOVE historyBucket, historyOrder, dataset',
        }),
      );
    }
    client.destroy();
    expect((await ledger.history({ bucket: 'contract' })).records).toEqual([]);

    expect(await createLedgerTable({ table })).toEqual({
      created: false,
      historyIndexAdded: false,
      recordsFilled: 4,
    });
    const page = await ledger.history({ bucket: 'contract' });
    expect(page.records.map(labelOf)).toEqual(expected);
    for (const record of page.records) expect(record).toEqual(await ledger.get(record));
    expect((await ledger.history({ bucket: 'contract', dataset: 'stock' })).records.map(labelOf)).toEqual([
      'vendors/acme/orders/a.csv@v2',
    ]);
    expect((await createLedgerTable({ table })).recordsFilled).toBe(0);
  });

  it('ignores items that are not its own records in the unfinished index', async () => {
    // A stray item without the ledger's attributes is not in the sparse index, so paging skips it.
    const client = new DynamoDBClient({});
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'operator-note' } } }));
    client.destroy();
    expect((await open().unfinished({ bucket: 'contract' })).records).toEqual([]);
  });
});

const labelOf = (record: { key: string; version: string }) => `${record.key}@${record.version}`;

function sha256Of(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
