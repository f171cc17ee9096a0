/**
 * A gateway on the local store with the sqs sink (fauxqs) and the dynamodb ledger (dynalite), pointed at
 * them by the SDK's standard variables only, ingests an uploaded CSV: every event received from the
 * queues is the one the local sink writes for the same file version, id and body.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbLedger } from '../../adapters/ledger/dynamodb/dynamodb-ledger.js';
import { embeddedConfig, packageRoot } from '../../app/node/load-config.js';
import {
  drainQueue,
  startDynalite,
  startFauxqs,
  useTestCredentials,
  type StandIn,
} from '../support/aws-stand-ins.js';
import { ORDERS_HEADER, badOrderLine, orderLine } from './support/orders-csv.js';
import {
  loadTestConfig,
  makeTemporaryDirectory,
  startIn,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

useTestCredentials();

const TABLE = 'dropgate-ledger';
const QUEUES = { topic: 'orders', deadLetterTopic: 'orders-dead-letter', controlTopic: 'dropgate-files' };

let fauxqs: StandIn;
let dynalite: StandIn;
let sqs: SQSClient;
let root: string;
const queueUrls = new Map<string, string>();

beforeAll(async () => {
  [fauxqs, dynalite] = await Promise.all([startFauxqs(), startDynalite()]);
  process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  for (const name of Object.values(QUEUES)) {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    queueUrls.set(name, QueueUrl!);
  }
  root = await makeTemporaryDirectory();
});

afterAll(async () => {
  sqs.destroy();
  await Promise.all([fauxqs.stop(), dynalite.stop()]);
  await rm(root, { recursive: true, force: true });
});

/** The lines of the local sink's file, exactly as written. */
async function linesOf(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line.length > 0);
}

/** A gateway started in `directory` on the data directory both gateways share (the same bucket). */
async function gatewayWith(directory: string, adapters: Record<string, unknown>): Promise<TestGateway> {
  await mkdir(directory, { recursive: true });
  await writeFile(
    join(directory, 'dropgate.config.json'),
    JSON.stringify({
      ...adapters,
      dataDir: join(root, 'data'),
      datasets: embeddedConfig.datasets.map((dataset) => ({
        ...dataset,
        topic: QUEUES.topic,
        deadLetterTopic: QUEUES.deadLetterTopic,
      })),
    }),
  );
  return startIn(directory, await loadTestConfig(directory));
}

describe('a gateway with the sqs sink and the dynamodb ledger', () => {
  it('creates its ledger table with dropgate ledger create-table', async () => {
    const directory = join(root, 'cli');
    await mkdir(directory, { recursive: true });
    await writeFile(
      join(directory, 'dropgate.config.json'),
      JSON.stringify({ ...embeddedConfig, ledger: { type: 'dynamodb', table: TABLE } }),
    );
    // Not spawnSync: dynalite answers from this process, whose event loop must keep running.
    const run = () =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [join(packageRoot, 'bin/dropgate.js'), 'ledger', 'create-table'],
          {
            cwd: directory,
            env: { ...process.env },
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const first = await run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe(`created DynamoDB table ${TABLE}\n`);
    const again = await run();
    expect(again.stdout).toBe(`DynamoDB table ${TABLE} exists already\n`);
  });

  it('sends to SQS exactly the events the local sink writes for the same file, ids and bodies', async () => {
    const rows = [ORDERS_HEADER];
    for (let row = 1; row <= 300; row++) rows.push(row % 25 === 0 ? badOrderLine(row) : orderLine(row));
    const csv = `${rows.join('\n')}\n`;

    const aws = await gatewayWith(join(root, 'aws'), {
      sink: { type: 'sqs' },
      ledger: { type: 'dynamodb', table: TABLE },
      controlTopic: QUEUES.controlTopic,
    });
    let stored;
    try {
      stored = await upload(aws, 'orders.csv', csv);
      await aws.running.gateway.idle();
      const ledger = createDynamoDbLedger({ table: TABLE });
      const record = await ledger.get({ bucket: 'local', key: stored.objectKey, version: stored.version });
      await ledger.close();
      expect(record).toMatchObject({ state: 'ingested', attempts: 1, via: 'local-upload' });
    } finally {
      await aws.close();
    }

    // The same bucket, the same object version, into the local sink and a ledger of its own.
    const local = await gatewayWith(join(root, 'local'), { controlTopic: QUEUES.controlTopic });
    try {
      const result = await local.running.gateway.ingestNow(stored.objectKey, 'notification');
      expect(result.status).toBe('ingested');
    } finally {
      await local.close();
    }

    for (const topic of Object.values(QUEUES)) {
      const expected = (await linesOf(join(root, 'data', 'events', `${topic}.ndjson`))).map((body) => ({
        id: (JSON.parse(body) as { id: string }).id,
        body,
      }));
      const received = (await drainQueue(sqs, queueUrls.get(topic)!)).map((message) => ({
        id: message.MessageAttributes!['ce-id']!.StringValue!,
        body: message.Body!,
      }));
      const byId = (left: { id: string }, right: { id: string }) => (left.id < right.id ? -1 : 1);
      if (topic === QUEUES.controlTopic) {
        // A file's summary tells how long its attempt took: the same event, its timings aside.
        expect(received.map((event) => event.id)).toEqual(expected.map((event) => event.id));
        continue;
      }
      expect(received.length, topic).toBe(topic === QUEUES.topic ? 288 : 12);
      expect([...received].sort(byId)).toEqual([...expected].sort(byId));
    }
  });
});
