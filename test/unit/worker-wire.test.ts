/**
 * The Worker's wiring (app/worker/wire.ts) for the cloud sinks it publishes to over HTTP: which sinks run
 * on Workers, and what the environment must hold for each, a missing or bad secret named without its value.
 */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';
import { wireWorker, workerConfigOf } from '../../app/worker/wire.js';

/** The bindings and secrets every Worker needs, whatever its sink. */
const base = {
  BUCKET: { head() {}, get() {}, put() {}, list() {} },
  LEDGER: { idFromName() {}, get() {} },
  DROPGATE_ADMIN_TOKEN: 'admin-token-of-the-unit-test',
  DROPGATE_VENDOR_KEYS: 'acme=acme-key-of-the-unit-test',
  R2_ACCOUNT_ID: 'account',
  R2_ACCESS_KEY_ID: 'access-key',
  R2_SECRET_ACCESS_KEY: 'secret-key',
};

function configWith(sink: unknown) {
  return workerConfigOf(
    parseOrExplain(
      configFileSchema,
      {
        controlTopic: 'dropgate-files',
        store: { type: 'r2', bucket: 'dropgate-uploads' },
        sink,
        ledger: { type: 'durable-object' },
        intake: [{ type: 'r2-queue' }],
        datasets: [
          {
            name: 'orders',
            match: 'vendors/*/orders/**',
            schema: 'schemas/orders',
            eventType: 'OrderReceived',
            topic: 'orders',
            deadLetterTopic: 'orders-dead-letter',
          },
        ],
      },
      'the test config',
    ),
  );
}

const problem = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { code: string; message: string }).message;
  }
  throw new Error('no error');
};

describe('the Worker wiring of the cloud sinks', () => {
  it('names the sinks that run on Workers when the config has another', () => {
    expect(() => configWith({ type: 'local' })).toThrow(
      'sink.type: local does not run on Workers; use "cloudflare-queues", "pubsub", "sqs"',
    );
  });

  it('wires pubsub with a service account key, or with the emulator and no key', () => {
    const config = configWith({ type: 'pubsub', projectId: 'my-project' });
    const key = JSON.stringify({ client_email: 'a@b.iam.gserviceaccount.com', private_key: 'pem' });
    expect(wireWorker(config, { ...base, GOOGLE_SERVICE_ACCOUNT_KEY: key }).sink.capabilities).toEqual({
      ordered: false,
      maxMessageBytes: 7_300_000,
    });
    expect(wireWorker(config, { ...base, PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' }).sink).toBeDefined();
  });

  it('names a missing or malformed service account key, never repeating it', () => {
    const config = configWith({ type: 'pubsub', projectId: 'my-project' });
    expect(problem(() => wireWorker(config, base))).toContain(
      'GOOGLE_SERVICE_ACCOUNT_KEY: secret GOOGLE_SERVICE_ACCOUNT_KEY is missing: run `wrangler secret put GOOGLE_SERVICE_ACCOUNT_KEY < key.json`',
    );
    const notJson = problem(() =>
      wireWorker(config, { ...base, GOOGLE_SERVICE_ACCOUNT_KEY: 'hunter2-secret' }),
    );
    expect(notJson).toContain('secret GOOGLE_SERVICE_ACCOUNT_KEY: is not JSON');
    expect(notJson).not.toContain('hunter2-secret');
    const partial = JSON.stringify({ client_email: 'a@b', private_key_id: 'k1' });
    expect(problem(() => wireWorker(config, { ...base, GOOGLE_SERVICE_ACCOUNT_KEY: partial }))).toContain(
      'secret GOOGLE_SERVICE_ACCOUNT_KEY: has no "private_key"',
    );
    expect(problem(() => wireWorker(config, { ...base, PUBSUB_EMULATOR_HOST: 'http://x' }))).toContain(
      'PUBSUB_EMULATOR_HOST: must be host:port',
    );
  });

  it('wires sqs with an access key and a region from the config or AWS_REGION, naming what is missing', () => {
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-access-key' };
    expect(
      wireWorker(configWith({ type: 'sqs', region: 'eu-west-1' }), { ...base, ...keys }).sink,
    ).toBeDefined();
    const regionless = configWith({ type: 'sqs' });
    expect(wireWorker(regionless, { ...base, ...keys, AWS_REGION: 'eu-west-1' }).sink).toBeDefined();
    const message = problem(() => wireWorker(regionless, { ...base, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }));
    expect(message).toContain(
      'AWS_SECRET_ACCESS_KEY: secret AWS_SECRET_ACCESS_KEY is missing: run `wrangler secret put AWS_SECRET_ACCESS_KEY`',
    );
    expect(message).toContain(
      'AWS_REGION is missing: set sink.region in the config, or AWS_REGION in [vars]',
    );
    expect(message).not.toContain('AKIDEXAMPLE');
  });
});
