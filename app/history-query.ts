/**
 * The load history's filters, as `GET /admin/files` and `dropgate files` take them: each checked, and a
 * bad one refused with BAD_REQUEST naming it, before the ledger is asked.
 */
import { z } from 'zod';
import { DropgateError } from '../adapters/errors.js';
import type { FileState } from '../adapters/ports.js';
import { MAX_HISTORY_LIMIT } from '../adapters/ledger/ledger-history.js';
import { issueMessage } from './issue-messages.js';

export { MAX_HISTORY_LIMIT };

export const FILE_STATES = [
  'pending',
  'processing',
  'ingested',
  'rejected',
  'failed',
] as const satisfies readonly FileState[];

const instant = z.iso.datetime({
  offset: true,
  error: 'must be an RFC 3339 time, e.g. 2024-05-01T00:00:00Z',
});

const filters = z
  .object({
    prefix: z.string().max(1_024).optional(),
    dataset: z.string().min(1).max(200).optional(),
    state: z.enum(FILE_STATES, { error: `must be one of ${FILE_STATES.join(', ')}` }).optional(),
    since: instant.optional(),
    until: instant.optional(),
    cursor: z.string().min(1).max(4_096).optional(),
    limit: z
      .string()
      .regex(/^\d{1,7}$/, `must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`)
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_HISTORY_LIMIT))
      .optional(),
  })
  .strict()
  // `until` is exclusive: equal bounds would select nothing, which is a mistake rather than a question.
  .refine((query) => !query.since || !query.until || Date.parse(query.since) < Date.parse(query.until), {
    path: ['until'],
    message: 'must be after since',
  });

export type HistoryFilters = z.infer<typeof filters>;

/**
 * The filters among `parameters` (query parameters or command-line options, by the same names; empty
 * ones count as absent, as an HTML form sends them). Throws BAD_REQUEST naming each bad one as `nameOf`
 * spells it (`--state` on the command line).
 */
export function parseHistoryFilters(
  parameters: Record<string, string | undefined>,
  nameOf: (parameter: string) => string = (parameter) => parameter,
): HistoryFilters {
  const given = Object.fromEntries(
    Object.entries(parameters).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = filters.safeParse(given);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown parameter ${issue.keys.join(', ')} (known: ${Object.keys(filters.shape).join(', ')})`
      : `${nameOf(issue.path.join('.'))}: ${issueMessage(issue)}`,
  );
  throw new DropgateError('BAD_REQUEST', `invalid query: ${problems.join('; ')}`);
}
