/** Rules for object keys Dropgate writes or maps to files: no traversal, no control characters. */
import { DropgateError } from '../errors.js';

// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws BAD_REQUEST unless `key` is a relative, normalized path of at most 1024 bytes. */
export function assertSafeKey(key: string): string {
  const problem = problemOf(key);
  if (problem) throw new DropgateError('BAD_REQUEST', `object key ${JSON.stringify(key)} ${problem}`);
  return key;
}

/** Whether `key` passes `assertSafeKey`: for names found on disk, which are skipped rather than refused. */
export function isSafeKey(key: string): boolean {
  return problemOf(key) === undefined;
}

function problemOf(key: string): string | undefined {
  const segments = key.split('/');
  return key.length === 0
    ? 'is empty'
    : new TextEncoder().encode(key).byteLength > 1024
      ? 'is longer than 1024 bytes'
      : CONTROL.test(key)
        ? 'contains control characters'
        : key.startsWith('/')
          ? 'starts with /'
          : segments.some((segment) => segment === '' || segment === '.' || segment === '..')
            ? 'has an empty, "." or ".." segment'
            : undefined;
}
