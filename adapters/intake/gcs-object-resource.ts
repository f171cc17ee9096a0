/** The GCS object resource (JSON API v1) that GCS notifications and Eventarc storage events carry. */
import { DropgateError } from '../errors.js';

/** The fields of an object resource an intake needs; GCS sends many more, which are left alone. */
export interface GcsObjectResource {
  bucket: string;
  name: string;
  /** The object's generation, the version the store reads: decimal int64 on GCS, sent as a string. */
  generation: string;
  updated?: string;
  timeCreated?: string;
}

const GENERATION = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Whether `value` can be a generation: GCS's are decimal int64, but a notification may name an object of
 * a stand-in bucket (the local store, with the Pub/Sub emulator) whose version tokens are not numbers, so
 * any short token of plain characters is taken; a wrong one only ever finds no such version.
 */
export function isGeneration(value: string): boolean {
  return GENERATION.test(value);
}

/** Parses an object resource from JSON text; BAD_REQUEST naming what is missing or wrong. */
export function parseObjectResource(text: string, where: string): GcsObjectResource {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DropgateError('BAD_REQUEST', `${where} is not JSON: expected a GCS object resource`);
  }
  return objectResource(value, where);
}

/** Checks a parsed object resource; BAD_REQUEST naming what is missing or wrong. */
export function objectResource(value: unknown, where: string): GcsObjectResource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DropgateError('BAD_REQUEST', `${where} is not a JSON object: expected a GCS object resource`);
  }
  const resource = value as Record<string, unknown>;
  const text = (field: string) => {
    const found = resource[field];
    // GCS writes `generation` as a string; a number is taken as long as it is exact.
    if (typeof found === 'number' && field === 'generation' && Number.isSafeInteger(found))
      return String(found);
    if (typeof found !== 'string' || found === '') {
      throw new DropgateError('BAD_REQUEST', `${where} has no "${field}" string: not a GCS object resource`);
    }
    return found;
  };
  const generation = text('generation');
  if (!isGeneration(generation)) {
    throw new DropgateError(
      'BAD_REQUEST',
      `${where}: generation ${JSON.stringify(generation)} is not a generation`,
    );
  }
  const optional = (field: string) =>
    typeof resource[field] === 'string' ? (resource[field] as string) : undefined;
  const updated = optional('updated');
  const timeCreated = optional('timeCreated');
  return {
    bucket: text('bucket'),
    name: text('name'),
    generation,
    ...(updated ? { updated } : {}),
    ...(timeCreated ? { timeCreated } : {}),
  };
}
