/**
 * GCS notifications as Google sends them: Pub/Sub pushes (wrapped, unwrapped), in payload formats
 * JSON_API_V1 and NONE, and Eventarc storage CloudEvents (binary, structured).
 */

export interface NotifiedObject {
  bucket: string;
  key: string;
  generation: string;
  eventType?: string;
}

/** The object resource (JSON API v1) GCS writes into a JSON_API_V1 notification's data. */
export function objectResource({ bucket, key, generation }: NotifiedObject): Record<string, unknown> {
  return {
    kind: 'storage#object',
    id: `${bucket}/${key}/${generation}`,
    selfLink: `https://www.googleapis.com/storage/v1/b/${bucket}/o/${encodeURIComponent(key)}`,
    name: key,
    bucket,
    generation,
    metageneration: '1',
    contentType: 'text/csv',
    timeCreated: '2026-12-02T10:00:00.000Z',
    updated: '2026-12-02T10:00:00.000Z',
    storageClass: 'STANDARD',
    timeStorageClassUpdated: '2026-12-02T10:00:00.000Z',
    size: '1234',
    md5Hash: 'kT3l5lH2VnYbnjL4Gq/6Mw==',
    mediaLink: `https://storage.googleapis.com/download/storage/v1/b/${bucket}/o/${encodeURIComponent(key)}?generation=${generation}&alt=media`,
    crc32c: 'yZRlqg==',
    etag: 'CLjB8o6L7IkDEAE=',
  };
}

/** The attributes GCS sets on a notification message. */
export function notificationAttributes(
  object: NotifiedObject,
  payloadFormat: 'JSON_API_V1' | 'NONE' = 'JSON_API_V1',
): Record<string, string> {
  return {
    notificationConfig: `projects/_/buckets/${object.bucket}/notificationConfigs/1`,
    eventType: object.eventType ?? 'OBJECT_FINALIZE',
    payloadFormat,
    bucketId: object.bucket,
    objectId: object.key,
    objectGeneration: object.generation,
    eventTime: '2026-12-02T10:00:00.123456Z',
  };
}

/** The notification message's data: the object resource's JSON, or nothing for NONE. */
export function notificationData(object: NotifiedObject, payloadFormat: 'JSON_API_V1' | 'NONE'): string {
  return payloadFormat === 'NONE' ? '' : JSON.stringify(objectResource(object));
}

/** The body of a wrapped push, as a push subscription posts it. */
export function wrappedPush(
  object: NotifiedObject,
  payloadFormat: 'JSON_API_V1' | 'NONE' = 'JSON_API_V1',
  messageId = '1234567890',
): Record<string, unknown> {
  const data = notificationData(object, payloadFormat);
  const message: Record<string, unknown> = {
    attributes: notificationAttributes(object, payloadFormat),
    messageId,
    message_id: messageId,
    publishTime: '2026-12-02T10:00:00.5Z',
    publish_time: '2026-12-02T10:00:00.5Z',
  };
  if (data) message.data = Buffer.from(data).toString('base64');
  return { message, subscription: 'projects/dropgate-test/subscriptions/gcs-uploads' };
}

/** An unwrapped push with metadata written: the data as the body, metadata and attributes as headers. */
export function unwrappedPush(
  object: NotifiedObject,
  payloadFormat: 'JSON_API_V1' | 'NONE' = 'JSON_API_V1',
  messageId = '1234567890',
): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'x-goog-pubsub-subscription-name': 'projects/dropgate-test/subscriptions/gcs-uploads',
      'x-goog-pubsub-message-id': messageId,
      'x-goog-pubsub-publish-time': '2026-12-02T10:00:00.5Z',
      ...notificationAttributes(object, payloadFormat),
    },
    body: notificationData(object, payloadFormat),
  };
}

const STORAGE_TYPES: Record<string, string> = {
  OBJECT_FINALIZE: 'google.cloud.storage.object.v1.finalized',
  OBJECT_DELETE: 'google.cloud.storage.object.v1.deleted',
  OBJECT_ARCHIVE: 'google.cloud.storage.object.v1.archived',
  OBJECT_METADATA_UPDATE: 'google.cloud.storage.object.v1.metadataUpdated',
};

function cloudEventAttributes(object: NotifiedObject) {
  return {
    specversion: '1.0',
    id: '9876543210',
    type: STORAGE_TYPES[object.eventType ?? 'OBJECT_FINALIZE']!,
    source: `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
    subject: `objects/${object.key}`,
    time: '2026-12-02T10:00:00.123456Z',
  };
}

/** An Eventarc delivery in binary mode: `ce-*` headers, the object resource as the body. */
export function binaryCloudEvent(object: NotifiedObject): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  for (const [name, value] of Object.entries(cloudEventAttributes(object))) headers[`ce-${name}`] = value;
  return { headers, body: JSON.stringify(objectResource(object)) };
}

/** An Eventarc delivery in structured mode: the whole event as `application/cloudevents+json`. */
export function structuredCloudEvent(object: NotifiedObject): {
  headers: Record<string, string>;
  body: string;
} {
  return {
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify({
      ...cloudEventAttributes(object),
      datacontenttype: 'application/json',
      data: objectResource(object),
    }),
  };
}
