/**
 * OAuth 2.0 access tokens for a Google service account, where Google's libraries do not run (Workers):
 * a JWT signed with the key's private key (RS256, `jose`) is exchanged at the key's token URI for a
 * token (developers.google.com/identity/protocols/oauth2/service-account#httprest), which is kept until
 * shortly before it expires. Web APIs only. The key never appears in an error or a log.
 */
import { importPKCS8, SignJWT } from 'jose';
import { DropgateError, describeError } from '../../errors.js';
import { fetchWithRetries, isRetryableStatus, type HttpRetryOptions } from '../fetch-with-retries.js';

export const PUBSUB_SCOPE = 'https://www.googleapis.com/auth/pubsub';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** A token is replaced this long before its expiry, so no request carries one that expires in flight. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** The lifetime asked for (Google's longest). */
const LIFETIME_SECONDS = 3_600;

/** The fields of a service account's JSON key that signing needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

/**
 * The JSON key in `text` (the file the console downloads), or CONFIG_INVALID naming `where` and the field
 * at fault; the message never repeats the text.
 */
export function parseServiceAccountKey(text: string, where: string): ServiceAccountKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DropgateError('CONFIG_INVALID', `${where}: is not JSON (a service account's JSON key is)`);
  }
  const key = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  for (const field of ['client_email', 'private_key']) {
    if (typeof key[field] !== 'string' || key[field] === '') {
      throw new DropgateError(
        'CONFIG_INVALID',
        `${where}: has no "${field}": give the service account's whole JSON key`,
      );
    }
  }
  if (key.token_uri !== undefined && !/^https?:\/\//.test(String(key.token_uri))) {
    throw new DropgateError('CONFIG_INVALID', `${where}: "token_uri" must be an http(s) URL`);
  }
  return {
    client_email: key.client_email as string,
    private_key: key.private_key as string,
    ...(typeof key.private_key_id === 'string' ? { private_key_id: key.private_key_id } : {}),
    token_uri: (key.token_uri as string | undefined) ?? DEFAULT_TOKEN_URI,
  };
}

export interface AccessTokens {
  /** A token valid for at least a few minutes more; one exchange serves every caller meanwhile. */
  token(): Promise<string>;
}

export interface AccessTokenOptions extends HttpRetryOptions {
  key: ServiceAccountKey;
  scope: string;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const { key, scope } = options;
  const now = options.now ?? Date.now;
  let current: Promise<{ token: string; refreshAt: number }> | undefined;
  let signingKey: ReturnType<typeof importPKCS8> | undefined;

  const refused = (message: string, cause?: unknown) =>
    new DropgateError(
      'CONFIG_INVALID',
      `Google refused the service account ${key.client_email} a token at ${key.token_uri}: ${message}`,
      { cause, context: { serviceAccount: key.client_email } },
    );

  async function exchange(): Promise<{ token: string; refreshAt: number }> {
    signingKey ??= importPKCS8(key.private_key, 'RS256').catch((error: unknown) => {
      signingKey = undefined;
      throw refused(`its private_key is not an RSA key in PKCS #8 PEM (${describeError(error)})`);
    });
    const issuedAt = Math.floor(now() / 1000);
    const assertion = await new SignJWT({ scope })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(key.private_key_id ? { kid: key.private_key_id } : {}),
      })
      .setIssuer(key.client_email)
      .setAudience(key.token_uri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + LIFETIME_SECONDS)
      .sign(await signingKey);
    let response: Response;
    try {
      response = await fetchWithRetries(
        () =>
          new Request(key.token_uri, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
              assertion,
            }).toString(),
          }),
        options,
      );
    } catch (error) {
      throw new DropgateError(
        'PUBLISH_FAILED',
        `no access token from ${key.token_uri}: ${describeError(error)}`,
        { cause: error },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      // OAuth errors are `{ error, error_description }`: safe to show, they never echo the assertion.
      const detail = `HTTP ${response.status}: ${text.slice(0, 300)}`;
      if (isRetryableStatus(response.status)) {
        throw new DropgateError('PUBLISH_FAILED', `no access token from ${key.token_uri}: ${detail}`);
      }
      throw refused(detail);
    }
    const answer = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof answer.access_token !== 'string') throw refused('the answer holds no access_token');
    const lifetime = typeof answer.expires_in === 'number' ? answer.expires_in : LIFETIME_SECONDS;
    return { token: answer.access_token, refreshAt: now() + lifetime * 1000 - REFRESH_MARGIN_MS };
  }

  /** An exchange, forgotten if it fails so the next caller starts another. */
  function start(): Promise<{ token: string; refreshAt: number }> {
    const next = exchange();
    current = next;
    next.catch(() => {
      if (current === next) current = undefined;
    });
    return next;
  }

  return {
    async token() {
      // Callers that come while an exchange runs share it; a failed one fails each of them.
      const pending = current ?? start();
      const held = await pending;
      if (now() < held.refreshAt) return held.token;
      const fresh = current === pending ? start() : (current ?? start());
      return (await fresh).token;
    },
  };
}
