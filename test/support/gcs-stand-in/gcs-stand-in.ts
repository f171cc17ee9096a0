/**
 * A small Google Cloud Storage for tests, on 127.0.0.1: the JSON API the SDK speaks (object metadata,
 * `alt=media` downloads pinned by `generation` with `Range`, media, multipart and resumable uploads,
 * `ifGenerationMatch` / `ifGenerationNotMatch`, paged listings, deletes, buckets) and the XML API `PUT` of
 * V4 signed URLs, verified as GCS verifies them. Every write makes a new, larger generation and, as in a
 * bucket without object versioning, removes the one it replaces. Point the SDK at it with
 * `STORAGE_EMULATOR_HOST=<url>`. What it leaves out is listed in the README (the `gcs` store).
 */
import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { crc32cBase64 } from './crc32c.js';
import { verifySignedRequest, xmlError, type XmlRefusal } from './signed-url-verifier.js';

export interface StoredObject {
  bucket: string;
  name: string;
  generation: string;
  metageneration: string;
  bytes: Buffer;
  contentType: string;
  contentEncoding?: string;
  timeCreated: string;
  updated: string;
  md5Hash: string;
  crc32c: string;
}

export interface GcsStandInOptions {
  /** Buckets that exist from the start; others can be made with `createBucket` or the JSON API. */
  buckets?: string[];
  /** Service accounts whose V4 signatures are accepted. */
  serviceAccounts?: Array<{ clientEmail: string; publicKey: KeyObject }>;
}

export interface GcsStandIn {
  /** `http://127.0.0.1:<port>`: the value for STORAGE_EMULATOR_HOST. */
  url: string;
  createBucket(name: string): void;
  trust(account: { clientEmail: string; publicKey: KeyObject }): void;
  /** The current version of an object, as stored. */
  object(bucket: string, name: string): StoredObject | undefined;
  /** Moves the stand-in's clock (signed-URL expiry) by `milliseconds`. */
  advanceClock(milliseconds: number): void;
  /** Answers the next `count` requests with `status` (a 503, a 429) before looking at them. */
  failNext(status: number, count?: number): void;
  /** Flips a bit of the next download's body, leaving its `x-goog-hash` as stored: damage on the way. */
  corruptNextDownload(): void;
  /**
   * Calls `listener` with each object version stored from now on: what a bucket's notification
   * configuration reports as OBJECT_FINALIZE.
   */
  onFinalize(listener: (object: StoredObject) => void): void;
  /** Every request received, as `METHOD path?query`. */
  readonly requests: string[];
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

const MAX_PAGE = 1000;

export async function startGcsStandIn(options: GcsStandInOptions = {}): Promise<GcsStandIn> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const accounts = new Map<string, KeyObject>();
  const sessions = new Map<
    string,
    {
      bucket: string;
      name: string;
      metadata: Record<string, unknown>;
      preconditions: URLSearchParams;
      chunks: Buffer[];
      received: number;
    }
  >();
  const requests: string[] = [];
  let clockOffset = 0;
  let failures: { status: number; count: number } | undefined;
  let lastGeneration = 0;
  let corruptDownload = false;
  const finalizeListeners: Array<(object: StoredObject) => void> = [];
  for (const name of options.buckets ?? []) buckets.set(name, new Map());
  for (const account of options.serviceAccounts ?? []) accounts.set(account.clientEmail, account.publicKey);

  const now = () => Date.now() + clockOffset;
  /** Microseconds since the epoch, like GCS generations, and strictly increasing. */
  const nextGeneration = () => {
    lastGeneration = Math.max(lastGeneration + 1, now() * 1000);
    return String(lastGeneration);
  };
  const bucketNamed = (name: string) => {
    const bucket = buckets.get(name);
    if (!bucket) throw new HttpError(404, 'The specified bucket does not exist.', 'notFound');
    return bucket;
  };

  let url = '';
  const metadataOf = (object: StoredObject) => {
    const path = `b/${object.bucket}/o/${encodeURIComponent(object.name)}`;
    return {
      kind: 'storage#object',
      id: `${object.bucket}/${object.name}/${object.generation}`,
      selfLink: `${url}/storage/v1/${path}`,
      mediaLink: `${url}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
      name: object.name,
      bucket: object.bucket,
      generation: object.generation,
      metageneration: object.metageneration,
      contentType: object.contentType,
      ...(object.contentEncoding ? { contentEncoding: object.contentEncoding } : {}),
      storageClass: 'STANDARD',
      size: String(object.bytes.byteLength),
      md5Hash: object.md5Hash,
      crc32c: object.crc32c,
      etag: Buffer.from(object.generation).toString('base64'),
      timeCreated: object.timeCreated,
      updated: object.updated,
      timeStorageClassUpdated: object.timeCreated,
    };
  };

  function checkPreconditions(current: StoredObject | undefined, query: URLSearchParams) {
    const match = query.get('ifGenerationMatch');
    const notMatch = query.get('ifGenerationNotMatch');
    const generation = current?.generation ?? '0';
    if (match !== null && match !== generation) {
      throw new HttpError(
        412,
        'At least one of the pre-conditions you specified did not hold.',
        'conditionNotMet',
      );
    }
    if (notMatch !== null && notMatch === generation) {
      throw new HttpError(
        412,
        'At least one of the pre-conditions you specified did not hold.',
        'conditionNotMet',
      );
    }
  }

  function write(
    bucketName: string,
    name: string,
    bytes: Buffer,
    details: { contentType?: string; contentEncoding?: string },
    preconditions: URLSearchParams,
  ): StoredObject {
    const bucket = bucketNamed(bucketName);
    if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
    const current = bucket.get(name);
    checkPreconditions(current, preconditions);
    const time = new Date(now()).toISOString();
    const object: StoredObject = {
      bucket: bucketName,
      name,
      generation: nextGeneration(),
      metageneration: '1',
      bytes,
      contentType: details.contentType || 'application/octet-stream',
      ...(details.contentEncoding ? { contentEncoding: details.contentEncoding } : {}),
      timeCreated: time,
      updated: time,
      md5Hash: createHash('md5').update(bytes).digest('base64'),
      crc32c: crc32cBase64(bytes),
    };
    bucket.set(name, object);
    for (const listener of finalizeListeners) listener(object);
    return object;
  }

  /** The object a read names: the current version, or the `generation` asked for (404 once replaced). */
  function find(bucketName: string, name: string, query: URLSearchParams): StoredObject {
    const object = bucketNamed(bucketName).get(name);
    const generation = query.get('generation');
    if (!object || (generation !== null && generation !== object.generation)) {
      throw new HttpError(404, `No such object: ${bucketName}/${name}`, 'notFound');
    }
    checkPreconditions(object, query);
    return object;
  }

  function list(bucketName: string, query: URLSearchParams) {
    const bucket = bucketNamed(bucketName);
    if (query.get('delimiter') !== null)
      throw new HttpError(400, 'delimiter is not supported by the stand-in', 'invalid');
    const prefix = query.get('prefix') ?? '';
    const maxResults = Math.min(Number(query.get('maxResults') ?? MAX_PAGE), MAX_PAGE);
    if (!Number.isInteger(maxResults) || maxResults < 1)
      throw new HttpError(400, 'Invalid maxResults', 'invalid');
    const token = query.get('pageToken');
    let after: string | undefined;
    if (token) {
      const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
        prefix: string;
        after: string;
      };
      if (decoded.prefix !== prefix) throw new HttpError(400, 'Invalid pageToken for this prefix', 'invalid');
      after = decoded.after;
    }
    const names = [...bucket.keys()]
      .filter(
        (name) =>
          name.startsWith(prefix) &&
          (after === undefined || Buffer.compare(Buffer.from(name), Buffer.from(after)) > 0),
      )
      .sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    const page = names.slice(0, maxResults);
    const last = page[page.length - 1];
    return {
      kind: 'storage#objects',
      ...(page.length ? { items: page.map((name) => metadataOf(bucket.get(name)!)) } : {}),
      ...(names.length > maxResults && last !== undefined
        ? { nextPageToken: Buffer.from(JSON.stringify({ prefix, after: last })).toString('base64url') }
        : {}),
    };
  }

  function sendJson(response: ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=UTF-8',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  }

  function download(request: IncomingMessage, response: ServerResponse, object: StoredObject) {
    let bytes = object.bytes;
    const headers: Record<string, string | number> = {
      'content-type': object.contentType,
      'x-goog-generation': object.generation,
      'x-goog-metageneration': object.metageneration,
      'x-goog-stored-content-encoding': object.contentEncoding ?? 'identity',
      'x-goog-stored-content-length': object.bytes.byteLength,
      'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      etag: `"${Buffer.from(object.md5Hash, 'base64').toString('hex')}"`,
      'last-modified': new Date(object.updated).toUTCString(),
      'accept-ranges': 'bytes',
    };
    const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (object.contentEncoding === 'gzip' && !acceptsGzip) {
      // Decompressive transcoding: the client gets the plain bytes, whole, and no hash to check them by.
      bytes = gunzipSync(bytes);
      delete headers['x-goog-hash'];
      response.writeHead(200, { ...headers, 'content-length': bytes.byteLength });
      return response.end(bytes);
    }
    if (object.contentEncoding) headers['content-encoding'] = object.contentEncoding;
    if (corruptDownload && bytes.byteLength > 0) {
      corruptDownload = false;
      bytes = Buffer.from(bytes);
      bytes[bytes.byteLength >> 1]! ^= 0x01;
    }
    const range = request.headers.range;
    if (range !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (match && (match[1] !== '' || match[2] !== '')) {
        const size = bytes.byteLength;
        let start: number;
        let end: number;
        if (match[1] === '') {
          start = Math.max(0, size - Number(match[2]));
          end = size - 1;
        } else {
          start = Number(match[1]);
          end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
        }
        if (start >= size || start > end) {
          response.writeHead(416, {
            'content-type': 'text/html; charset=UTF-8',
            'content-range': `bytes */${size}`,
          });
          return response.end('Requested range not satisfiable');
        }
        const part = bytes.subarray(start, end + 1);
        response.writeHead(206, {
          ...headers,
          'content-range': `bytes ${start}-${end}/${size}`,
          'content-length': part.byteLength,
        });
        return response.end(part);
      }
    }
    response.writeHead(200, { ...headers, 'content-length': bytes.byteLength });
    response.end(bytes);
  }

  /** The parts of a `multipart/related` body: each part's headers and bytes. */
  function multipartParts(body: Buffer, contentType: string) {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) throw new HttpError(400, 'multipart upload without a boundary', 'invalid');
    const delimiter = Buffer.from(`--${boundary}`);
    const parts: Array<{ headers: Record<string, string>; bytes: Buffer }> = [];
    let position = body.indexOf(delimiter);
    while (position !== -1) {
      const afterDelimiter = position + delimiter.length;
      if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
      const headersEnd = body.indexOf('\r\n\r\n', afterDelimiter);
      if (headersEnd === -1) throw new HttpError(400, 'malformed multipart body', 'invalid');
      const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headersEnd + 4);
      if (next === -1) throw new HttpError(400, 'multipart body without a closing boundary', 'invalid');
      const headers: Record<string, string> = {};
      for (const line of body.subarray(afterDelimiter, headersEnd).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      parts.push({ headers, bytes: body.subarray(headersEnd + 4, next) });
      position = next + 2;
    }
    if (parts.length !== 2)
      throw new HttpError(400, 'a multipart upload has a metadata part and a media part', 'invalid');
    return parts as [(typeof parts)[0], (typeof parts)[0]];
  }

  async function readBody(
    request: IncomingMessage,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<{ bytes: Buffer; size: number }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size <= limit) chunks.push(chunk);
    }
    return { bytes: Buffer.concat(chunks), size };
  }

  async function upload(
    request: IncomingMessage,
    response: ServerResponse,
    bucketName: string,
    query: URLSearchParams,
  ) {
    const type = query.get('uploadType');
    const uploadId = query.get('upload_id');
    if (uploadId !== null) return resumableChunk(request, response, uploadId);
    const { bytes } = await readBody(request);
    const contentType = String(request.headers['content-type'] ?? '');
    if (type === 'media') {
      const name = query.get('name') ?? '';
      const object = write(
        bucketName,
        name,
        bytes,
        { contentType, contentEncoding: query.get('contentEncoding') ?? undefined },
        query,
      );
      return sendJson(response, 200, metadataOf(object));
    }
    if (type === 'multipart') {
      const [metadataPart, mediaPart] = multipartParts(bytes, contentType);
      const metadata = JSON.parse(metadataPart.bytes.toString('utf8') || '{}') as Record<
        string,
        string | undefined
      >;
      const object = write(
        bucketName,
        metadata.name ?? query.get('name') ?? '',
        Buffer.from(mediaPart.bytes),
        {
          contentType: metadata.contentType ?? mediaPart.headers['content-type'],
          contentEncoding: metadata.contentEncoding,
        },
        query,
      );
      return sendJson(response, 200, metadataOf(object));
    }
    if (type === 'resumable') {
      bucketNamed(bucketName);
      const metadata = bytes.byteLength
        ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)
        : {};
      const name = (metadata.name as string | undefined) ?? query.get('name') ?? '';
      checkPreconditions(buckets.get(bucketName)!.get(name), query);
      const id = randomUUID();
      const uploadContentType = request.headers['x-upload-content-type'];
      sessions.set(id, {
        bucket: bucketName,
        name,
        metadata: { ...(uploadContentType ? { contentType: uploadContentType } : {}), ...metadata },
        preconditions: query,
        chunks: [],
        received: 0,
      });
      const location = `${url}/upload/storage/v1/b/${bucketName}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      response.writeHead(200, { location, 'content-length': 0 });
      return response.end();
    }
    throw new HttpError(400, `uploadType ${type} is not supported`, 'invalid');
  }

  async function resumableChunk(request: IncomingMessage, response: ServerResponse, id: string) {
    const session = sessions.get(id);
    if (!session) throw new HttpError(404, 'No such upload session', 'notFound');
    const { bytes } = await readBody(request);
    const range = String(request.headers['content-range'] ?? '');
    const status = /^bytes \*\/(\d+|\*)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(range);
    let total: number | undefined;
    if (status) {
      total = status[1] === '*' ? undefined : Number(status[1]);
    } else if (chunk || range === '') {
      const start = chunk ? Number(chunk[1]) : 0;
      if (start !== session.received)
        throw new HttpError(400, `chunk starts at ${start}, expected ${session.received}`, 'invalid');
      session.chunks.push(bytes);
      session.received += bytes.byteLength;
      // `bytes a-*/*` or no Content-Range: this request carries the rest of the object.
      total = !chunk || chunk[2] === '*' ? session.received : chunk[3] === '*' ? undefined : Number(chunk[3]);
    } else {
      throw new HttpError(400, `malformed Content-Range ${range}`, 'invalid');
    }
    if (total === undefined || session.received < total) {
      response.writeHead(
        308,
        session.received
          ? { range: `bytes=0-${session.received - 1}`, 'content-length': 0 }
          : { 'content-length': 0 },
      );
      return response.end();
    }
    sessions.delete(id);
    const metadata = session.metadata as Record<string, string | undefined>;
    const object = write(
      session.bucket,
      session.name,
      Buffer.concat(session.chunks),
      { contentType: metadata.contentType, contentEncoding: metadata.contentEncoding },
      session.preconditions,
    );
    sendJson(response, 200, metadataOf(object));
  }

  /** The XML API: a `PUT` through a V4 signed URL. */
  async function signedPut(request: IncomingMessage, response: ServerResponse, rawUrl: string, path: string) {
    const refuse = (refusal: XmlRefusal) => {
      const text = xmlError(refusal);
      response.writeHead(refusal.status, {
        'content-type': 'application/xml; charset=UTF-8',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
    };
    const slash = path.indexOf('/', 1);
    const bucketName = decodeURIComponent(path.slice(1, slash === -1 ? undefined : slash));
    const name = slash === -1 ? '' : decodeURIComponent(path.slice(slash + 1));
    if (request.method !== 'PUT') {
      return refuse({
        status: 501,
        code: 'NotImplemented',
        message: `the stand-in serves only PUT through signed URLs, not ${request.method}`,
      });
    }
    const refusal = verifySignedRequest(
      { method: 'PUT', rawUrl, headers: request.headers },
      (email) => accounts.get(email),
      now(),
    );
    if (refusal) {
      await readBody(request, 0);
      return refuse(refusal);
    }
    if (!buckets.has(bucketName)) {
      await readBody(request, 0);
      return refuse({ status: 404, code: 'NoSuchBucket', message: 'The specified bucket does not exist.' });
    }
    const lengthRange = request.headers['x-goog-content-length-range'];
    const bounds = lengthRange === undefined ? undefined : /^(\d+),(\d+)$/.exec(String(lengthRange).trim());
    if (lengthRange !== undefined && !bounds) {
      await readBody(request, 0);
      return refuse({
        status: 400,
        code: 'InvalidArgument',
        message: 'Invalid argument.',
        details: `x-goog-content-length-range ${lengthRange} is not <min>,<max>`,
      });
    }
    const max = bounds ? Number(bounds[2]) : Number.POSITIVE_INFINITY;
    const { bytes, size } = await readBody(request, max);
    if (bounds && size > max) {
      return refuse({
        status: 400,
        code: 'EntityTooLarge',
        message:
          'Your proposed upload is larger than the maximum object size specified in your Policy Document.',
        details: `Content-length exceeds upper bound on range ${bounds[1]}-${bounds[2]}`,
      });
    }
    if (bounds && size < Number(bounds[1])) {
      return refuse({
        status: 400,
        code: 'EntityTooSmall',
        message:
          'Your proposed upload is smaller than the minimum object size specified in your Policy Document.',
      });
    }
    const query = new URLSearchParams();
    const generationMatch = request.headers['x-goog-if-generation-match'];
    if (generationMatch !== undefined) query.set('ifGenerationMatch', String(generationMatch));
    let object: StoredObject;
    try {
      object = write(
        bucketName,
        name,
        bytes,
        {
          contentType: request.headers['content-type'],
          contentEncoding: request.headers['content-encoding'],
        },
        query,
      );
    } catch (error) {
      if (error instanceof HttpError && error.status === 412) {
        return refuse({
          status: 412,
          code: 'PreconditionFailed',
          message: 'At least one of the pre-conditions you specified did not hold.',
        });
      }
      throw error;
    }
    response.writeHead(200, {
      etag: `"${Buffer.from(object.md5Hash, 'base64').toString('hex')}"`,
      'x-goog-generation': object.generation,
      'x-goog-metageneration': object.metageneration,
      'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      'x-goog-stored-content-length': object.bytes.byteLength,
      'x-goog-stored-content-encoding': object.contentEncoding ?? 'identity',
      'content-length': 0,
    });
    response.end();
  }

  /**
   * objects.rewrite in one call (`done: true`): the source generation (`sourceGeneration`, or the live one
   * under `ifSourceGenerationMatch`) copied to the destination, whose own `ifGenerationMatch` also holds.
   */
  function rewrite(
    response: ServerResponse,
    [sourceBucket, sourceName, destinationBucket, destinationName]: [string, string, string, string],
    query: URLSearchParams,
  ) {
    const sourceQuery = new URLSearchParams();
    const generation = query.get('sourceGeneration');
    if (generation !== null) sourceQuery.set('generation', generation);
    const sourceMatch = query.get('ifSourceGenerationMatch');
    if (sourceMatch !== null) sourceQuery.set('ifGenerationMatch', sourceMatch);
    const source = find(sourceBucket, sourceName, sourceQuery);
    const destinationQuery = new URLSearchParams();
    const destinationMatch = query.get('ifGenerationMatch');
    if (destinationMatch !== null) destinationQuery.set('ifGenerationMatch', destinationMatch);
    const copy = write(
      destinationBucket,
      destinationName,
      source.bytes,
      {
        contentType: source.contentType,
        ...(source.contentEncoding ? { contentEncoding: source.contentEncoding } : {}),
      },
      destinationQuery,
    );
    const size = String(copy.bytes.byteLength);
    return sendJson(response, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: size,
      objectSize: size,
      done: true,
      resource: metadataOf(copy),
    });
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const rawUrl = request.url ?? '/';
    requests.push(`${request.method} ${rawUrl}`);
    if (failures && failures.count > 0) {
      failures.count--;
      await readBody(request, 0);
      throw new HttpError(
        failures.status,
        'injected fault',
        failures.status === 429 ? 'rateLimitExceeded' : 'backendError',
      );
    }
    const queryStart = rawUrl.indexOf('?');
    const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const query = new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
    if (query.has('X-Goog-Signature') || query.has('X-Goog-Algorithm'))
      return signedPut(request, response, rawUrl, path);

    let match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (match && (request.method === 'POST' || request.method === 'PUT')) {
      return upload(request, response, decodeURIComponent(match[1]!), query);
    }
    const jsonPath = path.replace(/^\/storage\/v1(?=\/)/, '').replace(/^\/download\/storage\/v1(?=\/)/, '');
    match = /^\/b\/([^/]+)\/o\/(.+)\/rewriteTo\/b\/([^/]+)\/o\/(.+)$/.exec(jsonPath);
    if (match && request.method === 'POST') {
      return rewrite(
        response,
        match.slice(1).map(decodeURIComponent) as [string, string, string, string],
        query,
      );
    }
    match = /^\/b\/([^/]+)\/o\/(.+)$/.exec(jsonPath);
    if (match) {
      const bucketName = decodeURIComponent(match[1]!);
      const name = decodeURIComponent(match[2]!);
      if (request.method === 'GET') {
        const object = find(bucketName, name, query);
        return query.get('alt') === 'media'
          ? download(request, response, object)
          : sendJson(response, 200, metadataOf(object));
      }
      if (request.method === 'DELETE') {
        const object = find(bucketName, name, query);
        buckets.get(bucketName)!.delete(object.name);
        response.writeHead(204);
        return response.end();
      }
    }
    match = /^\/b\/([^/]+)\/o$/.exec(jsonPath);
    if (match && request.method === 'GET')
      return sendJson(response, 200, list(decodeURIComponent(match[1]!), query));
    match = /^\/b\/([^/]+)$/.exec(jsonPath);
    if (match && request.method === 'GET') {
      const name = decodeURIComponent(match[1]!);
      bucketNamed(name);
      return sendJson(response, 200, {
        kind: 'storage#bucket',
        id: name,
        name,
        location: 'US',
        storageClass: 'STANDARD',
      });
    }
    if (jsonPath === '/b' && request.method === 'POST') {
      const { name } = JSON.parse((await readBody(request)).bytes.toString('utf8')) as { name: string };
      if (buckets.has(name))
        throw new HttpError(
          409,
          'Your previous request to create the named bucket succeeded and you already own it.',
          'conflict',
        );
      buckets.set(name, new Map());
      return sendJson(response, 200, { kind: 'storage#bucket', id: name, name });
    }
    throw new HttpError(404, `the stand-in does not serve ${request.method} ${path}`, 'notFound');
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      const reason = error instanceof HttpError ? error.reason : 'backendError';
      if (!response.headersSent)
        sendJson(response, status, {
          error: { code: status, message, errors: [{ message, domain: 'global', reason }] },
        });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    createBucket: (name) => void buckets.set(name, buckets.get(name) ?? new Map()),
    onFinalize: (listener) => void finalizeListeners.push(listener),
    trust: (account) => void accounts.set(account.clientEmail, account.publicKey),
    object: (bucket, name) => buckets.get(bucket)?.get(name),
    advanceClock: (milliseconds) => void (clockOffset += milliseconds),
    failNext: (status, count = 1) => void (failures = { status, count }),
    corruptNextDownload: () => void (corruptDownload = true),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
