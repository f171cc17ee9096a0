/**
 * The `sns-https` intake: messages signed as SNS signs them (SignatureVersion 1 and 2) with a key and
 * certificate generated for the test (openssl), the certificate served through the injected fetch at an
 * SNS address. Forged, unsigned, foreign-topic and foreign-certificate messages are refused with 403 and
 * ingest nothing; a subscription is confirmed by a GET of its SubscribeURL, only at an SNS host.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DropgateError } from '../../adapters/errors.js';
import { createSnsHttpsIntake, SNS_HTTPS_PATH } from '../../adapters/intake/sns-https/sns-https-intake.js';
import { etagToken, withS3VersionTokens } from './support/store-wrappers.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import type { EventSink } from '../../adapters/ports.js';
import { s3Record, s3TestEvent } from '../support/s3-notification-messages.js';
import { createInProcessGateway } from './support/in-process-gateway.js';
import { ordersFile } from './support/orders-csv.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:dropgate-uploads';
const CERT_URL =
  'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem';
const SUBSCRIBE_URL = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37`;
const BUCKET = 'uploads';

interface Credentials {
  key: string;
  certificate: string;
}

/** A private key and a self-signed certificate for it, made with openssl. */
function generateCredentials(): Credentials {
  const directory = mkdtempSync(join(tmpdir(), 'dropgate-sns-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=sns.amazonaws.com',
        '-keyout',
        join(directory, 'key.pem'),
        '-out',
        join(directory, 'certificate.pem'),
      ],
      { stdio: 'pipe' },
    );
    return {
      key: readFileSync(join(directory, 'key.pem'), 'utf8'),
      certificate: readFileSync(join(directory, 'certificate.pem'), 'utf8'),
    };
  } catch (error) {
    throw new Error(
      `these tests need the openssl command to make a test certificate: ${(error as Error).message}`,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

let sns: Credentials;
let attacker: Credentials;
beforeAll(() => {
  sns = generateCredentials();
  attacker = generateCredentials();
});

/** The fields SNS signs, in the order it signs them (docs: sns-verify-signature-of-message). */
const SIGNED_FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
};

function signed(
  message: Record<string, string>,
  options: { version?: '1' | '2'; key?: string; certUrl?: string } = {},
): Record<string, string> {
  const version = options.version ?? '1';
  const text = SIGNED_FIELDS[message.Type!]!.filter((field) => field in message)
    .map((field) => `${field}\n${message[field]}\n`)
    .join('');
  const signature = sign(
    version === '1' ? 'sha1' : 'sha256',
    Buffer.from(text),
    createPrivateKey(options.key ?? sns.key),
  );
  return {
    ...message,
    SignatureVersion: version,
    Signature: signature.toString('base64'),
    SigningCertURL: options.certUrl ?? CERT_URL,
  };
}

function notification(s3: unknown, topic = TOPIC): Record<string, string> {
  return {
    Type: 'Notification',
    MessageId: crypto.randomUUID(),
    TopicArn: topic,
    Subject: 'Amazon S3 Notification',
    Message: JSON.stringify(s3),
    Timestamp: new Date().toISOString(),
    UnsubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC}:c9135db0`,
  };
}

function setup(options: { sink?: EventSink } = {}) {
  const store = withS3VersionTokens(createMemoryObjectStore({ bucket: BUCKET }));
  const fetched: string[] = [];
  const fetchStub = (async (input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    fetched.push(url);
    if (url === CERT_URL) return new Response(sns.certificate);
    if (url.startsWith('https://attacker.example/')) return new Response(attacker.certificate);
    if (url === SUBSCRIBE_URL) return new Response('<ConfirmSubscriptionResponse/>');
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  const { sink, ledger, app } = createInProcessGateway({
    store,
    sink: options.sink,
    intakes: [createSnsHttpsIntake({ topicArns: [TOPIC], fetch: fetchStub })],
  });
  const post = (message: unknown) =>
    app.request(SNS_HTTPS_PATH, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: typeof message === 'string' ? message : JSON.stringify(message),
    });
  const upload = (name: string, rows: number) => {
    const key = `vendors/acme/orders/${name}`;
    const object = store.put(key, ordersFile(rows).csv);
    const s3 = {
      Records: [
        s3Record({ bucket: BUCKET, key: encodeURIComponent(key).replace(/%20/g, '+'), eTag: object.version }),
      ],
    };
    return { key, object, s3 };
  };
  return { store, sink, ledger, fetched, post, upload };
}

describe('the sns-https intake', () => {
  it.each(['1', '2'] as const)(
    'ingests a notification signed with SignatureVersion %s, answering 200 once its events are published',
    async (version) => {
      const { sink, ledger, post, upload, fetched } = setup();
      const { key, object, s3 } = upload('signed (1).csv', 4);
      const response = await post(signed(notification(s3), { version }));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ingestion: [{ key, status: 'ingested' }] });
      expect(sink.events('orders')).toHaveLength(4);
      expect(await ledger.get({ bucket: BUCKET, key, version: etagToken(object.version) })).toMatchObject({
        state: 'ingested',
        via: 'sns-https',
      });
      expect(fetched).toEqual([CERT_URL]);
    },
  );

  it('fetches a signing certificate once for many messages', async () => {
    const { post, upload, fetched } = setup();
    for (const name of ['a.csv', 'b.csv', 'c.csv']) {
      expect((await post(signed(notification(upload(name, 1).s3)))).status).toBe(200);
    }
    expect(fetched).toEqual([CERT_URL]);
  });

  it('acknowledges the S3 test event and ingests nothing', async () => {
    const { sink, post } = setup();
    const response = await post(signed(notification(s3TestEvent(BUCKET))));
    expect(response.status).toBe(200);
    expect(sink.events('orders')).toHaveLength(0);
  });

  it('answers 503 while the events are not durable, so SNS delivers again', async () => {
    const failing: EventSink = {
      capabilities: { ordered: true, maxMessageBytes: 1 << 20 },
      publish: async () => {
        throw new DropgateError('PUBLISH_FAILED', 'the topic is unavailable');
      },
      close: async () => undefined,
    };
    const { post, upload } = setup({ sink: failing });
    const response = await post(signed(notification(upload('later.csv', 2).s3)));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('confirms a subscription by a GET of its SubscribeURL', async () => {
    const { post, fetched } = setup();
    const confirmation = signed({
      Type: 'SubscriptionConfirmation',
      MessageId: crypto.randomUUID(),
      Token: '2336412f37',
      TopicArn: TOPIC,
      Message: `You have chosen to subscribe to the topic ${TOPIC}.`,
      SubscribeURL: SUBSCRIBE_URL,
      Timestamp: new Date().toISOString(),
    });
    const response = await post(confirmation);
    expect(response.status).toBe(200);
    expect(fetched).toEqual([CERT_URL, SUBSCRIBE_URL]);
  });
});

describe('the sns-https intake refuses', () => {
  const refused = async (setupResult: ReturnType<typeof setup>, message: unknown, reason: RegExp) => {
    const response = await setupResult.post(message);
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('FORBIDDEN');
    expect(body.error.message).toMatch(reason);
    expect(setupResult.sink.events('orders')).toHaveLength(0);
    expect((await setupResult.ledger.unfinished({ bucket: BUCKET })).records).toHaveLength(0);
  };

  it('a message whose Message was changed after signing', async () => {
    const context = setup();
    const genuine = signed(notification(context.upload('genuine.csv', 2).s3));
    const forged = { ...genuine, Message: JSON.stringify(context.upload('forged.csv', 3).s3) };
    await refused(context, forged, /signature does not verify/);
    expect(await context.ledger.latest(BUCKET, 'vendors/acme/orders/forged.csv')).toBeUndefined();
  });

  it('an unsigned message', async () => {
    const context = setup();
    const { Signature: _signature, ...unsigned } = signed(notification(context.upload('unsigned.csv', 2).s3));
    await refused(context, unsigned, /signature does not verify/);
  });

  it('a message signed with another key than the certificate named', async () => {
    const context = setup();
    await refused(
      context,
      signed(notification(context.upload('other-key.csv', 2).s3), { key: attacker.key }),
      /signature does not verify/,
    );
  });

  it('a message whose certificate is not at an SNS host, without fetching it', async () => {
    const context = setup();
    const certUrl = 'https://attacker.example/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem';
    await refused(
      context,
      signed(notification(context.upload('elsewhere.csv', 2).s3), { key: attacker.key, certUrl }),
      /SigningCertURL .* is not an Amazon SNS certificate/,
    );
    const lookalike =
      'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem';
    await refused(
      context,
      signed(notification(context.upload('lookalike.csv', 2).s3), { key: attacker.key, certUrl: lookalike }),
      /is not an Amazon SNS certificate/,
    );
    expect(context.fetched).toEqual([]);
  });

  it('a message of a topic it is not configured for', async () => {
    const context = setup();
    const foreign = 'arn:aws:sns:us-east-1:999999999999:elsewhere';
    await refused(
      context,
      signed(notification(context.upload('foreign.csv', 2).s3, foreign)),
      /is not one this intake/,
    );
  });

  it('a signed confirmation whose SubscribeURL is not at an SNS host, without calling it', async () => {
    const context = setup();
    const confirmation = signed({
      Type: 'SubscriptionConfirmation',
      MessageId: crypto.randomUUID(),
      Token: '2336412f37',
      TopicArn: TOPIC,
      Message: 'subscribe',
      SubscribeURL: 'https://attacker.example/confirm',
      Timestamp: new Date().toISOString(),
    });
    await refused(context, confirmation, /SubscribeURL .* is not an Amazon SNS address/);
    expect(context.fetched).toEqual([CERT_URL]);
  });

  it('a body that is not an SNS message, with 400', async () => {
    const context = setup();
    const response = await context.post('{"Records": []}');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('"Type"');
  });
});
