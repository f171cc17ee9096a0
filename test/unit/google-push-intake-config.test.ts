/** The config of the Google push intakes: verified by default, inline by default, clear when incomplete. */
import { describe, expect, it } from 'vitest';
import { configFileSchema, parseOrExplain } from '../../app/config.js';

const dataset = {
  name: 'orders',
  match: 'vendors/*/orders/**',
  schema: 'schemas/orders/v1.json',
  eventType: 'OrderReceived',
  topic: 'orders',
  deadLetterTopic: 'orders.dead-letter',
};

const parse = (intake: unknown[]) =>
  parseOrExplain(configFileSchema, { datasets: [dataset], intake }, 'config');

describe('the config of a Google push intake', () => {
  for (const type of ['gcs-pubsub-push', 'eventarc'] as const) {
    it(`${type}: verifies OIDC tokens and ingests inline unless told otherwise`, () => {
      const serviceAccountEmail = 'push-invoker@acme-prod.iam.gserviceaccount.com';
      expect(parse([{ type, serviceAccountEmail }]).intake).toEqual([
        { type, serviceAccountEmail, auth: 'oidc', mode: 'inline' },
      ]);
      expect(
        parse([{ type, serviceAccountEmail, audience: 'https://x.example/push', mode: 'background' }]).intake,
      ).toEqual([
        { type, serviceAccountEmail, audience: 'https://x.example/push', auth: 'oidc', mode: 'background' },
      ]);
    });

    it(`${type}: without serviceAccountEmail says what is missing and how to turn verification off`, () => {
      expect(() => parse([{ type }])).toThrow(
        `intake.0.serviceAccountEmail: is missing: the service account the push signs its OIDC token as ` +
          `(or "auth": "none" to accept unsigned pushes, e.g. from the emulator)`,
      );
    });

    it(`${type}: takes "auth": "none" without a service account`, () => {
      expect(parse([{ type, auth: 'none' }]).intake).toEqual([{ type, auth: 'none', mode: 'inline' }]);
    });

    it(`${type}: refuses an unknown auth, a malformed email and unknown fields`, () => {
      expect(() => parse([{ type, auth: 'off' }])).toThrow(
        /intake\.0\.auth: Invalid option: expected one of "oidc"\|"none"/,
      );
      expect(() => parse([{ type, serviceAccountEmail: 'push-invoker' }])).toThrow(
        'intake.0.serviceAccountEmail: must be a service account email',
      );
      expect(() => parse([{ type, auth: 'none', bucket: 'b' }])).toThrow(
        /intake\.0: Unrecognized key: "bucket"/,
      );
    });
  }

  it('gcs-pubsub-pull: takes a subscription path or name, with defaults for concurrency and lease extension', () => {
    expect(
      parse([
        { type: 'gcs-pubsub-pull', subscription: 'projects/acme-prod/subscriptions/gcs-uploads.dropgate' },
      ]).intake,
    ).toEqual([
      {
        type: 'gcs-pubsub-pull',
        subscription: 'projects/acme-prod/subscriptions/gcs-uploads.dropgate',
        concurrency: 4,
        maxExtensionMinutes: 60,
        leaseSeconds: 60,
      },
    ]);
    expect(
      parse([
        { type: 'gcs-pubsub-pull', subscription: 'gcs-uploads', projectId: 'acme-prod', concurrency: 2 },
      ]).intake,
    ).toEqual([
      {
        type: 'gcs-pubsub-pull',
        subscription: 'gcs-uploads',
        projectId: 'acme-prod',
        concurrency: 2,
        maxExtensionMinutes: 60,
        leaseSeconds: 60,
      },
    ]);
  });

  it('gcs-pubsub-pull: names what is wrong with a subscription, a project or a limit', () => {
    expect(() => parse([{ type: 'gcs-pubsub-pull' }])).toThrow(/intake\.0\.subscription: is missing/);
    expect(() =>
      parse([{ type: 'gcs-pubsub-pull', subscription: 'projects/acme-prod/topics/gcs-uploads' }]),
    ).toThrow(
      'intake.0.subscription: must be a Pub/Sub subscription: projects/<project>/subscriptions/<name>, or the name alone',
    );
    expect(() =>
      parse([{ type: 'gcs-pubsub-pull', subscription: 'gcs-uploads', projectId: 'Acme' }]),
    ).toThrow('intake.0.projectId: must be a Google Cloud project id');
    expect(() => parse([{ type: 'gcs-pubsub-pull', subscription: 'gcs-uploads', concurrency: 0 }])).toThrow(
      /intake\.0\.concurrency/,
    );
    for (const leaseSeconds of [9, 601, 30.5]) {
      expect(() => parse([{ type: 'gcs-pubsub-pull', subscription: 'gcs-uploads', leaseSeconds }])).toThrow(
        /intake\.0\.leaseSeconds/,
      );
    }
  });

  it('keeps the local upload intake, in the background, as the default', () => {
    expect(parseOrExplain(configFileSchema, { datasets: [dataset] }, 'config').intake).toEqual([
      { type: 'local-upload', mode: 'background' },
    ]);
    expect(parse([{ type: 'local-upload' }]).intake).toEqual([{ type: 'local-upload', mode: 'background' }]);
  });

  it('names the intake types it knows for an unknown one', () => {
    expect(() => parse([{ type: 'gcs-pull' }])).toThrow(
      'intake.0.type: must be one of: local-upload, gcs-pubsub-push, gcs-pubsub-pull, eventarc, sqs, sns-https, r2-queue',
    );
  });

  it('takes each intake type once', () => {
    expect(() =>
      parse([
        { type: 'gcs-pubsub-push', auth: 'none' },
        { type: 'gcs-pubsub-push', auth: 'none' },
      ]),
    ).toThrow('each intake type may appear once');
  });
});
