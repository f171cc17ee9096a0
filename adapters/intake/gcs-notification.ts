/**
 * What a GCS bucket notification (a Pub/Sub message, however it arrived: pushed or pulled) asks for.
 * Web APIs only.
 */
import { DropgateError } from '../errors.js';
import type { IntakeResult } from '../ports.js';
import { isGeneration, parseObjectResource, type GcsObjectResource } from './gcs-object-resource.js';

/** One Pub/Sub message, as a push carried it (wrapped or not) or a subscriber pulled it. */
export interface PubsubMessage {
  attributes: Record<string, string>;
  /** The decoded `data`: the object resource JSON for JSON_API_V1, empty for NONE. */
  data: string;
  messageId?: string;
}

/** The one event type ingested; OBJECT_METADATA_UPDATE, OBJECT_DELETE, OBJECT_ARCHIVE and any later ones are not. */
const FINALIZE = 'OBJECT_FINALIZE';

/**
 * What a GCS notification asks for: an OBJECT_FINALIZE of the store's bucket lands the notified generation;
 * any other event type, or another bucket, is acknowledged and ignored (the gateway logs why).
 */
export function landingOf(message: PubsubMessage, bucket: string, via: string): IntakeResult {
  const { attributes } = message;
  const reply = message.messageId ? { messageId: message.messageId } : undefined;
  const withReply = <T extends object>(result: T) => (reply ? { ...result, reply } : result);
  const eventType = attributes.eventType;
  if (!eventType) {
    throw new DropgateError(
      'BAD_REQUEST',
      'the message has no eventType attribute: not a GCS notification (an unwrapped push needs ' +
        '--push-no-wrapper-write-metadata to carry the attributes)',
    );
  }
  const format = attributes.payloadFormat ?? (message.data ? 'JSON_API_V1' : 'NONE');
  let resource: GcsObjectResource | undefined;
  if (format === 'JSON_API_V1') {
    if (!message.data) throw new DropgateError('BAD_REQUEST', 'a JSON_API_V1 notification carries no data');
    resource = parseObjectResource(message.data, 'the notification data');
  } else if (format !== 'NONE') {
    throw new DropgateError(
      'BAD_REQUEST',
      `payloadFormat ${JSON.stringify(format)} is not JSON_API_V1 or NONE`,
    );
  }
  const bucketId = agreed('bucketId', attributes.bucketId, resource?.bucket);
  const key = agreed('objectId', attributes.objectId, resource?.name);
  const generation = agreed('objectGeneration', attributes.objectGeneration, resource?.generation);
  if (!isGeneration(generation)) {
    throw new DropgateError(
      'BAD_REQUEST',
      `objectGeneration ${JSON.stringify(generation)} is not a generation`,
    );
  }
  const object = `gs://${bucketId}/${key}#${generation}`;
  if (bucketId !== bucket) {
    return withReply({ ignored: `${eventType} of ${object}: bucket ${bucketId} is not ${bucket}` });
  }
  if (eventType !== FINALIZE) {
    return withReply({ ignored: `${eventType} of ${object}: only ${FINALIZE} is ingested` });
  }
  const eventTime = attributes.eventTime ?? resource?.updated;
  return withReply({
    landings: [
      {
        bucket: bucketId,
        key,
        version: generation,
        kind: 'finalized' as const,
        via,
        ...(eventTime ? { eventTime } : {}),
      },
    ],
  });
}

/** The value an attribute and the object resource agree on; BAD_REQUEST when neither has it or they differ. */
function agreed(
  attribute: string,
  fromAttribute: string | undefined,
  fromResource: string | undefined,
): string {
  if (fromAttribute !== undefined && fromResource !== undefined && fromAttribute !== fromResource) {
    throw new DropgateError(
      'BAD_REQUEST',
      `the ${attribute} attribute ${JSON.stringify(fromAttribute)} disagrees with the object resource's ${JSON.stringify(fromResource)}`,
    );
  }
  const value = fromAttribute ?? fromResource;
  if (!value) throw new DropgateError('BAD_REQUEST', `the notification has no ${attribute}`);
  return value;
}
