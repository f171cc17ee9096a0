/** The opaque version token of an S3 object: its version id in a versioned bucket, else its ETag. */

const VERSION_ID = 'version-id:';
const ETAG = 'etag:';

/** How a token pins a read: `VersionId` or `If-Match`. */
export type S3VersionPin = { versionId: string } | { etag: string };

/**
 * The token for an object as S3 describes it (HeadObject, or a bucket notification's `versionId` and
 * `eTag`). A version id of `null` (an object written while versioning was off or suspended) is no pin:
 * the next such write replaces it under the same id, so the ETag names the bytes instead. ETags are kept
 * without their quotes, as notifications give them. Intakes that turn notifications into landings build
 * their `version` with this, so a notified version and `stat` agree.
 */
export function s3ObjectVersion(object: { versionId?: string | null; etag?: string | null }): string {
  if (object.versionId && object.versionId !== 'null') return `${VERSION_ID}${object.versionId}`;
  const etag = object.etag?.replace(/^(W\/)?"|"$/g, '');
  if (!etag) throw new Error('an S3 object without a version id needs an ETag to name its version');
  return `${ETAG}${etag}`;
}

/** What a token pins, or undefined for a token this store never issued. */
export function parseS3ObjectVersion(version: string): S3VersionPin | undefined {
  if (version.startsWith(VERSION_ID) && version.length > VERSION_ID.length)
    return { versionId: version.slice(VERSION_ID.length) };
  if (version.startsWith(ETAG) && version.length > ETAG.length) return { etag: version.slice(ETAG.length) };
  return undefined;
}
