/**
 * Intake `r2-queue`: R2 event notifications delivered to a Worker's queue consumer. A message is
 * acknowledged only once what it asked for is done (the file's events durable, the file rejected, or a
 * duplicate); otherwise it is retried with a growing delay, so an unfinished file is never acknowledged.
 * Each invocation has a time budget: when it is spent the file stops at its next block with a checkpoint
 * and the message is retried at once, so a file too large for one invocation continues in the next
 * delivery instead of being cut off by the platform's limit (which would leave its lease held).
 */
import { DropgateError, describeError } from '../../errors.js';
import type { IntakeMode, IntakeResult, LandingOutcome } from '../../ports.js';

export const R2_QUEUE_INTAKE = 'r2-queue';

const CREATED = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);
const DELETED = new Set(['DeleteObject', 'LifecycleDeletion']);

/**
 * One R2 event notification (the message body R2 sends, as JSON or as its text) as landings: a created
 * object is a `finalized` landing pinned to its ETag, a deleted one a `deleted` landing. Pure: throws
 * BAD_REQUEST naming the field for a body that is not an R2 notification.
 */
export function parseR2Notification(body: unknown): IntakeResult {
  let message = body;
  if (typeof body === 'string') {
    try {
      message = JSON.parse(body);
    } catch {
      throw bad('the message body is not JSON');
    }
  } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    throw bad('the message body is bytes, not an R2 notification (JSON)');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    throw bad('the message body is not a JSON object');
  const { action, bucket, object, eventTime } = message as Record<string, unknown>;
  if (typeof action !== 'string' || action === '') throw bad('action is missing (must be a string)');
  if (typeof bucket !== 'string' || bucket === '') throw bad('bucket is missing (must be a string)');
  if (typeof object !== 'object' || object === null) throw bad('object is missing (must be an object)');
  const { key, eTag } = object as Record<string, unknown>;
  if (typeof key !== 'string' || key === '') throw bad('object.key is missing (must be a string)');
  const time = typeof eventTime === 'string' ? { eventTime } : {};
  if (DELETED.has(action))
    return { landings: [{ bucket, key, kind: 'deleted', via: R2_QUEUE_INTAKE, ...time }] };
  if (!CREATED.has(action)) return { ignored: `R2 action ${action} is not one Dropgate ingests` };
  if (typeof eTag !== 'string' || eTag === '')
    throw bad(`object.eTag is missing (must be a string) on a ${action} notification`);
  return { landings: [{ bucket, key, version: eTag, kind: 'finalized', via: R2_QUEUE_INTAKE, ...time }] };
}

function bad(reason: string): DropgateError {
  return new DropgateError('BAD_REQUEST', `not an R2 event notification: ${reason}`);
}

/** A message of a Workers queue batch, as much of it as the intake uses. */
export interface QueueMessageLike {
  readonly id: string;
  readonly body: unknown;
  /** Deliveries of this message so far, this one included (1 on the first). */
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface R2QueueIntakeOptions {
  /**
   * The gateway's `accept`: records each landing and, `inline`, ingests it before resolving; once
   * `budget` aborts, the ingestion stops at a checkpoint.
   */
  accept(result: IntakeResult, mode: IntakeMode, options: { budget: AbortSignal }): Promise<LandingOutcome[]>;
  /** Where a message that is not acknowledged says why. */
  onRetry?(message: { id: string; attempts: number; delaySeconds: number; reason: string }): void;
  /** Delay of the first retry (default 10 s), doubling with each delivery up to `maxDelaySeconds`. */
  baseDelaySeconds?: number;
  /** Default 15 minutes; Queues accepts up to 12 hours. */
  maxDelaySeconds?: number;
  /**
   * Wall-clock seconds one invocation (one batch) may ingest before it stops at a checkpoint and hands
   * the rest to the next delivery. Default 25: below the 30 s of CPU a consumer gets by default, since CPU
   * time never exceeds wall time.
   */
  budgetSeconds?: number;
}

/** Most delay Cloudflare Queues accepts for a retry. */
const QUEUES_MAX_DELAY_SECONDS = 43_200;

export interface R2QueueIntake {
  readonly type: typeof R2_QUEUE_INTAKE;
  /** Handles a consumer batch message by message; settles once each is acknowledged or retried. */
  handle(messages: readonly QueueMessageLike[]): Promise<void>;
}

export function createR2QueueIntake(options: R2QueueIntakeOptions): R2QueueIntake {
  const base = options.baseDelaySeconds ?? 10;
  const most = Math.min(options.maxDelaySeconds ?? 900, QUEUES_MAX_DELAY_SECONDS);
  const delayFor = (attempts: number, asked = 0) =>
    Math.min(most, Math.max(asked, base * 2 ** Math.max(0, attempts - 1)));

  const budgetMs = (options.budgetSeconds ?? 25) * 1000;

  async function handleOne(message: QueueMessageLike, budget: AbortSignal) {
    const retry = (reason: string, asked?: number) => {
      const delaySeconds = delayFor(message.attempts, asked);
      options.onRetry?.({ id: message.id, attempts: message.attempts, delaySeconds, reason });
      message.retry({ delaySeconds });
    };
    // Stopped by the budget at a checkpoint: no fault to wait out, the next delivery goes on at once.
    const goOn = (reason: string) => {
      options.onRetry?.({ id: message.id, attempts: message.attempts, delaySeconds: 0, reason });
      message.retry({ delaySeconds: 0 });
    };
    let result: IntakeResult;
    try {
      result = parseR2Notification(message.body);
    } catch (error) {
      // It can never succeed: retried until max_retries sends it to the dead-letter queue, kept for a look.
      return retry(describeError(error), most);
    }
    if (budget.aborted) return goOn('the invocation spent its time budget before this message');
    let outcomes: LandingOutcome[];
    try {
      // Inline always: a Worker has no process that outlives the message to ingest in the background.
      outcomes = await options.accept(result, 'inline', { budget });
    } catch (error) {
      return budget.aborted ? goOn(describeError(error)) : retry(describeError(error));
    }
    const waiting = outcomes.filter((outcome) => !outcome.ack);
    if (waiting.length === 0) return message.ack();
    const reason = waiting
      .map((outcome) => `${outcome.landing.key}: ${outcome.status}: ${outcome.reason ?? ''}`)
      .join('; ');
    if (budget.aborted) return goOn(reason);
    retry(reason, Math.max(...waiting.map((outcome) => outcome.retryAfterSeconds ?? 0)));
  }

  return {
    type: R2_QUEUE_INTAKE,
    async handle(messages) {
      const budget = new AbortController();
      const timer = setTimeout(
        () =>
          budget.abort(
            new DropgateError(
              'TIME_BUDGET_SPENT',
              `this invocation spent its ${budgetMs / 1000} s budget; the file resumes from its checkpoint in the next delivery`,
            ),
          ),
        budgetMs,
      );
      try {
        // One file at a time: an isolate has 128 MB, and files share nothing worth overlapping.
        for (const message of messages) await handleOne(message, budget.signal);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
