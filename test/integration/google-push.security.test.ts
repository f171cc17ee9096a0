/**
 * Who may push notifications to the Google intakes: only a request carrying a Google-signed OIDC token for
 * the configured audience and service account. Tokens here are signed with a key the test makes, served
 * as the intake's key set in place of Google's; every refused push ingests nothing.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWTPayload,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEventarcIntake } from '../../adapters/intake/eventarc/eventarc-intake.js';
import { createGcsPubsubPushIntake } from '../../adapters/intake/gcs-pubsub-push/gcs-pubsub-push-intake.js';
import type { GoogleOidcOptions } from '../../adapters/intake/google-oidc.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { embeddedConfig } from '../../app/node/load-config.js';
import { binaryCloudEvent, wrappedPush } from '../support/gcs-notifications.js';
import { createInProcessGateway } from './support/in-process-gateway.js';
import { ordersFile } from './support/orders-csv.js';
import { call, expectError, startTestGateway } from './support/test-gateway.js';

const BUCKET = 'acme-uploads';
const BASE = 'https://dropgate.example.run.app';
const PUSHER = 'gcs-push@acme-prod.iam.gserviceaccount.com';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let google: KeyPair;
let forger: KeyPair;
let keys: GoogleOidcOptions['keys'];

beforeAll(async () => {
  google = await generateKeyPair('RS256', { extractable: true });
  forger = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(google.publicKey)), kid: 'google-1', alg: 'RS256', use: 'sig' };
  keys = createLocalJWKSet({ keys: [jwk] });
});

interface TokenOptions {
  claims?: JWTPayload;
  audience?: string;
  issuer?: string;
  expiresAt?: number;
  key?: KeyPair;
  kid?: string;
}

/** A token shaped like the ones Pub/Sub and Eventarc attach, signed with the test's "Google" key. */
function token(audience: string, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: PUSHER, email_verified: true, ...options.claims })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'google-1', typ: 'JWT' })
    .setIssuer(options.issuer ?? 'https://accounts.google.com')
    .setAudience(options.audience ?? audience)
    .setSubject('112233445566778899')
    .setIssuedAt(now - 60)
    .setExpirationTime(options.expiresAt ?? now + 3600)
    .sign((options.key ?? google).privateKey);
}

interface PushAnswer {
  landings?: Array<{ status: string }>;
  error: { code: string; message: string };
}

const INTAKES = [
  {
    type: 'gcs-pubsub-push',
    create: createGcsPubsubPushIntake,
    delivery: (key: string, version: string) => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(wrappedPush({ bucket: BUCKET, key, generation: version })),
    }),
  },
  {
    type: 'eventarc',
    create: createEventarcIntake,
    delivery: (key: string, version: string) =>
      binaryCloudEvent({ bucket: BUCKET, key, generation: version }),
  },
] as const;

for (const { type, create, delivery } of INTAKES) {
  const path = `/v1/notifications/${type}`;
  const audience = `${BASE}${path}`;

  function gatewayWith(auth: GoogleOidcOptions) {
    const store = createMemoryObjectStore({ bucket: BUCKET, baseUrl: BASE });
    const { sink, ledger, app } = createInProcessGateway({
      store,
      intakes: [create({ bucket: BUCKET, auth })],
    });
    const key = 'vendors/acme/orders/2026-12-02/orders.csv';
    const { version } = store.put(key, ordersFile(4).csv, { contentType: 'text/csv' });
    const push = async (authorization?: string) => {
      const { headers, body } = delivery(key, version);
      const response = await app.request(path, {
        method: 'POST',
        headers: { ...headers, ...(authorization === undefined ? {} : { authorization }) },
        body,
      });
      return { status: response.status, body: (await response.json()) as PushAnswer };
    };
    /** Whether anything at all was ingested or even recorded. */
    const nothingIngested = async () => {
      expect(sink.events('orders')).toEqual([]);
      expect(await ledger.get({ bucket: BUCKET, key, version })).toBeUndefined();
    };
    return { push, nothingIngested, sink };
  }

  describe(`the ${type} intake's OIDC verification`, () => {
    const verified = () => gatewayWith({ audience, serviceAccountEmail: PUSHER, keys });

    it('ingests a push carrying a valid token for the audience and service account', async () => {
      const { push, sink } = verified();
      const answer = await push(`Bearer ${await token(audience)}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.landings).toMatchObject([{ status: 'ingested' }]);
      expect(sink.events('orders')).toHaveLength(4);
    });

    it('takes the issuer without its scheme too, as Google writes it in some tokens', async () => {
      const { push } = verified();
      const answer = await push(`Bearer ${await token(audience, { issuer: 'accounts.google.com' })}`);
      expect(answer.status).toBe(200);
    });

    it('answers 401 to a push without a token, and ingests nothing', async () => {
      const { push, nothingIngested } = verified();
      const answer = await push();
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringContaining('no Authorization header'),
      });
      await nothingIngested();
    });

    it('answers 401 to an Authorization header that is not a bearer token', async () => {
      const { push, nothingIngested } = verified();
      expect((await push('Basic dXNlcjpwYXNz')).status).toBe(401);
      expect((await push('Bearer')).status).toBe(401);
      await nothingIngested();
    });

    const refused: Array<[string, () => Promise<string>, RegExp]> = [
      ['a token signed by another key', () => token(audience, { key: forger }), /not signed by Google/],
      [
        'a token naming a key Google does not have',
        () => token(audience, { kid: 'unknown-key' }),
        /not signed by Google/,
      ],
      [
        'a token for another audience',
        () => token(audience, { audience: `${BASE}/elsewhere` }),
        /audience "https:\/\/dropgate.example.run.app\/elsewhere" is not the configured audience/,
      ],
      [
        'a token of another service account',
        () => token(audience, { claims: { email: 'intruder@evil-project.iam.gserviceaccount.com' } }),
        /issued to "intruder@evil-project.iam.gserviceaccount.com", not to the configured service account/,
      ],
      [
        'a token without email_verified',
        () => token(audience, { claims: { email_verified: false } }),
        /email_verified: true/,
      ],
      [
        'a token whose email_verified is the string "true"',
        () => token(audience, { claims: { email_verified: 'true' } }),
        /email_verified: true/,
      ],
      [
        'an expired token',
        () => token(audience, { expiresAt: Math.floor(Date.now() / 1000) - 120 }),
        /expired/,
      ],
      ['a token of another issuer', () => token(audience, { issuer: 'https://evil.example' }), /"iss" claim/],
      [
        'an unsigned token (alg none)',
        async () => {
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
          const now = Math.floor(Date.now() / 1000);
          const claims = {
            iss: 'https://accounts.google.com',
            aud: audience,
            email: PUSHER,
            email_verified: true,
            iat: now,
            exp: now + 600,
          };
          return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
        },
        /not signed by Google/,
      ],
      ['a token that is not a JWT', async () => 'not-a-jwt', /not signed by Google/],
    ];
    for (const [name, make, message] of refused) {
      it(`answers 403 to ${name}, and ingests nothing`, async () => {
        const { push, nothingIngested } = verified();
        const answer = await push(`Bearer ${await make()}`);
        expect(answer.status, JSON.stringify(answer.body)).toBe(403);
        expect(answer.body.error.code).toBe('FORBIDDEN');
        expect(answer.body.error.message).toMatch(message);
        await nothingIngested();
      });
    }

    it("answers 503 when Google's keys cannot be fetched, so the push is redelivered, and ingests nothing", async () => {
      // Port 9 (discard) on loopback: nothing listens, the fetch is refused at once.
      const unreachable = createRemoteJWKSet(new URL('http://127.0.0.1:9/oauth2/v3/certs'));
      const { push, nothingIngested } = gatewayWith({
        audience,
        serviceAccountEmail: PUSHER,
        keys: unreachable,
      });
      const answer = await push(`Bearer ${await token(audience)}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(503);
      expect(answer.body.error.code).toBe('RETRY_LATER');
      expect(answer.body.error.message).toMatch(/signing keys could not be fetched/);
      await nothingIngested();
    });
  });
}

describe('a gateway started from a config naming a Google push intake', () => {
  it('verifies tokens unless the config says "auth": "none": a push without one gets 401', async () => {
    const gateway = await startTestGateway({
      configFile: {
        datasets: embeddedConfig.datasets,
        intake: [
          { type: 'gcs-pubsub-push', serviceAccountEmail: PUSHER },
          { type: 'eventarc', serviceAccountEmail: PUSHER },
        ],
      },
    });
    try {
      for (const { type, delivery } of INTAKES) {
        const { headers, body } = delivery('vendors/acme/orders/2026-12-02/orders.csv', '1');
        const answer = await call(gateway, 'POST', `/v1/notifications/${type}`, { headers, body });
        expectError(answer, 401, 'UNAUTHORIZED');
      }
      expect(gateway.logs.some((line) => line.includes('WITHOUT verifying'))).toBe(false);
    } finally {
      await gateway.close();
    }
  });
});
