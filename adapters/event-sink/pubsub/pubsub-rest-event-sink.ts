/**
 * The Pub/Sub sink over Pub/Sub's REST API (`projects.topics.publish`), for Workers, where the gRPC client
 * does not run: the same messages, modes, packing and limits as the gRPC sink (pubsub-sink.ts), each
 * message's data base64 in a JSON request. A request is authorized with a service account's access
 * token; with `emulatorHost` (PUBSUB_EMULATOR_HOST) it goes over plain HTTP with none, as Google's
 * clients do. Web APIs only.
 */
import { DropgateError } from '../../errors.js';
import { PARTITION_KEY_ATTRIBUTE, type EventBatch, type EventSink } from '../../ports.js';
import type { RetryPolicy } from '../../retry.js';
import { fetchWithRetries } from '../fetch-with-retries.js';
import { utf8Length } from '../utf8-length.js';
import type { AccessTokens } from './google-access-token.js';
import {
  BINARY_EXTRA_BYTES,
  cachedAttributesBytes,
  createPubSubSink,
  GRPC_CODES,
  STRUCTURED_CONTENT_TYPE,
  type PubSubMessage,
  type PubSubMode,
  type PubSubSinkOptions,
} from './pubsub-sink.js';

export interface PubSubRestEventSinkOptions extends PubSubSinkOptions {
  /** `host:port` of the Pub/Sub emulator: plain HTTP, no token. */
  emulatorHost?: string;
  /** The access tokens of a service account with roles/pubsub.publisher; needed unless `emulatorHost`. */
  tokens?: AccessTokens;
  /** How long one request may take before it counts as failed, retryably (default 60 s). */
  requestTimeoutMs?: number;
  /** Attempts at one request while the answer is a network error or a retryable status. */
  retry?: RetryPolicy;
  fetch?: typeof fetch;
}

/**
 * The largest event body the sink sends. Pub/Sub holds a REST request's JSON to 10 MB, and base64 makes
 * data 4/3 its size: 7.3 MB of body is 9.73 MB of JSON, which leaves room for attributes and framing.
 */
export const PUBSUB_REST_MAX_MESSAGE_BYTES = 7_300_000;

const API = 'https://pubsub.googleapis.com';
/** `{"messages":[]}` */
const REQUEST_FRAMING = 15;
/** `{"data":"","attributes":},` */
const MESSAGE_FRAMING = 26;

/** An HTTP status as the gRPC code its REST error would name, for an answer that names none. */
const CODE_OF_STATUS: Record<number, number> = {
  400: GRPC_CODES.INVALID_ARGUMENT,
  401: GRPC_CODES.UNAUTHENTICATED,
  403: GRPC_CODES.PERMISSION_DENIED,
  404: GRPC_CODES.NOT_FOUND,
  408: GRPC_CODES.DEADLINE_EXCEEDED,
  409: GRPC_CODES.ABORTED,
  429: GRPC_CODES.RESOURCE_EXHAUSTED,
  499: GRPC_CODES.CANCELLED,
  500: GRPC_CODES.INTERNAL,
  501: GRPC_CODES.UNIMPLEMENTED,
  503: GRPC_CODES.UNAVAILABLE,
  504: GRPC_CODES.DEADLINE_EXCEEDED,
};

export function createPubSubRestEventSink(options: PubSubRestEventSinkOptions): EventSink {
  const { emulatorHost, tokens } = options;
  if (!emulatorHost && !tokens) {
    throw new DropgateError(
      'CONFIG_INVALID',
      'the Pub/Sub REST sink needs a service account key, or PUBSUB_EMULATOR_HOST for the emulator',
    );
  }
  const base = emulatorHost ? `http://${emulatorHost}` : API;
  const http = {
    timeoutMs: options.requestTimeoutMs ?? 60_000,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  return createPubSubSink(
    {
      maxMessageBytes: PUBSUB_REST_MAX_MESSAGE_BYTES,
      async publish(topicPath, messages) {
        const body = requestBody(messages);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        // Once per request, outside its retries: the token exchange has retries of its own.
        if (tokens) headers.authorization = `Bearer ${await tokens.token()}`;
        const response = await fetchWithRetries(
          () => new Request(`${base}/v1/${topicPath}:publish`, { method: 'POST', headers, body }),
          http,
        );
        if (!response.ok) throw await publishError(response);
        await response.body?.cancel();
      },
      async close() {},
      requestOverheadBytes: () => REQUEST_FRAMING,
      messageBytes: messageBytesBound,
    },
    options,
  );
}

/** A refused request as an error carrying the gRPC code its answer names (`error.status`). */
async function publishError(response: Response): Promise<Error> {
  const text = await response.text();
  let status: string | undefined;
  let message = text.slice(0, 500);
  try {
    const { error } = JSON.parse(text) as { error?: { status?: string; message?: string } };
    status = error?.status;
    message = error?.message ?? message;
  } catch {
    // Not Google's error JSON (a proxy's page): the status code alone says what it was.
  }
  const named = status ? (GRPC_CODES as Record<string, number>)[status] : undefined;
  const code =
    named ??
    CODE_OF_STATUS[response.status] ??
    (response.status >= 500 ? GRPC_CODES.UNKNOWN : GRPC_CODES.FAILED_PRECONDITION);
  return Object.assign(new Error(`HTTP ${response.status}${status ? ` ${status}` : ''}: ${message}`), {
    code,
  });
}

/** A PublishRequest as JSON: each message's data in base64, its attributes as an object. */
function requestBody(messages: PubSubMessage[]): string {
  const parts = messages.map(
    ({ data, attributes, orderingKey }) =>
      `{"data":"${base64Of(data)}","attributes":${JSON.stringify(attributes)}` +
      `${orderingKey === undefined ? '' : `,"orderingKey":${JSON.stringify(orderingKey)}`}}`,
  );
  return `{"messages":[${parts.join(',')}]}`;
}

/** `bytes` in standard base64, through `btoa` in chunks (no Buffer on Workers). */
function base64Of(bytes: Uint8Array): string {
  const chunk = 0x6000;
  const pieces: string[] = [];
  for (let start = 0; start < bytes.length; start += chunk) {
    pieces.push(btoa(String.fromCharCode(...bytes.subarray(start, start + chunk))));
  }
  // Each chunk is a multiple of 3 bytes, so only the last one carries padding.
  return pieces.join('');
}

/** Base64's length of `bytes` bytes. */
const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/**
 * At least the bytes event `index` adds to the JSON of a request: its body (in binary mode, the data and
 * attributes it turns into) in base64, its attributes, the framing.
 */
function messageBytesBound(events: EventBatch, index: number, mode: PubSubMode): number {
  const body = events.body(index).byteLength;
  const attributes = attributesBytes(events.attributes(index));
  // Binary mode: data (in base64) and attributes (as text) come from disjoint parts of the body.
  const extra = mode === 'binary' ? BINARY_EXTRA_BYTES : CONTENT_TYPE_ENTRY;
  // `,"orderingKey":"<key>"`, escaped as JSON escapes it.
  const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
  const ordering = key === undefined ? 0 : 15 + utf8Length(JSON.stringify(key));
  return MESSAGE_FRAMING + base64Length(body) + attributes + extra + ordering;
}

/** `"content-type":"application/cloudevents+json",` */
const CONTENT_TYPE_ENTRY = utf8Length(JSON.stringify({ 'content-type': STRUCTURED_CONTENT_TYPE })) - 1;

const attributesBytes = cachedAttributesBytes((attributes) => utf8Length(JSON.stringify(attributes)));
