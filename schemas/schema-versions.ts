/**
 * How schema versions are named: files `v<N>.json` (N a positive integer, no leading zero), and the
 * version a vendor names for a file by an object-key folder `v<N>`.
 */

const VERSION = /^v([1-9][0-9]{0,8})$/;
const VERSION_FILE = /^v([1-9][0-9]{0,8})\.json$/;

/** N of a file name `v<N>.json` (the last path segment), or undefined. */
export function versionOfSchemaFile(path: string): number | undefined {
  const match = VERSION_FILE.exec(path.slice(path.lastIndexOf('/') + 1));
  return match ? Number(match[1]) : undefined;
}

/** Whether a name reads as a version folder (`v2`): vendor and dataset names may not. */
export function isVersionSegment(segment: string): boolean {
  return VERSION.test(segment);
}

/**
 * The version an object key names: its last folder (not the file name) that is exactly `v<N>`, e.g. 2
 * for `vendors/acme/orders/v2/2026-11-24/batch.csv`; undefined when no folder is. `V2`, `v02`, `v2a`
 * and a file named `v2.csv` name nothing.
 */
export function versionNamedByKey(key: string): number | undefined {
  const segments = key.split('/');
  for (let index = segments.length - 2; index >= 0; index--) {
    const match = VERSION.exec(segments[index]!);
    if (match) return Number(match[1]);
  }
  return undefined;
}
