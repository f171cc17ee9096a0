/** Verifies the Google-signed OIDC token a Pub/Sub push or an Eventarc delivery carries, with `jose`. */
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { DropgateError } from '../errors.js';

/** Where Google publishes the keys that sign its ID tokens (JWKS). */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** Both spellings Google's ID tokens carry in `iss`. */
const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/** Google signs ID tokens with RS256 only: anything else (`none`, an HMAC with the public key) is refused. */
const ALGORITHMS = ['RS256'];

export interface GoogleOidcOptions {
  /** The `aud` the push subscription or trigger was configured with (by default its endpoint URL). */
  audience: string;
  /** The service account the subscription or trigger signs as: the token's `email`. */
  serviceAccountEmail: string;
  /** The keys tokens must be signed with: Google's published keys unless given (tests sign their own). */
  keys?: JWTVerifyGetKey;
}

let googleKeys: JWTVerifyGetKey | undefined;

/**
 * Google's keys, fetched once and shared by every intake: jose caches them (re-fetching after 10 minutes,
 * or at once for a token signed with a key it has not seen, at most every 30 s), so a rotation is picked
 * up without a restart and a flood of forged tokens does not flood Google.
 */
function googleSigningKeys(): JWTVerifyGetKey {
  googleKeys ??= createRemoteJWKSet(new URL(GOOGLE_CERTS_URL));
  return googleKeys;
}

export type RequestVerifier = (request: Request) => Promise<void>;

/**
 * A verifier of `Authorization: Bearer <JWT>`: signed by Google (RS256), issued by accounts.google.com,
 * for `audience`, not expired, naming `serviceAccountEmail` with `email_verified` true. Throws UNAUTHORIZED
 * (401) when no token is presented, FORBIDDEN (403) for one that fails any check, and RETRY_LATER (503)
 * when Google's keys cannot be fetched: the sender's push is then redelivered, not refused for good.
 */
export function createGoogleOidcVerifier(options: GoogleOidcOptions): RequestVerifier {
  const { audience, serviceAccountEmail } = options;
  const keys = options.keys ?? googleSigningKeys();
  return async (request) => {
    const header = request.headers.get('authorization');
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (!token) {
      throw new DropgateError(
        'UNAUTHORIZED',
        header
          ? 'the Authorization header is not "Bearer <token>"'
          : 'no Authorization header: the push must carry a Google-signed OIDC token',
      );
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: GOOGLE_ISSUERS,
        audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (error) {
      throw refusal(error, audience);
    }
    if (payload.email !== serviceAccountEmail) {
      throw new DropgateError(
        'FORBIDDEN',
        `the token was issued to ${describeClaim(payload.email)}, not to the configured service account ${serviceAccountEmail}`,
      );
    }
    if (payload.email_verified !== true) {
      throw new DropgateError('FORBIDDEN', 'the token does not carry email_verified: true');
    }
  };
}

/** What a failed verification means for the sender: a forged or stale token, or keys we could not get. */
function refusal(error: unknown, audience: string): DropgateError {
  if (error instanceof errors.JWTExpired) {
    return new DropgateError('FORBIDDEN', 'the token has expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') {
      const presented = describeClaim(error.payload.aud);
      return new DropgateError(
        'FORBIDDEN',
        `the token's audience ${presented} is not the configured audience ${audience} ` +
          '(set "audience" on the intake to the push subscription\'s or trigger\'s audience)',
      );
    }
    return new DropgateError(
      'FORBIDDEN',
      `the token's "${error.claim}" claim is not valid: ${error.message}`,
    );
  }
  const forged =
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported;
  if (forged) {
    return new DropgateError('FORBIDDEN', `the token is not signed by Google: ${error.message}`);
  }
  // Google's keys could not be fetched (a timeout, a network fault, an answer that is not a key set).
  return new DropgateError(
    'RETRY_LATER',
    `Google's signing keys could not be fetched to verify the token: ${(error as Error).message}`,
    { cause: error, context: { retryAfterSeconds: 10 } },
  );
}

/** A claim's value for a message: tokens are attacker input, so quoted and cut short. */
function describeClaim(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
