/**
 * Signed upload URLs served by the gateway itself (local and in-memory stores): HMAC-SHA256 over the
 * method, key, expiry, size limit and content type, so a URL is good for one key, one size bound, one
 * content type and a limited time. Verification is constant-time (`crypto.subtle.verify`).
 */
import type { SignedPutUpload, UploadUrlRequest } from '../ports.js';

export const UPLOAD_PATH = '/v1/local-uploads/';

export interface UploadGrant {
  key: string;
  expires: number;
  maxBytes: number;
  contentType: string;
}

export interface UploadSigner {
  sign(request: UploadUrlRequest, now?: number): Promise<SignedPutUpload>;
  /** The grant a URL carries, or a reason it does not authorize the upload. */
  verify(url: URL, contentType: string, now?: number): Promise<{ grant: UploadGrant } | { reason: string }>;
}

export function createUploadSigner(options: { baseUrl: string; secret: string }): UploadSigner {
  const keyPromise = crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(options.secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  );
  const payload = (grant: UploadGrant) =>
    new TextEncoder().encode(['PUT', grant.key, grant.expires, grant.maxBytes, grant.contentType].join('\n'));

  return {
    async sign(request, now = Date.now()) {
      const contentType = request.contentType ?? 'application/octet-stream';
      const grant: UploadGrant = {
        key: request.key,
        expires: Math.floor(now / 1000) + request.expiresInSeconds,
        maxBytes: request.maxBytes,
        contentType,
      };
      const signature = await crypto.subtle.sign('HMAC', await keyPromise, payload(grant));
      const url = new URL(
        UPLOAD_PATH + request.key.split('/').map(encodeURIComponent).join('/'),
        options.baseUrl,
      );
      url.searchParams.set('expires', String(grant.expires));
      url.searchParams.set('maxBytes', String(grant.maxBytes));
      url.searchParams.set('signature', toBase64Url(new Uint8Array(signature)));
      return {
        url: url.toString(),
        method: 'PUT',
        headers: { 'content-type': contentType },
        key: request.key,
        expiresAt: new Date(grant.expires * 1000).toISOString(),
      };
    },
    async verify(url, contentType, now = Date.now()) {
      if (!url.pathname.startsWith(UPLOAD_PATH)) return { reason: 'not an upload URL' };
      let key: string;
      try {
        key = url.pathname.slice(UPLOAD_PATH.length).split('/').map(decodeURIComponent).join('/');
      } catch {
        return { reason: 'the object key in the URL is not valid percent-encoding' };
      }
      const expires = Number(url.searchParams.get('expires'));
      const maxBytes = Number(url.searchParams.get('maxBytes'));
      const signature = fromBase64Url(url.searchParams.get('signature') ?? '');
      if (!Number.isSafeInteger(expires) || !Number.isSafeInteger(maxBytes) || !signature) {
        return {
          reason: 'the URL is missing its expires, maxBytes or signature parameter, or one is malformed',
        };
      }
      const grant: UploadGrant = { key, expires, maxBytes, contentType };
      const valid = await crypto.subtle.verify('HMAC', await keyPromise, signature, payload(grant));
      if (!valid) return { reason: 'the signature does not match this key, size limit and content type' };
      if (expires * 1000 <= now) return { reason: 'the upload URL has expired' };
      return { grant };
    },
  };
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The bytes of base64url text, or null when it is none (a length of 4n + 1 cannot be: atob throws). */
export function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
