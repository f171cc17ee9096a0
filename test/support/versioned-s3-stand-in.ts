/**
 * A small S3 for tests, on 127.0.0.1, that keeps object versions: path-style requests for the operations
 * the `s3` store makes (PutObject answering `x-amz-version-id`, GetObject and HeadObject by `versionId` with
 * `Range` and `If-Match`, ListObjectsV2, CopyObject from a `versionId` or with `x-amz-copy-source-if-match`,
 * DeleteObject of a `versionId` or with `If-Match`, GetBucketVersioning, CreateBucket). With
 * `versioning: false` it is an unversioned bucket: no version ids, each write replaces the object. It
 * verifies no signature (SigV4 or presigned), knows no POST uploads, multipart uploads, delete markers in
 * listings, checksums, ACLs or encryption: what it leaves out is listed in the README (the `s3` store).
 * Tests can hold a GetObject's body part-way and cut the connection, as a network failure mid-read would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredVersion {
  versionId: string;
  bytes: Buffer;
  etag: string;
  contentType: string;
  contentEncoding?: string;
  lastModified: Date;
  deleteMarker?: true;
}

export interface VersionedS3StandInOptions {
  /** Buckets that exist from the start; others are made by CreateBucket. */
  buckets?: string[];
  /** Whether buckets keep versions (default true). */
  versioning?: boolean;
}

/** A GetObject body held part-way: see `holdReads`. */
export interface HeldRead {
  /** Resolves once a GetObject of the key has sent `afterBytes` bytes of its body and waits. */
  readonly reached: Promise<void>;
  /** Sends the rest of the body. */
  release(): void;
  /** Breaks the connection instead, as a network failure would: the client sees the body end early. */
  cut(): void;
}

export interface VersionedS3StandIn {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Every request received, as `METHOD /bucket/key?query` (the path as sent, percent-encoded). */
  readonly requests: string[];
  /** Every version of a key, oldest first (delete markers included). */
  versions(bucket: string, key: string): ReadonlyArray<{ versionId: string; etag: string; bytes: Buffer }>;
  /** Holds the body of the next GetObject of `key` after `afterBytes` bytes, until released or cut. */
  holdReads(key: string, afterBytes: number): HeldRead;
  /**
   * Runs `action` (e.g. writes a new version) before answering a GetObject of `key`: the next one, or the
   * one after `skip` more (a Parquet file's row groups are read one range at a time).
   */
  beforeNextGet(key: string, action: () => Promise<void>, skip?: number): void;
  stop(): Promise<void>;
}

class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);

const compareUtf8 = (left: string, right: string) =>
  Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));

/** A version id of S3's shape: 32 URL-safe characters. */
const newVersionId = () => randomBytes(24).toString('base64url');

export async function startVersionedS3StandIn(
  options: VersionedS3StandInOptions = {},
): Promise<VersionedS3StandIn> {
  const versioning = options.versioning ?? true;
  const buckets = new Map<string, Map<string, StoredVersion[]>>(
    (options.buckets ?? []).map((name) => [name, new Map()]),
  );
  const requests: string[] = [];
  const holds = new Map<string, { afterBytes: number; reached: () => void; go: Promise<boolean> }>();
  const beforeGet = new Map<string, { action: () => Promise<void>; skip: number }>();

  function bucketOf(name: string): Map<string, StoredVersion[]> {
    const bucket = buckets.get(name);
    if (!bucket) throw new S3Failure(404, 'NoSuchBucket', `The specified bucket ${name} does not exist`);
    return bucket;
  }

  /** The version a read names: `versionId`, else the current one; a delete marker is no object. */
  function find(bucket: string, key: string, versionId: string | null): StoredVersion {
    const versions = bucketOf(bucket).get(key) ?? [];
    if (versionId !== null && versionId !== 'null') {
      const found = versions.find((version) => version.versionId === versionId);
      if (!found) throw new S3Failure(404, 'NoSuchVersion', 'The specified version does not exist.');
      if (found.deleteMarker) throw new S3Failure(405, 'MethodNotAllowed', 'The version is a delete marker.');
      return found;
    }
    const current = versions.at(-1);
    if (!current || current.deleteMarker) throw new S3Failure(404, 'NoSuchKey', 'The key does not exist.');
    if (versionId === 'null' && current.versionId !== 'null')
      throw new S3Failure(404, 'NoSuchVersion', 'The specified version does not exist.');
    return current;
  }

  function store(bucket: string, key: string, version: Omit<StoredVersion, 'versionId' | 'lastModified'>) {
    const all = bucketOf(bucket);
    const stored: StoredVersion = {
      ...version,
      versionId: versioning ? newVersionId() : 'null',
      lastModified: new Date(),
    };
    all.set(key, versioning ? [...(all.get(key) ?? []), stored] : [stored]);
    return stored;
  }

  const etagOf = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

  function checkIfMatch(header: string | undefined, version: StoredVersion) {
    if (header !== undefined && header.replace(/^"|"$/g, '') !== version.etag) {
      throw new S3Failure(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
      );
    }
  }

  function describe(response: ServerResponse, version: StoredVersion) {
    response.setHeader('etag', `"${version.etag}"`);
    response.setHeader('last-modified', version.lastModified.toUTCString());
    response.setHeader('content-type', version.contentType);
    response.setHeader('accept-ranges', 'bytes');
    if (version.contentEncoding) response.setHeader('content-encoding', version.contentEncoding);
    if (versioning) response.setHeader('x-amz-version-id', version.versionId);
  }

  /** `[start, end]` inclusive of a `bytes=a-b` header within `size`; undefined for the whole object. */
  function rangeOf(header: string | undefined, size: number): [number, number] | undefined {
    if (header === undefined) return undefined;
    const match = /^bytes=(\d+)-(\d*)$/.exec(header);
    if (!match) throw new S3Failure(400, 'InvalidArgument', `unsupported Range ${header}`);
    const start = Number(match[1]);
    const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (start >= size) throw new S3Failure(416, 'InvalidRange', 'The requested range is not satisfiable');
    return [start, end];
  }

  async function sendBody(key: string, response: ServerResponse, body: Buffer) {
    const hold = holds.get(key);
    if (!hold || body.byteLength <= hold.afterBytes) return void response.end(body);
    holds.delete(key);
    response.write(body.subarray(0, hold.afterBytes));
    hold.reached();
    if (await hold.go) response.end(body.subarray(hold.afterBytes));
    else response.socket?.destroy();
  }

  async function getObject(
    request: IncomingMessage,
    response: ServerResponse,
    bucket: string,
    key: string,
    query: URLSearchParams,
  ) {
    const waiting = request.method === 'GET' ? beforeGet.get(key) : undefined;
    if (waiting && waiting.skip-- === 0) {
      beforeGet.delete(key);
      await waiting.action();
    }
    const version = find(bucket, key, query.get('versionId'));
    checkIfMatch(request.headers['if-match'], version);
    const range = rangeOf(request.headers.range, version.bytes.byteLength);
    describe(response, version);
    const body = range ? version.bytes.subarray(range[0], range[1] + 1) : version.bytes;
    response.statusCode = range ? 206 : 200;
    if (range)
      response.setHeader('content-range', `bytes ${range[0]}-${range[1]}/${version.bytes.byteLength}`);
    response.setHeader('content-length', body.byteLength);
    if (request.method === 'HEAD') return void response.end();
    await sendBody(key, response, body);
  }

  function listObjects(response: ServerResponse, bucket: string, query: URLSearchParams) {
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Number(query.get('max-keys') ?? 1000);
    const token = query.get('continuation-token');
    const after =
      token === null ? (query.get('start-after') ?? '') : Buffer.from(token, 'base64url').toString('utf8');
    const urlEncoded = query.get('encoding-type') === 'url';
    const keys = [...bucketOf(bucket).entries()]
      .filter(([key, versions]) => key.startsWith(prefix) && !versions.at(-1)!.deleteMarker)
      .filter(([key]) => after === '' || compareUtf8(key, after) > 0)
      .sort(([left], [right]) => compareUtf8(left, right));
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > maxKeys;
    const name = (key: string) => xmlEscape(urlEncoded ? encodeURIComponent(key) : key);
    const contents = page.map(([key, versions]) => {
      const current = versions.at(-1)!;
      return (
        `<Contents><Key>${name(key)}</Key><LastModified>${current.lastModified.toISOString()}</LastModified>` +
        `<ETag>"${current.etag}"</ETag><Size>${current.bytes.byteLength}</Size><StorageClass>STANDARD</StorageClass></Contents>`
      );
    });
    const next = truncated ? Buffer.from(page.at(-1)![0], 'utf8').toString('base64url') : undefined;
    response.setHeader('content-type', 'application/xml');
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Name>${xmlEscape(bucket)}</Name><Prefix>${name(prefix)}</Prefix><KeyCount>${page.length}</KeyCount>` +
        `<MaxKeys>${maxKeys}</MaxKeys>${urlEncoded ? '<EncodingType>url</EncodingType>' : ''}` +
        `<IsTruncated>${truncated}</IsTruncated>${contents.join('')}` +
        (token === null ? '' : `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>`) +
        (next === undefined ? '' : `<NextContinuationToken>${next}</NextContinuationToken>`) +
        `</ListBucketResult>`,
    );
  }

  function copyObject(request: IncomingMessage, response: ServerResponse, bucket: string, key: string) {
    const header = String(request.headers['x-amz-copy-source']);
    const [path, search = ''] = header.replace(/^\//, '').split('?');
    const slash = path!.indexOf('/');
    const sourceBucket = decodeURIComponent(path!.slice(0, slash));
    const sourceKey = decodeURIComponent(path!.slice(slash + 1));
    const source = find(sourceBucket, sourceKey, new URLSearchParams(search).get('versionId'));
    checkIfMatch(request.headers['x-amz-copy-source-if-match'] as string | undefined, source);
    const copied = store(bucket, key, {
      bytes: source.bytes,
      etag: source.etag,
      contentType: source.contentType,
      ...(source.contentEncoding ? { contentEncoding: source.contentEncoding } : {}),
    });
    if (versioning) {
      response.setHeader('x-amz-version-id', copied.versionId);
      response.setHeader('x-amz-copy-source-version-id', source.versionId);
    }
    response.setHeader('content-type', 'application/xml');
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><LastModified>${copied.lastModified.toISOString()}` +
        `</LastModified><ETag>"${copied.etag}"</ETag></CopyObjectResult>`,
    );
  }

  function deleteObject(
    request: IncomingMessage,
    response: ServerResponse,
    bucket: string,
    key: string,
    query: URLSearchParams,
  ) {
    const all = bucketOf(bucket);
    const versions = all.get(key) ?? [];
    const versionId = query.get('versionId');
    if (request.headers['if-match'] !== undefined)
      checkIfMatch(request.headers['if-match'], find(bucket, key, null));
    if (versionId !== null) {
      // A version id deletes that version for good; the one before it, if any, is current again.
      const left = versions.filter((version) => version.versionId !== versionId);
      if (left.length > 0) all.set(key, left);
      else all.delete(key);
      response.setHeader('x-amz-version-id', versionId);
    } else if (versioning && versions.length > 0) {
      const marker = store(bucket, key, {
        bytes: Buffer.alloc(0),
        etag: '',
        contentType: '',
        deleteMarker: true,
      });
      response.setHeader('x-amz-delete-marker', 'true');
      response.setHeader('x-amz-version-id', marker.versionId);
    } else {
      all.delete(key);
    }
    response.statusCode = 204;
    response.end();
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    requests.push(`${request.method} ${request.url}`);
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const [bucketSegment = '', ...keySegments] = url.pathname.slice(1).split('/');
    const bucket = decodeURIComponent(bucketSegment);
    const key = keySegments.map(decodeURIComponent).join('/');
    const query = url.searchParams;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);

    if (key === '') {
      if (request.method === 'PUT') {
        if (!buckets.has(bucket)) buckets.set(bucket, new Map());
        return void response.end();
      }
      bucketOf(bucket);
      if (request.method === 'GET' && query.has('versioning')) {
        response.setHeader('content-type', 'application/xml');
        return void response.end(
          `<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
            `${versioning ? '<Status>Enabled</Status>' : ''}</VersioningConfiguration>`,
        );
      }
      if (request.method === 'GET' && query.get('list-type') === '2')
        return listObjects(response, bucket, query);
      throw new S3Failure(
        501,
        'NotImplemented',
        `${request.method} ${url.search} on a bucket is not served here`,
      );
    }
    switch (request.method) {
      case 'PUT': {
        if (request.headers['x-amz-copy-source'] !== undefined)
          return copyObject(request, response, bucket, key);
        if (String(request.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-')) {
          throw new S3Failure(501, 'NotImplemented', 'aws-chunked uploads are not served here');
        }
        const stored = store(bucket, key, {
          bytes: body,
          etag: etagOf(body),
          contentType: String(request.headers['content-type'] ?? 'binary/octet-stream'),
          ...(request.headers['content-encoding']
            ? { contentEncoding: String(request.headers['content-encoding']) }
            : {}),
        });
        response.setHeader('etag', `"${stored.etag}"`);
        if (versioning) response.setHeader('x-amz-version-id', stored.versionId);
        return void response.end();
      }
      case 'GET':
      case 'HEAD':
        return getObject(request, response, bucket, key, query);
      case 'DELETE':
        return deleteObject(request, response, bucket, key, query);
      default:
        throw new S3Failure(501, 'NotImplemented', `${request.method} is not served here`);
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const failure = error instanceof S3Failure ? error : new S3Failure(500, 'InternalError', String(error));
      if (response.headersSent) return void response.socket?.destroy();
      response.statusCode = failure.status;
      if (request.method === 'HEAD') return void response.end();
      response.setHeader('content-type', 'application/xml');
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${failure.code}</Code>` +
          `<Message>${xmlEscape(failure.message)}</Message></Error>`,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    versions: (bucket, key) => bucketOf(bucket).get(key) ?? [],
    holdReads(key, afterBytes) {
      let reached!: () => void;
      let go!: (value: boolean) => void;
      const hold = {
        afterBytes,
        reached: () => reached(),
        go: new Promise<boolean>((resolve) => (go = resolve)),
      };
      holds.set(key, hold);
      return {
        reached: new Promise<void>((resolve) => (reached = resolve)),
        release: () => go(true),
        cut: () => go(false),
      };
    },
    beforeNextGet(key, action, skip = 0) {
      beforeGet.set(key, { action, skip });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
