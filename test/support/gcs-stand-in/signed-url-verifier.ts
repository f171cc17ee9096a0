/**
 * The XML API's check of a V4 signed URL (GOOG4-RSA-SHA256), as GCS documents it: the canonical request
 * rebuilt from the request received, its SHA-256 in the string to sign, the signature checked with the
 * signing service account's public key; the expiry, and every signed header taken from the request.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const SEVEN_DAYS = 7 * 24 * 60 * 60;

/** A refusal as GCS's XML API answers it: a status and an S3-style `<Error>` document. */
export interface XmlRefusal {
  status: number;
  code: string;
  message: string;
  details?: string;
  stringToSign?: string;
  canonicalRequest?: string;
}

export interface SignedRequest {
  method: string;
  /** The path and query exactly as received (percent-encoded). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
}

/** RFC 3986 encoding of a query name or value, as the canonical query string wants it. */
function strictEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20240501T120000Z` as milliseconds, or NaN. */
function parseGoogleDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return Number.NaN;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Verifies a request carrying `X-Goog-Signature`; undefined when it is properly signed and in date.
 * `publicKeyOf` finds the key of the account named in `X-Goog-Credential`.
 */
export function verifySignedRequest(
  request: SignedRequest,
  publicKeyOf: (clientEmail: string) => KeyObject | undefined,
  now: number,
): XmlRefusal | undefined {
  const queryStart = request.rawUrl.indexOf('?');
  const path = queryStart === -1 ? request.rawUrl : request.rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : request.rawUrl.slice(queryStart + 1));
  const invalid = (details: string): XmlRefusal => ({
    status: 400,
    code: 'AuthorizationQueryParametersError',
    message: 'Error parsing the X-Goog-Credential parameter; the request is not properly signed.',
    details,
  });

  const algorithm = query.get('X-Goog-Algorithm');
  const credential = query.get('X-Goog-Credential');
  const date = query.get('X-Goog-Date');
  const expires = query.get('X-Goog-Expires');
  const signedHeaders = query.get('X-Goog-SignedHeaders');
  const signature = query.get('X-Goog-Signature');
  if (algorithm !== 'GOOG4-RSA-SHA256') return invalid(`unsupported X-Goog-Algorithm ${algorithm}`);
  if (!credential || !date || !expires || !signedHeaders || !signature) {
    return invalid(
      'X-Goog-Credential, X-Goog-Date, X-Goog-Expires, X-Goog-SignedHeaders and X-Goog-Signature are required',
    );
  }
  const signedAt = parseGoogleDate(date);
  if (Number.isNaN(signedAt)) return invalid(`X-Goog-Date ${date} is not YYYYMMDDTHHMMSSZ`);
  if (!/^\d+$/.test(expires) || Number(expires) < 1 || Number(expires) > SEVEN_DAYS) {
    return invalid(`X-Goog-Expires must be 1 to ${SEVEN_DAYS} seconds`);
  }
  const [clientEmail, scopeDate, location, service, terminator, ...rest] = credential.split('/');
  if (
    !clientEmail ||
    scopeDate !== date.slice(0, 8) ||
    !location ||
    service !== 'storage' ||
    terminator !== 'goog4_request' ||
    rest.length > 0
  ) {
    return invalid(`X-Goog-Credential ${credential} is not <email>/<date>/<location>/storage/goog4_request`);
  }
  if (signedAt > now + 60_000) {
    return {
      status: 400,
      code: 'InvalidArgument',
      message: 'Invalid argument.',
      details: 'Request is not yet valid.',
    };
  }
  const expiresAt = signedAt + Number(expires) * 1000;
  if (now >= expiresAt) {
    return {
      status: 400,
      code: 'ExpiredToken',
      message: 'Invalid argument.',
      details: `The provided token has expired. Request signature expired at: ${new Date(expiresAt).toISOString()}`,
    };
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return invalid('X-Goog-SignedHeaders must include host');

  const canonicalQuery = [...query.entries()]
    .filter(([name]) => name !== 'X-Goog-Signature')
    .map(([name, value]) => [strictEncode(name), strictEncode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = names
    .map((name) => {
      let value = headerValue(request.headers, name) ?? '';
      // The SDK signs the endpoint's host name without its port (on GCS the port is the default one);
      // a client at a stand-in on another port sends `host:port`.
      if (name === 'host') value = value.replace(/:\d+$/, '');
      return `${name}:${value.trim().replace(/\s{2,}/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [
    request.method,
    path,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    headerValue(request.headers, 'x-goog-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = [
    'GOOG4-RSA-SHA256',
    date,
    credential.slice(clientEmail.length + 1),
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');

  const publicKey = publicKeyOf(clientEmail);
  const valid =
    publicKey !== undefined &&
    /^[0-9a-f]+$/i.test(signature) &&
    signature.length % 2 === 0 &&
    verify('sha256', Buffer.from(stringToSign), publicKey, Buffer.from(signature, 'hex'));
  if (!valid) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'Access denied.',
      details:
        'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.',
      stringToSign,
      canonicalRequest,
    };
  }
  return undefined;
}

/** The `<Error>` document of a refusal. */
export function xmlError(refusal: XmlRefusal): string {
  const escape = (text: string) =>
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/'/g, '&apos;')
      .replace(/"/g, '&quot;');
  const element = (name: string, value: string | undefined) =>
    value === undefined ? '' : `<${name}>${escape(value)}</${name}>`;
  return (
    "<?xml version='1.0' encoding='UTF-8'?><Error>" +
    element('Code', refusal.code) +
    element('Message', refusal.message) +
    element('Details', refusal.details) +
    element('StringToSign', refusal.stringToSign) +
    element('CanonicalRequest', refusal.canonicalRequest) +
    '</Error>'
  );
}
