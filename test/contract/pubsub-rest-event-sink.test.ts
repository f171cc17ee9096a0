/**
 * The Pub/Sub REST sink (what Workers publish with) on Node against the emulator's REST endpoint: the
 * EventSink contract in structured mode, requests cut at 10 MB of JSON (data in base64), binary mode and
 * packing, a missing topic, requests sent again on a retryable status, and access tokens from a token
 * endpoint that verifies the signed JWT, kept until shortly before they expire.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createAccessTokens,
  parseServiceAccountKey,
  PUBSUB_SCOPE,
  type ServiceAccountKey,
} from '../../adapters/event-sink/pubsub/google-access-token.js';
import {
  createPubSubRestEventSink,
  type PubSubRestEventSinkOptions,
} from '../../adapters/event-sink/pubsub/pubsub-rest-event-sink.js';
import { CLOUDEVENTS_BATCH_CONTENT_TYPE } from '../../adapters/event-sink/packed-events.js';
import type { EventSink } from '../../adapters/ports.js';
import { EncodedEvents } from '../../workers/event-batch.js';
import { emulatedProject, emulatorHost, type EmulatedProject } from '../support/pubsub-emulator.js';
import { eventOfSize, eventSinkContract, testEvent } from './event-sink-contract.js';

eventSinkContract('pubsub over REST (emulator), structured mode', async () => {
  const project = emulatedProject('rest-contract');
  await project.createTopics('orders', 'orders.dead-letter', 'never-used');
  const sink = createPubSubRestEventSink({ projectId: project.projectId, emulatorHost: emulatorHost() });
  const published = async (topic: string) =>
    (await project.pull(topic)).map(({ data, attributes }) => {
      expect(attributes['content-type']).toBe('application/cloudevents+json');
      const body = data.toString('utf8');
      return { id: (JSON.parse(body) as { id: string }).id, body };
    });
  return { sink, published, dispose: project.close };
});

interface SeenRequest {
  url: string;
  authorization: string | null;
  body: string;
}

/**
 * fetch as the sink's, sending every request to the emulator whatever its host and noting it; `answer`
 * may stand in for the emulator's answer to request N (from 1).
 */
function watchedFetch(answer?: (request: number) => Response | undefined) {
  const seen: SeenRequest[] = [];
  const watched: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const body = await request.text();
    seen.push({ url: request.url, authorization: request.headers.get('authorization'), body });
    const stand = answer?.(seen.length);
    if (stand) return stand;
    const { pathname } = new URL(request.url);
    return fetch(`http://${emulatorHost()}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
  };
  return { fetch: watched, seen };
}

const ids = (messages: Array<{ data: Buffer }>) =>
  messages.map(({ data }) => (JSON.parse(data.toString('utf8')) as { id: string }).id).sort();

describe('pubsub REST event sink', () => {
  let project: EmulatedProject;
  let sinks: EventSink[];
  beforeEach(async () => {
    project = emulatedProject('rest');
    sinks = [];
  });
  afterEach(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    await project.close();
  });
  const open = (options: Partial<PubSubRestEventSinkOptions> = {}) => {
    const sink = createPubSubRestEventSink({
      projectId: project.projectId,
      emulatorHost: emulatorHost(),
      ...options,
    });
    sinks.push(sink);
    return sink;
  };

  it('sends at most 10 MB of JSON a request, each body as base64 data with its attributes', async () => {
    await project.createTopics('orders');
    const watch = watchedFetch();
    const sink = open({ fetch: watch.fetch, maxInFlight: 1 });
    // 2,000,000 bytes are 2,666,668 in base64: three make 8 MB of JSON, a fourth would pass 10 MB.
    const events = Array.from({ length: 4 }, (_, index) => eventOfSize(`big-${index}`, 2_000_000));
    expect(await sink.publish('orders', EncodedEvents.of(events))).toEqual({ failed: [] });
    const requests = watch.seen.map(
      ({ body }) =>
        JSON.parse(body) as { messages: Array<{ data: string; attributes: Record<string, string> }> },
    );
    expect(requests.map(({ messages }) => messages.length)).toEqual([3, 1]);
    for (const { body } of watch.seen) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(10_000_000);
    const [first] = requests[0]!.messages;
    expect(Buffer.from(first!.data, 'base64').toString('utf8')).toBe(events[0]!.body);
    expect(first!.attributes).toEqual({
      'content-type': 'application/cloudevents+json',
      dataset: 'orders',
    });
    expect(watch.seen[0]!.url).toBe(
      `http://${emulatorHost()}/v1/projects/${project.projectId}/topics/orders:publish`,
    );
    expect(ids(await project.pull('orders'))).toEqual(events.map(({ id }) => id).sort());
  });

  it('carries binary mode and packed messages as the gRPC sink does', async () => {
    await project.createTopics('orders', 'packed');
    const binary = open({ mode: 'binary' });
    await binary.publish('orders', EncodedEvents.of([testEvent('b-1', { note: 'Zoë' })]));
    const [message] = await project.pull('orders');
    expect(message!.attributes).toMatchObject({
      'ce-id': 'b-1',
      'ce-type': 'OrderReceived',
      'content-type': 'application/json',
      dataset: 'orders',
    });
    expect(JSON.parse(message!.data.toString('utf8'))).toEqual({ id: 'b-1', note: 'Zoë' });

    const packed = open({ rowsPerMessage: new Map([['packed', 10]]) });
    const events = Array.from({ length: 25 }, (_, index) => testEvent(`p-${index}`));
    expect(await packed.publish('packed', EncodedEvents.of(events))).toEqual({ failed: [] });
    const messages = await project.pull('packed');
    expect(messages).toHaveLength(3);
    for (const { attributes } of messages) {
      expect(attributes['content-type']).toBe(CLOUDEVENTS_BATCH_CONTENT_TYPE);
    }
    const unpacked = messages.flatMap(
      ({ data }) => JSON.parse(data.toString('utf8')) as Array<{ id: string }>,
    );
    expect(unpacked.map(({ id }) => id).sort()).toEqual(events.map(({ id }) => id).sort());
  });

  it('fails the whole publish for a topic that does not exist, naming topic and project', async () => {
    await expect(open().publish('nowhere', EncodedEvents.of([testEvent('lost')]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(
        new RegExp(`topic "nowhere" of project "${project.projectId}" does not exist`),
      ),
    });
  });

  it('sends a request again after a retryable status, and reports it retryable once attempts run out', async () => {
    await project.createTopics('orders');
    const retry = { attempts: 3, baseDelayMs: 1 };
    const once = watchedFetch((request) =>
      request === 1 ? new Response('{"error":{"status":"UNAVAILABLE"}}', { status: 503 }) : undefined,
    );
    const events = [testEvent('a'), testEvent('b')];
    expect(await open({ fetch: once.fetch, retry }).publish('orders', EncodedEvents.of(events))).toEqual({
      failed: [],
    });
    expect(once.seen).toHaveLength(2);
    expect(ids(await project.pull('orders'))).toEqual(['a', 'b']);

    const throttled = watchedFetch(
      () =>
        new Response('{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota"}}', {
          status: 429,
        }),
    );
    const { failed } = await open({ fetch: throttled.fetch, retry }).publish(
      'orders',
      EncodedEvents.of(events),
    );
    expect(throttled.seen).toHaveLength(3);
    expect(failed).toEqual(
      [0, 1].map((index) => ({
        index,
        message: expect.stringContaining('RESOURCE_EXHAUSTED'),
        retryable: true,
      })),
    );
  });

  it('reports a request refused as invalid as not retryable, without sending it again', async () => {
    await project.createTopics('orders');
    const invalid = watchedFetch(
      () =>
        new Response('{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad"}}', { status: 400 }),
    );
    const { failed } = await open({ fetch: invalid.fetch }).publish(
      'orders',
      EncodedEvents.of([testEvent('a')]),
    );
    expect(failed).toEqual([
      { index: 0, message: expect.stringContaining('INVALID_ARGUMENT'), retryable: false },
    ]);
    expect(invalid.seen).toHaveLength(1);
  });
});

describe('service account access tokens', () => {
  let server: Server;
  let tokenUri: string;
  let key: ServiceAccountKey;
  let publicKey: string;
  /** How the token endpoint answers: Google's answer, or a refusal. */
  let refuse = false;
  /** Exchanges answered 503 before the endpoint answers again. */
  let unavailable = 0;
  let exchanges = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    publicKey = await exportSPKI(pair.publicKey);
    server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      request.on('end', async () => {
        exchanges++;
        if (unavailable > 0) {
          unavailable--;
          response.writeHead(503).end('try later');
          return;
        }
        const form = new URLSearchParams(text);
        try {
          if (refuse) throw new Error('Invalid JWT Signature.');
          expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
          const { payload, protectedHeader } = await jwtVerify(
            form.get('assertion')!,
            await importSPKI(publicKey, 'RS256'),
            { issuer: key.client_email, audience: tokenUri },
          );
          expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: 'key-1' });
          expect(payload.scope).toBe(PUBSUB_SCOPE);
          expect(payload.exp! - payload.iat!).toBe(3_600);
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ access_token: `token-${exchanges}`, expires_in: 3_599, token_type: 'Bearer' }),
          );
        } catch (error) {
          response.writeHead(400, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ error: 'invalid_grant', error_description: (error as Error).message }),
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    key = parseServiceAccountKey(
      JSON.stringify({
        type: 'service_account',
        client_email: 'dropgate@project.iam.gserviceaccount.com',
        private_key: await exportPKCS8(pair.privateKey),
        private_key_id: 'key-1',
        token_uri: tokenUri,
      }),
      'secret GOOGLE_SERVICE_ACCOUNT_KEY',
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    refuse = false;
    unavailable = 0;
    exchanges = 0;
  });

  it('authorizes each request with a token kept until five minutes before it expires', async () => {
    const project = emulatedProject('tokens');
    await project.createTopics('orders');
    let clock = Date.now();
    const tokens = createAccessTokens({ key, scope: PUBSUB_SCOPE, now: () => clock });
    const watch = watchedFetch();
    const sink = createPubSubRestEventSink({ projectId: project.projectId, tokens, fetch: watch.fetch });
    try {
      // Two at once share one exchange.
      await Promise.all([
        sink.publish('orders', EncodedEvents.of([testEvent('t-1')])),
        sink.publish('orders', EncodedEvents.of([testEvent('t-2')])),
      ]);
      clock += 54 * 60_000;
      await sink.publish('orders', EncodedEvents.of([testEvent('t-3')]));
      expect(exchanges).toBe(1);
      clock += 2 * 60_000;
      await sink.publish('orders', EncodedEvents.of([testEvent('t-4')]));
      expect(exchanges).toBe(2);
      expect(watch.seen.map(({ authorization }) => authorization)).toEqual([
        'Bearer token-1',
        'Bearer token-1',
        'Bearer token-1',
        'Bearer token-2',
      ]);
      expect(watch.seen[0]!.url).toBe(
        `https://pubsub.googleapis.com/v1/projects/${project.projectId}/topics/orders:publish`,
      );
      expect(ids(await project.pull('orders'))).toEqual(['t-1', 't-2', 't-3', 't-4']);
    } finally {
      await project.close();
    }
  });

  it('fails the publish for good when Google refuses the key, naming the account and never the key', async () => {
    refuse = true;
    const tokens = createAccessTokens({ key, scope: PUBSUB_SCOPE });
    const watch = watchedFetch();
    const sink = createPubSubRestEventSink({ projectId: 'some-project', tokens, fetch: watch.fetch });
    const failure = await sink
      .publish('orders', EncodedEvents.of([testEvent('x')]))
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(
        'refused the service account dropgate@project.iam.gserviceaccount.com',
      ),
    });
    expect((failure as Error).message).toContain('Invalid JWT Signature.');
    expect((failure as Error).message).not.toContain('PRIVATE KEY');
    expect(watch.seen).toEqual([]);
  });

  it('asks again with backoff while the token endpoint is unavailable, then fails the events retryably', async () => {
    const project = emulatedProject('token-retry');
    await project.createTopics('orders');
    const retry = { attempts: 3, baseDelayMs: 1 };
    const tokens = createAccessTokens({ key, scope: PUBSUB_SCOPE, retry });
    const sink = createPubSubRestEventSink({
      projectId: project.projectId,
      tokens,
      fetch: watchedFetch().fetch,
    });
    try {
      unavailable = 1;
      expect(await sink.publish('orders', EncodedEvents.of([testEvent('after-503')]))).toEqual({
        failed: [],
      });
      expect(exchanges).toBe(2);
      const later = createAccessTokens({ key, scope: PUBSUB_SCOPE, retry });
      const down = createPubSubRestEventSink({
        projectId: project.projectId,
        tokens: later,
        fetch: watchedFetch().fetch,
      });
      unavailable = 3;
      expect(await down.publish('orders', EncodedEvents.of([testEvent('down')]))).toEqual({
        failed: [{ index: 0, message: expect.stringContaining('no access token'), retryable: true }],
      });
      expect(exchanges).toBe(5);
      expect(ids(await project.pull('orders'))).toEqual(['after-503']);
    } finally {
      await project.close();
    }
  });

  it('refuses a key that is not a service account JSON key, naming where it came from and not its text', () => {
    const where = 'secret GOOGLE_SERVICE_ACCOUNT_KEY';
    expect(() => parseServiceAccountKey('not-json-s3cr3t', where)).toThrow(
      /^secret GOOGLE_SERVICE_ACCOUNT_KEY: is not JSON/,
    );
    expect(() => parseServiceAccountKey('not-json-s3cr3t', where)).not.toThrow(/s3cr3t/);
    expect(() => parseServiceAccountKey('{"client_email":"a@b"}', where)).toThrow(
      'secret GOOGLE_SERVICE_ACCOUNT_KEY: has no "private_key"',
    );
    expect(parseServiceAccountKey('{"client_email":"a@b","private_key":"k"}', where).token_uri).toBe(
      'https://oauth2.googleapis.com/token',
    );
  });
});
