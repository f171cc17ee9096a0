/** Notifications shaped as S3, SNS and EventBridge send them (field names as AWS documents them). */

/** One record of an S3 event notification; `key` is given already URL-encoded, as S3 writes it. */
export function s3Record(options: {
  key: string;
  bucket?: string;
  eventName?: string;
  eTag?: string | undefined;
  versionId?: string;
  sequencer?: string;
  size?: number;
}) {
  const object: Record<string, unknown> = { key: options.key, size: options.size ?? 100 };
  if (options.eTag !== undefined) object.eTag = options.eTag;
  else if (!('eTag' in options)) object.eTag = '0123456789abcdef0123456789abcdef';
  if (options.versionId !== undefined) object.versionId = options.versionId;
  object.sequencer = options.sequencer ?? '0055AED6DCD90281E5';
  const bucket = options.bucket ?? 'uploads';
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-12-02T11:00:00.000Z',
    eventName: options.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'dropgate-uploads',
      bucket: {
        name: bucket,
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: `arn:aws:s3:::${bucket}`,
      },
      object,
    },
  };
}

/** The JSON S3 writes when a notification configuration is saved. */
export function s3TestEvent(bucket = 'uploads') {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2026-12-02T11:00:00.000Z',
    Bucket: bucket,
    RequestId: '5582815E1AEA5ADF',
    HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
  };
}

/** An SNS Notification as SQS holds it without raw message delivery: the S3 JSON as the Message string. */
export function snsEnvelope(message: unknown, topicArn = 'arn:aws:sns:us-east-1:123456789012:uploads') {
  return {
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: topicArn,
    Subject: 'Amazon S3 Notification',
    Message: JSON.stringify(message),
    Timestamp: '2026-12-02T11:00:01.000Z',
    SignatureVersion: '1',
    Signature:
      'EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=',
    SigningCertURL:
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    UnsubscribeURL:
      'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:uploads:c9135db0',
  };
}

/** An EventBridge event S3 sends (`Object Created` unless told); the key as it is, not encoded. */
export function eventBridgeEvent(options: {
  key: string;
  bucket?: string;
  etag?: string;
  versionId?: string;
  sequencer?: string;
  detailType?: string;
}) {
  const bucket = options.bucket ?? 'uploads';
  const object: Record<string, unknown> = { key: options.key, size: 100 };
  if (options.etag !== undefined) object.etag = options.etag;
  if (options.versionId !== undefined) object['version-id'] = options.versionId;
  object.sequencer = options.sequencer ?? '617f08299329d189';
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': options.detailType ?? 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-12-02T11:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object,
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '203.0.113.7',
      reason: 'PutObject',
    },
  };
}
