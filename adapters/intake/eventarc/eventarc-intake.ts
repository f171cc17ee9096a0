/**
 * Intake `eventarc`: Cloud Storage CloudEvents an Eventarc trigger delivers to
 * `POST /v1/notifications/eventarc`, in binary mode (`ce-*` headers, the object resource as the body) or
 * structured mode (`application/cloudevents+json`), each delivery verified by its Google-signed OIDC token
 * unless configured off. `google.cloud.storage.object.v1.finalized` lands the object's generation; other
 * types, and other buckets, are acknowledged and ignored. A malformed delivery is answered 400, for the
 * reasons the Pub/Sub push intake gives: Eventarc delivers through a Pub/Sub subscription of its own.
 */
import { DropgateError } from '../../errors.js';
import type { HttpIntake, IntakeMode, IntakeResult } from '../../ports.js';
import { objectResource, parseObjectResource, type GcsObjectResource } from '../gcs-object-resource.js';
import { createGoogleOidcVerifier, type GoogleOidcOptions } from '../google-oidc.js';
import { readNotificationBody } from '../read-notification-body.js';

export const EVENTARC_PATH = '/v1/notifications/eventarc';

export const STORAGE_FINALIZED = 'google.cloud.storage.object.v1.finalized';

export interface EventarcIntakeOptions {
  /** The store's bucket: events of any other bucket are acknowledged and ignored. */
  bucket: string;
  /** `inline` by default: Cloud Run throttles the CPU of an instance outside its requests. */
  mode?: IntakeMode;
  auth: GoogleOidcOptions | 'none';
}

/** The CloudEvents attributes an intake reads, and the event's data. */
export interface StorageCloudEvent {
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  data: GcsObjectResource;
}

const SOURCE = /^\/\/storage\.googleapis\.com\/projects\/[^/]+\/buckets\/([^/]+)$/;

export function createEventarcIntake(options: EventarcIntakeOptions): HttpIntake {
  const verify = options.auth === 'none' ? undefined : createGoogleOidcVerifier(options.auth);
  return {
    type: 'eventarc',
    method: 'POST',
    path: EVENTARC_PATH,
    mode: options.mode ?? 'inline',
    async receive(request) {
      await verify?.(request);
      const event = parseCloudEvent(request.headers, await readNotificationBody(request));
      return landingOfEvent(event, options.bucket);
    },
    respond(result, outcomes) {
      const eventId = result.reply?.eventId;
      if ('ignored' in result) return Response.json({ eventId, ignored: result.ignored });
      return Response.json({
        eventId,
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

/** A storage CloudEvent in structured mode (by its content type) or binary mode (`ce-*` headers). */
export function parseCloudEvent(headers: Headers, body: string): StorageCloudEvent {
  const contentType = headers.get('content-type') ?? '';
  if (/^application\/cloudevents\+json\b/i.test(contentType)) return structured(body);
  if (/^application\/cloudevents-batch\+json\b/i.test(contentType)) {
    throw new DropgateError(
      'BAD_REQUEST',
      'a batch of CloudEvents is not accepted: Eventarc sends one event per request',
    );
  }
  const attribute = (name: string) => headers.get(`ce-${name}`) ?? undefined;
  return checked(
    {
      specversion: attribute('specversion'),
      id: attribute('id'),
      type: attribute('type'),
      source: attribute('source'),
      subject: attribute('subject'),
      time: attribute('time'),
    },
    () => parseObjectResource(body, 'the event data (the request body)'),
    'header ce-',
  );
}

function structured(body: string): StorageCloudEvent {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new DropgateError('BAD_REQUEST', 'the structured CloudEvent is not JSON');
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new DropgateError('BAD_REQUEST', 'the structured CloudEvent is not a JSON object');
  }
  const fields = event as Record<string, unknown>;
  const text = (name: string) => (typeof fields[name] === 'string' ? (fields[name] as string) : undefined);
  return checked(
    {
      specversion: text('specversion'),
      id: text('id'),
      type: text('type'),
      source: text('source'),
      subject: text('subject'),
      time: text('time'),
    },
    () => {
      if (fields.data !== undefined) return objectResource(fields.data, 'the event data');
      const encoded = text('data_base64');
      if (encoded === undefined) throw new DropgateError('BAD_REQUEST', 'the CloudEvent carries no data');
      let decoded: string;
      try {
        decoded = new TextDecoder('utf-8', { fatal: true }).decode(
          Uint8Array.from(atob(encoded), (character) => character.charCodeAt(0)),
        );
      } catch {
        throw new DropgateError('BAD_REQUEST', 'data_base64 of the CloudEvent is not base64 of UTF-8 text');
      }
      return parseObjectResource(decoded, 'the event data');
    },
    '',
  );
}

function checked(
  attributes: Record<'specversion' | 'id' | 'type' | 'source' | 'subject' | 'time', string | undefined>,
  data: () => GcsObjectResource,
  prefix: string,
): StorageCloudEvent {
  const required = (name: 'specversion' | 'id' | 'type' | 'source') => {
    const value = attributes[name];
    if (!value) throw new DropgateError('BAD_REQUEST', `not a CloudEvent: ${prefix}${name} is missing`);
    return value;
  };
  const specversion = required('specversion');
  if (specversion !== '1.0') {
    throw new DropgateError(
      'BAD_REQUEST',
      `CloudEvents specversion ${JSON.stringify(specversion)} is not 1.0`,
    );
  }
  const { subject, time } = attributes;
  return {
    id: required('id'),
    type: required('type'),
    source: required('source'),
    ...(subject ? { subject } : {}),
    ...(time ? { time } : {}),
    data: data(),
  };
}

/** A finalized object of the store's bucket lands its generation; anything else is ignored. */
export function landingOfEvent(event: StorageCloudEvent, bucket: string): IntakeResult {
  const { data } = event;
  const sourceBucket = SOURCE.exec(event.source)?.[1];
  if (sourceBucket !== undefined && decodeURIComponent(sourceBucket) !== data.bucket) {
    throw new DropgateError(
      'BAD_REQUEST',
      `the event's source ${event.source} names another bucket than its data's ${data.bucket}`,
    );
  }
  if (event.subject !== undefined && event.subject !== `objects/${data.name}`) {
    throw new DropgateError(
      'BAD_REQUEST',
      `the event's subject ${JSON.stringify(event.subject)} is not objects/<the data's name>`,
    );
  }
  const reply = { eventId: event.id };
  const object = `gs://${data.bucket}/${data.name}#${data.generation}`;
  if (data.bucket !== bucket) {
    return { ignored: `${event.type} of ${object}: bucket ${data.bucket} is not ${bucket}`, reply };
  }
  if (event.type !== STORAGE_FINALIZED) {
    return { ignored: `${event.type} of ${object}: only ${STORAGE_FINALIZED} is ingested`, reply };
  }
  const eventTime = event.time ?? data.updated;
  return {
    landings: [
      {
        bucket: data.bucket,
        key: data.name,
        version: data.generation,
        kind: 'finalized',
        via: 'eventarc',
        ...(eventTime ? { eventTime } : {}),
      },
    ],
    reply,
  };
}
