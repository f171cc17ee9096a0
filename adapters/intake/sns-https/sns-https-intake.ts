/**
 * Intake `sns-https`: `POST /v1/notifications/sns-https`, an Amazon SNS HTTPS subscription carrying S3
 * notifications. Every message's signature is verified (SignatureVersion 1 and 2, sns-payload-validator)
 * with the certificate at its `SigningCertURL`, fetched only from an SNS host and cached; a message that is
 * unsigned, forged or from a topic not configured is refused with 403 and ingests nothing. A
 * `SubscriptionConfirmation` is confirmed by a GET of its `SubscribeURL` (an SNS host only). Notifications
 * ingest inline: the 2xx that stops SNS retrying goes out only once the file's events are durable.
 */
import SnsPayloadValidator from 'sns-payload-validator';
import { DropgateError, describeError } from '../../errors.js';
import type { HttpIntake, IntakeResult } from '../../ports.js';
import { parseS3Notification } from '../s3-notifications.js';

export const SNS_HTTPS_PATH = '/v1/notifications/sns-https';

export interface SnsHttpsIntakeOptions {
  /** Topic ARNs whose messages are accepted; any other topic gets 403. */
  topicArns: string[];
  /** Fetches signing certificates and subscription confirmations (an injected one in tests). */
  fetch?: typeof fetch;
}

/** SNS envelopes are a few KiB around a message of at most 256 KiB. */
const MAX_BODY_BYTES = 1024 * 1024;
const CERTIFICATE_PATH = /^\/SimpleNotificationService-[a-zA-Z0-9]{32}\.pem$/;
const TIMEOUT_MS = 10_000;

interface SnsMessage {
  Type: string;
  TopicArn?: string;
  Message?: string;
  MessageId?: string;
  SubscribeURL?: string;
  SigningCertURL?: string;
}

export function createSnsHttpsIntake(options: SnsHttpsIntakeOptions): HttpIntake {
  const topics = new Set(options.topicArns);
  const fetchFrom = options.fetch ?? fetch;
  const validator = new SnsPayloadValidator({ useCache: true, maxCerts: 100 });
  // The validator looks in its certificate cache before it fetches: certificates fetched here (bounded in
  // time, from SNS hosts only, and injectable in tests) are put there, so it never fetches on its own.
  const certificates = (
    validator as unknown as { certCache: { get(url: string): unknown; set(url: string, pem: string): void } }
  ).certCache;
  const fetching = new Map<string, Promise<void>>();

  async function loadCertificate(url: string): Promise<void> {
    if (!isSnsUrl(url) || !CERTIFICATE_PATH.test(new URL(url).pathname)) {
      throw forbidden(`SigningCertURL ${JSON.stringify(url)} is not an Amazon SNS certificate`);
    }
    if (certificates.get(url) !== undefined) return;
    let pending = fetching.get(url);
    if (!pending) {
      pending = (async () => {
        const response = await fetchFrom(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        const pem = await response.text();
        if (!response.ok || !pem.includes('-----BEGIN CERTIFICATE-----')) {
          throw new Error(`GET ${url} answered ${response.status} without a certificate`);
        }
        certificates.set(url, pem);
      })()
        .catch((error: unknown) => {
          throw new DropgateError(
            'RETRY_LATER',
            `the SNS signing certificate could not be fetched: ${describeError(error)}`,
          );
        })
        .finally(() => fetching.delete(url));
      fetching.set(url, pending);
    }
    await pending;
  }

  async function confirm(message: SnsMessage): Promise<IntakeResult> {
    const url = message.SubscribeURL;
    if (typeof url !== 'string' || !isSnsUrl(url)) {
      throw forbidden(`SubscribeURL ${JSON.stringify(url)} is not an Amazon SNS address`);
    }
    let status: number;
    try {
      const response = await fetchFrom(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      status = response.status;
      await response.body?.cancel();
    } catch (error) {
      throw new DropgateError(
        'RETRY_LATER',
        `confirming the SNS subscription failed: ${describeError(error)}`,
      );
    }
    if (status < 200 || status > 299) {
      throw new DropgateError(
        'RETRY_LATER',
        `confirming the SNS subscription failed: SNS answered ${status}`,
      );
    }
    return {
      ignored: `subscription to ${message.TopicArn} confirmed`,
      reply: { confirmed: message.TopicArn },
    };
  }

  return {
    type: 'sns-https',
    method: 'POST',
    path: SNS_HTTPS_PATH,
    mode: 'inline',
    async receive(request) {
      const message = await readMessage(request);
      if (!['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'].includes(message.Type)) {
        throw new DropgateError(
          'BAD_REQUEST',
          `SNS message Type ${JSON.stringify(message.Type)} is not one SNS sends`,
        );
      }
      if (typeof message.TopicArn !== 'string' || !topics.has(message.TopicArn)) {
        throw forbidden(`topic ${JSON.stringify(message.TopicArn)} is not one this intake is configured for`);
      }
      await loadCertificate(String(message.SigningCertURL ?? ''));
      try {
        await validator.validate(message as unknown as SnsPayloadValidator.SnsPayload);
      } catch (error) {
        throw forbidden(`the SNS message signature does not verify (${describeError(error)})`);
      }
      switch (message.Type) {
        case 'SubscriptionConfirmation':
          return confirm(message);
        case 'UnsubscribeConfirmation':
          return { ignored: `subscription to ${message.TopicArn} ended` };
        default:
          if (typeof message.Message !== 'string')
            throw new DropgateError('BAD_REQUEST', 'the SNS Notification has no Message');
          return parseS3Notification(message.Message, 'sns-https');
      }
    },
    respond(result, outcomes) {
      return Response.json(
        {
          ...result.reply,
          ingestion: outcomes.map((outcome) => ({ key: outcome.landing.key, status: outcome.status })),
        },
        { status: 200 },
      );
    },
  };
}

async function readMessage(request: Request): Promise<SnsMessage> {
  if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) {
    throw new DropgateError('PAYLOAD_TOO_LARGE', `an SNS message is at most ${MAX_BODY_BYTES} bytes`);
  }
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) {
    throw new DropgateError('PAYLOAD_TOO_LARGE', `an SNS message is at most ${MAX_BODY_BYTES} bytes`);
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw new DropgateError('BAD_REQUEST', 'the SNS message is not JSON');
  }
  if (typeof message !== 'object' || message === null || typeof (message as SnsMessage).Type !== 'string') {
    throw new DropgateError('BAD_REQUEST', 'the SNS message is not a JSON object with a "Type"');
  }
  return message as SnsMessage;
}

/** An `https` address of an Amazon SNS endpoint (`sns.<region>.amazonaws.com`, or `.com.cn`). */
export function isSnsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    url.port === '' &&
    url.username === '' &&
    url.password === '' &&
    /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(url.hostname)
  );
}

function forbidden(message: string): DropgateError {
  return new DropgateError('FORBIDDEN', `SNS message refused: ${message}`);
}
