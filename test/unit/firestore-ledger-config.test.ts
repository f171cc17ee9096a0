/** The config of the `firestore` ledger: its fields, their defaults, and what is said of a bad one. */
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

const parse = (ledger: unknown) =>
  parseOrExplain(configFileSchema, { ledger, datasets: [dataset] }, 'config file dropgate.json');

describe('the firestore ledger config', () => {
  it('takes a project, defaulting the database to (default) and the collections to no prefix', () => {
    expect(parse({ type: 'firestore', projectId: 'acme-data-prod' }).ledger).toEqual({
      type: 'firestore',
      projectId: 'acme-data-prod',
      databaseId: '(default)',
    });
    expect(
      parse({
        type: 'firestore',
        projectId: 'acme-data-prod',
        databaseId: 'dropgate',
        collectionPrefix: 'eu-',
      }).ledger,
    ).toEqual({
      type: 'firestore',
      projectId: 'acme-data-prod',
      databaseId: 'dropgate',
      collectionPrefix: 'eu-',
    });
  });

  it('takes a retention in days for finished records', () => {
    expect(parse({ type: 'firestore', projectId: 'acme-data-prod', retentionDays: 90 }).ledger).toMatchObject(
      {
        retentionDays: 90,
      },
    );
  });

  it('keeps the local ledger the default', () => {
    expect(parseOrExplain(configFileSchema, { datasets: [dataset] }, 'config').ledger).toEqual({
      type: 'local',
    });
  });

  it('names a missing project, a bad database id, an unknown field and an unknown type', () => {
    expect(() => parse({ type: 'firestore' })).toThrow('ledger.projectId: is missing (must be a string)');
    expect(() => parse({ type: 'firestore', projectId: 'acme-data-prod', databaseId: 'Bad_Name' })).toThrow(
      'ledger.databaseId: must be (default) or a Firestore database id',
    );
    expect(() => parse({ type: 'firestore', projectId: 'Acme' })).toThrow(
      'ledger.projectId: must be a Google Cloud project id',
    );
    expect(() => parse({ type: 'firestore', projectId: 'acme-data-prod', collection: 'x' })).toThrow(
      'ledger: Unrecognized key: "collection"',
    );
    expect(() => parse({ type: 'local', projectId: 'acme-data-prod' })).toThrow('ledger: Unrecognized key');
    expect(() => parse({ type: 'firestore', projectId: 'acme-data-prod', retentionDays: 0 })).toThrow(
      'ledger.retentionDays: Too small',
    );
    expect(() => parse({ type: 'redis' })).toThrow(
      'ledger.type: must be one of: local, firestore, dynamodb, durable-object',
    );
  });
});
