/**
 * A gateway on the local store and ledger publishing to Pub/Sub (the emulator): an uploaded CSV's
 * events, dead letters and summary, pulled back from the emulator, are what the local sink writes for
 * the same object version, ids and bodies.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalEventSink } from '../../adapters/event-sink/local/local-event-sink.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createLocalObjectStore } from '../../adapters/object-store/local/local-object-store.js';
import { ingestFile } from '../../workers/ingest-file.js';
import { emulatedProject, type EmulatedProject } from '../support/pubsub-emulator.js';
import { ordersFile } from './support/orders-csv.js';
import {
  SIGNING_SECRET,
  makeTemporaryDirectory,
  startTestGateway,
  upload,
  type TestGateway,
} from './support/test-gateway.js';

const TOPICS = ['orders', 'orders.dead-letter', 'dropgate.files'];

let gateway: TestGateway | undefined;
let project: EmulatedProject | undefined;
afterEach(async () => {
  await gateway?.close();
  await project?.close();
  gateway = project = undefined;
});

/** What the local sink writes for the object `key` of the gateway's bucket: the same engine, ids and all. */
async function localSinkEvents(running: TestGateway, key: string): Promise<Map<string, string[]>> {
  const work = await makeTemporaryDirectory('dropgate-local-sink-');
  const store = await createLocalObjectStore({
    directory: join(running.dataDir, 'bucket'),
    temporaryDirectory: join(work, 'tmp'),
    baseUrl: running.url,
    signingSecret: SIGNING_SECRET,
  });
  const sink = await createLocalEventSink({ directory: join(work, 'events') });
  const result = await ingestFile(
    { store, sink, ledger: createMemoryLedger(), controlTopic: 'dropgate.files', owner: 'local' },
    { dataset: running.config.datasets[0]!, key, mode: 'notification' },
  );
  await sink.close();
  expect(result.status).toBe('ingested');
  const topics = new Map<string, string[]>();
  for (const topic of TOPICS) {
    const text = await readFile(sink.pathOf(topic), 'utf8');
    topics.set(
      topic,
      text.split('\n').filter((line) => line !== ''),
    );
  }
  return topics;
}

/** A summary's duration is the one thing two ingestions of a file do not share. */
const withoutDuration = (body: string) => {
  const event = JSON.parse(body) as { data: { durationMs?: number } };
  delete event.data.durationMs;
  return event;
};

describe('the pubsub sink in a gateway', () => {
  it('publishes an uploaded file to Pub/Sub exactly as the local sink writes it', async () => {
    project = emulatedProject('gateway');
    await project.createTopics(...TOPICS);
    gateway = await startTestGateway({
      configFile: {
        sink: { type: 'pubsub', projectId: project.projectId },
        datasets: [
          {
            name: 'orders',
            match: 'vendors/*/orders/**',
            schema: join(process.cwd(), 'schemas/orders'),
            eventType: 'OrderReceived',
            topic: 'orders',
            deadLetterTopic: 'orders.dead-letter',
          },
        ],
      },
    });
    const { csv, goodRows, badRows } = ordersFile(3_000, 9);
    const stored = await upload(gateway, 'orders.csv', csv);
    await gateway.running.gateway.idle();

    const local = await localSinkEvents(gateway, stored.objectKey);
    expect(local.get('orders')).toHaveLength(goodRows.length);
    expect(local.get('orders.dead-letter')).toHaveLength(badRows.length);
    expect(local.get('dropgate.files')).toHaveLength(1);
    for (const topic of ['orders', 'orders.dead-letter']) {
      const pulled = await project.pull(topic);
      for (const { attributes } of pulled) {
        expect(attributes['content-type']).toBe('application/cloudevents+json');
      }
      const bodies = pulled.map(({ data }) => data.toString('utf8'));
      expect(bodies.sort()).toEqual([...local.get(topic)!].sort());
    }
    const [summary] = await project.pull('dropgate.files');
    expect(withoutDuration(summary!.data.toString('utf8'))).toEqual(
      withoutDuration(local.get('dropgate.files')![0]!),
    );
    expect(JSON.parse(summary!.data.toString('utf8'))).toMatchObject({
      type: 'FileIngested',
      data: { rowsPublished: goodRows.length, rowsRejected: badRows.length },
    });
  });

  it('refuses at start a dataset topic Pub/Sub does not allow, naming the field', async () => {
    await expect(
      startTestGateway({
        configFile: {
          sink: { type: 'pubsub', projectId: 'dropgate-test' },
          datasets: [
            {
              name: 'orders',
              match: '**',
              schema: join(process.cwd(), 'schemas/orders'),
              eventType: 'OrderReceived',
              topic: '9orders',
              deadLetterTopic: 'orders.dead-letter',
            },
          ],
        },
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('datasets.0.topic: must be a Pub/Sub topic id'),
    });
  });
});
