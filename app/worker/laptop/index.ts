/**
 * The laptop companion (wrangler.toml beside this file): what R2 and a consumer would do around Dropgate
 * in a deployment, for `wrangler dev`, which emits no R2 notifications and runs no consumer of the output
 * queues.
 *   POST /laptop/notify?key=<key>   sends R2's `PutObject` notification for an object of the local bucket
 *   GET  /laptop/events?queue=<q>   the messages the output queue `q` delivered, oldest first (JSON)
 * Every other request is Dropgate's (the product Worker, through a service binding).
 */

interface Env {
  DROPGATE: { fetch(request: Request): Promise<Response> };
  BUCKET: { head(key: string): Promise<{ key: string; size: number; etag: string } | null> };
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

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/laptop/notify' && request.method === 'POST') {
      const key = url.searchParams.get('key');
      if (!key) return Response.json({ error: 'give the object key: ?key=<key>' }, { status: 400 });
      const object = await env.BUCKET.head(key);
      if (!object) return Response.json({ error: `no object ${key} in ${BUCKET_NAME}` }, { status: 404 });
      // The shape R2 sends (developers.cloudflare.com/r2/buckets/event-notifications/).
      const notification = {
        account: 'local',
        action: 'PutObject',
        bucket: BUCKET_NAME,
        object: { key: object.key, size: object.size, eTag: object.etag },
        eventTime: new Date().toISOString(),
      };
      await env.NOTIFICATIONS.send(notification, { contentType: 'json' });
      return Response.json({ sent: notification }, { status: 202 });
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
