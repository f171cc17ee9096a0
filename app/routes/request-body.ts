/** Reads and validates a JSON request body, answering BAD_REQUEST with the fields at fault. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { DropgateError } from '../../adapters/errors.js';
import { describeIssue } from '../issue-messages.js';

export async function jsonBody<T>(context: Context, schema: z.ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    body = await context.req.json();
  } catch {
    throw new DropgateError('BAD_REQUEST', 'request body must be JSON');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(issue, 'body'));
  throw new DropgateError('BAD_REQUEST', `invalid request body: ${problems.join('; ')}`);
}

/** The object key after `prefix` in a request path, percent-decoded segment by segment. */
export function keyAfter(context: Context, prefix: string): string {
  const path = new URL(context.req.url).pathname;
  try {
    return path.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new DropgateError('BAD_REQUEST', 'object key is not valid percent-encoding');
  }
}
