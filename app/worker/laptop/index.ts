/**
 * The laptop companion (wrangler.toml beside this file): what R2 and a consumer would do around Dropgate
 * in a deployment, for `wrangler dev`, which has no S3 API, emits no R2 notifications and runs no consumer
 * of the output queues.
 *   PUT  /laptop/s3/<bucket>/<key>  R2's S3 API for a presigned PUT (Dropgate's upload URLs, with
 *                                   R2_S3_ENDPOINT pointing here): the signature, expiry and signed content
 *                                   type checked as R2 checks them, the object put in the local bucket and
 *                                   R2's `PutObject` notification sent, as a bucket notification rule does
 *   POST /laptop/notify?key=<key>   sends that notification for an object put otherwise (wrangler r2 object
 *                                   put --local)
 *   GET  /laptop/events?queue=<q>   the messages the output queue `q` delivered, oldest first (JSON)
 * Every other request is Dropgate's (the product Worker, through a service binding).
 */
import { AwsV4Signer } from 'aws4fetch';

interface StoredObject {
  key: string;
  size: number;
  etag: string;
}

interface Env {
  DROPGATE: { fetch(request: Request): Promise<Response> };
  BUCKET: {
    head(key: string): Promise<StoredObject | null>;
    put(
      key: string,
      value: ReadableStream | ArrayBuffer,
      options: { httpMetadata: { contentType?: string } },
    ): Promise<StoredObject>;
  };
  /** The stand-in S3 API's credentials ([vars] beside this file; Dropgate's .dev.vars names the same). */
  R2_ACCESS_KEY_ID: string;
  R2_SECRET_ACCESS_KEY: string;
  RECEIVED: {
    put(key: string, value: string): Promise<void>;
    get(key: string): Promise<string | null>;
    list(options: { prefix: string; cursor?: string }): Promise<{
      keys: Array<{ name: string }>;
      list_complete: boolean;
      cursor?: string;
    }>;
  };
  NOTIFICATIONS: { send(body: unknown, options?: { contentType?: string }): Promise<void> };
}

interface QueueMessage {
  id: string;
  body: unknown;
  ack(): void;
}

/** The bucket's name in wrangler.toml, as R2 names it in a notification. */
const BUCKET_NAME = 'dropgate-uploads';

const S3_PREFIX = `/laptop/s3/${BUCKET_NAME}/`;

/** Sends R2's notification for a put object, in the shape R2 sends (developers.cloudflare.com/r2/buckets/event-notifications/). */
async function notify(env: Env, object: StoredObject) {
  const notification = {
    account: 'local',
    action: 'PutObject',
    bucket: BUCKET_NAME,
    object: { key: object.key, size: object.size, eTag: object.etag },
    eventTime: new Date().toISOString(),
  };
  await env.NOTIFICATIONS.send(notification, { contentType: 'json' });
  return notification;
}

/** An S3 error document, as R2 answers. */
function s3Error(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, headers: { 'content-type': 'application/xml' } },
  );
}

/**
 * A presigned PUT as R2's S3 API takes it: the query's SigV4 signature is computed again from the request
 * (method, URL, the headers it signed) with the stand-in's credentials and must match; an expired URL or
 * another key id is refused. The body is stored with its content type, then the notification is sent.
 */
async function presignedPut(request: Request, env: Env, url: URL): Promise<Response> {
  const query = url.searchParams;
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const expires = Number(query.get('X-Amz-Expires'));
  const signedHeaders = query.get('X-Amz-SignedHeaders')?.split(';') ?? [];
  if (!signature || !amzDate || !Number.isInteger(expires)) {
    return s3Error(
      403,
      'AccessDenied',
      'not a presigned URL: X-Amz-Signature, X-Amz-Date and X-Amz-Expires are needed',
    );
  }
  if (query.get('X-Amz-Credential')?.split('/')[0] !== env.R2_ACCESS_KEY_ID) {
    return s3Error(403, 'InvalidAccessKeyId', "the access key id is not the stand-in's R2_ACCESS_KEY_ID");
  }
  const signedAt = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (!(Date.now() <= signedAt + expires * 1000)) return s3Error(403, 'AccessDenied', 'Request has expired');
  const unsigned = new URL(url);
  unsigned.searchParams.delete('X-Amz-Signature');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    if (name !== 'host') headers[name] = request.headers.get(name) ?? '';
  }
  const expected = await new AwsV4Signer({
    datetime: amzDate,
    url: unsigned.toString(),
    method: request.method,
    headers,
    accessKeyId: env.R2_ACCESS_KEY_ID,
    secretAccessKey: env.R2_SECRET_ACCESS_KEY,
    service: 's3',
    region: 'auto',
    signQuery: true,
    allHeaders: true,
  }).sign();
  if (expected.url.searchParams.get('X-Amz-Signature') !== signature) {
    return s3Error(
      403,
      'SignatureDoesNotMatch',
      'the signature does not match the request (method, URL or a signed header such as content-type differs)',
    );
  }
  const key = decodeURIComponent(url.pathname.slice(S3_PREFIX.length));
  const contentType = request.headers.get('content-type') ?? undefined;
  const object = await env.BUCKET.put(key, await request.arrayBuffer(), {
    httpMetadata: contentType ? { contentType } : {},
  });
  await notify(env, object);
  return new Response(null, { status: 200, headers: { etag: `"${object.etag}"` } });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/laptop/s3/')) {
      if (request.method !== 'PUT')
        return s3Error(405, 'MethodNotAllowed', 'the stand-in takes presigned PUTs only');
      if (!url.pathname.startsWith(S3_PREFIX) || url.pathname === S3_PREFIX) {
        return s3Error(404, 'NoSuchBucket', `the stand-in serves bucket ${BUCKET_NAME} only`);
      }
      return presignedPut(request, env, url);
    }
    if (url.pathname === '/laptop/notify' && request.method === 'POST') {
      const key = url.searchParams.get('key');
      if (!key) return Response.json({ error: 'give the object key: ?key=<key>' }, { status: 400 });
      const object = await env.BUCKET.head(key);
      if (!object) return Response.json({ error: `no object ${key} in ${BUCKET_NAME}` }, { status: 404 });
      return Response.json({ sent: await notify(env, object) }, { status: 202 });
    }
    if (url.pathname === '/laptop/events' && request.method === 'GET') {
      const queue = url.searchParams.get('queue');
      if (!queue) return Response.json({ error: 'give the queue: ?queue=<name>' }, { status: 400 });
      const messages: unknown[] = [];
      let cursor: string | undefined;
      do {
        const page = await env.RECEIVED.list({ prefix: `${queue}/`, ...(cursor ? { cursor } : {}) });
        for (const { name } of page.keys) messages.push(JSON.parse((await env.RECEIVED.get(name))!));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return Response.json({ queue, messages });
    }
    return env.DROPGATE.fetch(request);
  },

  async queue(batch: { queue: string; messages: QueueMessage[] }, env: Env): Promise<void> {
    for (const message of batch.messages) {
      const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
      // Keys sort by arrival: the time, then the message id.
      await env.RECEIVED.put(`${batch.queue}/${Date.now().toString().padStart(15, '0')}-${message.id}`, body);
      message.ack();
    }
  },
};
