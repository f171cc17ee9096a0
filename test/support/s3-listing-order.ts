/**
 * fauxqs 1.9 lists keys in `localeCompare` order, where S3 lists them by their UTF-8 bytes (so `b/Ａ.csv`,
 * U+FF21, comes before `b/😀.csv`, U+1F600; fauxqs puts the emoji first). This puts its listings in S3's
 * documented order, so the ObjectStore contract holds the `s3` store to S3's behaviour rather than to the
 * stand-in's; everything else about fauxqs stays as it is. Listings with a delimiter are left alone.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ListedObject {
  key: string;
}
interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  startAfter?: string;
  marker?: string;
}
interface Listing {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
type ListObjects = (this: unknown, bucket: string, options?: ListOptions) => Listing;

const compareUtf8 = (left: string, right: string) =>
  Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));

let patched = false;

export async function listFauxqsInS3Order(): Promise<void> {
  if (patched) return;
  // The module fauxqs's own app imports (node_modules may be a symbolic link: Node loads the real path).
  const path = realpathSync(join(import.meta.dirname, '../../node_modules/fauxqs/dist/s3/s3Store.js'));
  const { S3Store } = (await import(pathToFileURL(path).href)) as {
    S3Store: { prototype: { listObjects: ListObjects } };
  };
  const original = S3Store.prototype.listObjects;
  S3Store.prototype.listObjects = function (bucket, options = {}) {
    if (options.delimiter) return original.call(this, bucket, options);
    const after = options.startAfter || options.marker || '';
    const everything = original.call(this, bucket, { prefix: options.prefix ?? '', maxKeys: Infinity });
    const keys = everything.objects
      .filter((object) => after === '' || compareUtf8(object.key, after) > 0)
      .sort((left, right) => compareUtf8(left.key, right.key));
    const maxKeys = options.maxKeys ?? 1000;
    return { objects: keys.slice(0, maxKeys), commonPrefixes: [], isTruncated: keys.length > maxKeys };
  };
  patched = true;
}
