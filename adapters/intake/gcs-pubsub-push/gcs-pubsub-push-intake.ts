/**
 * Intake `gcs-pubsub-push`: GCS bucket notifications delivered by a Pub/Sub push subscription to
 * `POST /v1/notifications/gcs-pubsub-push`, wrapped or unwrapped, payload format JSON_API_V1 or NONE, each
 * push verified by its Google-signed OIDC token unless configured off.
 *
 * A malformed push is answered 400, not acknowledged: it is a subscription set up wrongly (an unwrapped
 * push without its metadata, a topic that carries other messages), and a 2xx would drop the notification
 * for good, where a 400 keeps it redelivered until the subscription's dead-letter policy moves it to the
 * dead-letter topic after its maximum delivery attempts, where an operator can see and replay it.
 */
import { DropgateError } from '../../errors.js';
import type { HttpIntake, IntakeMode } from '../../ports.js';
import { landingOf, type PubsubMessage } from '../gcs-notification.js';
import { createGoogleOidcVerifier, type GoogleOidcOptions } from '../google-oidc.js';
import { readNotificationBody } from '../read-notification-body.js';

export const GCS_PUBSUB_PUSH_PATH = '/v1/notifications/gcs-pubsub-push';

export interface GcsPubsubPushIntakeOptions {
  /** The store's bucket: notifications of any other bucket are acknowledged and ignored. */
  bucket: string;
  /** `inline` by default: Cloud Run throttles the CPU of an instance outside its requests. */
  mode?: IntakeMode;
  /** How pushes are authenticated: Google's OIDC token, or (the emulator, which sends none) not at all. */
  auth: GoogleOidcOptions | 'none';
}

/** The attributes GCS sets on every notification; an unwrapped push carries each as a header of its name. */
const NOTIFICATION_ATTRIBUTES = [
  'notificationConfig',
  'eventType',
  'payloadFormat',
  'bucketId',
  'objectId',
  'objectGeneration',
  'eventTime',
  'overwroteGeneration',
  'overwrittenByGeneration',
] as const;

export function createGcsPubsubPushIntake(options: GcsPubsubPushIntakeOptions): HttpIntake {
  const verify = options.auth === 'none' ? undefined : createGoogleOidcVerifier(options.auth);
  return {
    type: 'gcs-pubsub-push',
    method: 'POST',
    path: GCS_PUBSUB_PUSH_PATH,
    mode: options.mode ?? 'inline',
    async receive(request) {
      // Nothing of an unauthenticated request is read, let alone acted on.
      await verify?.(request);
      const message = parsePush(request.headers, await readNotificationBody(request));
      return landingOf(message, options.bucket, 'gcs-pubsub-push');
    },
    respond(result, outcomes) {
      const messageId = result.reply?.messageId;
      if ('ignored' in result) return Response.json({ messageId, ignored: result.ignored });
      return Response.json({
        messageId,
        landings: outcomes.map(({ landing, status, reason }) => ({
          key: landing.key,
          version: landing.version,
          status,
          ...(reason ? { reason } : {}),
        })),
      });
    },
  };
}

/**
 * The message a push carries: wrapped (`{ message: { data, attributes, messageId }, subscription }`) or,
 * from a subscription with payload unwrapping and `--push-no-wrapper-write-metadata`, the bare data as the
 * body with Pub/Sub's metadata in `x-goog-pubsub-*` headers and each attribute as a header of its own name.
 */
export function parsePush(headers: Headers, body: string): PubsubMessage {
  // Wrapped pushes may carry the x-goog-pubsub-* headers as well: the body decides first.
  const envelope = wrappedEnvelope(body);
  if (envelope) return fromWrapped(envelope);
  if (headers.has('x-goog-pubsub-message-id') || headers.has('x-goog-pubsub-subscription-name')) {
    const attributes: Record<string, string> = {};
    for (const name of NOTIFICATION_ATTRIBUTES) {
      const value = headers.get(name);
      if (value !== null) attributes[name] = value;
    }
    const messageId = headers.get('x-goog-pubsub-message-id');
    return { attributes, data: body, ...(messageId ? { messageId } : {}) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw notAPush('the body is not JSON');
  }
  throw notAPush(
    Array.isArray(parsed) || typeof parsed !== 'object' || parsed === null
      ? 'the body is not a JSON object'
      : 'the body has no "message" object',
  );
}

/** The body's `message` object when the body is a wrapped push, else undefined. */
function wrappedEnvelope(body: string): Record<string, unknown> | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    return undefined;
  }
  const message = (envelope as { message?: unknown } | null)?.message;
  return typeof message === 'object' && message !== null && !Array.isArray(message)
    ? (message as Record<string, unknown>)
    : undefined;
}

function fromWrapped(message: Record<string, unknown>): PubsubMessage {
  const { attributes = {}, data, messageId, message_id } = message;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new DropgateError('BAD_REQUEST', 'message.attributes of the push is not an object');
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value !== 'string') {
      throw new DropgateError('BAD_REQUEST', `message.attributes.${name} of the push is not a string`);
    }
  }
  if (data !== undefined && typeof data !== 'string') {
    throw new DropgateError('BAD_REQUEST', 'message.data of the push is not a base64 string');
  }
  const id =
    typeof messageId === 'string' ? messageId : typeof message_id === 'string' ? message_id : undefined;
  return {
    attributes: attributes as Record<string, string>,
    data: data ? decodeBase64(data) : '',
    ...(id ? { messageId: id } : {}),
  };
}

function notAPush(detail: string): DropgateError {
  return new DropgateError(
    'BAD_REQUEST',
    `not a Pub/Sub push: ${detail}; expected {"message": {...}, "subscription": ...}, or an unwrapped push ` +
      'with its metadata headers (a subscription with --push-no-wrapper needs --push-no-wrapper-write-metadata)',
  );
}

function decodeBase64(data: string): string {
  try {
    const binary = atob(data);
    const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DropgateError('BAD_REQUEST', 'message.data of the push is not base64 of UTF-8 text');
  }
}
