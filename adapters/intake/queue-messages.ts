/**
 * How every queue intake settles one message (SQS here, Cloudflare Queues' `ack()` / `retry()` too): parse
 * it, hand its landings to the gateway inline, and acknowledge it only when every outcome is `ack`.
 * Web APIs only.
 */
import { describeError, isDropgateError, isRetryable } from '../errors.js';
import type { IntakeResult, Landing, LandingOutcome, MessageSettlement, QueueIntake } from '../ports.js';

export interface SettleOptions {
  /** The gateway's `accept`, inline. */
  accept: (result: IntakeResult) => Promise<LandingOutcome[]>;
  /** Landings known superseded (an older S3 sequencer than one handled here) are not handed on. */
  isStale?: (landing: Landing) => boolean;
  /** Told of each landing whose outcome is acknowledged. */
  handled?: (landing: Landing) => void;
}

/** Seconds before a message that no intake can read is delivered again, on its way to the dead letters. */
const UNREADABLE_RETRY_SECONDS = 300;

/**
 * What to do with one message. A body the intake cannot read is not acknowledged: the queue's redrive
 * policy moves it to the dead-letter queue after its receives, where an operator can see it.
 */
export async function settleQueueMessage(
  intake: QueueIntake,
  body: unknown,
  options: SettleOptions,
): Promise<MessageSettlement> {
  let result: IntakeResult;
  try {
    result = intake.parse(body);
  } catch (error) {
    const reason = `unreadable message: ${describeError(error)}`;
    if (isDropgateError(error, 'BAD_REQUEST'))
      return { settle: 'retry', retryAfterSeconds: UNREADABLE_RETRY_SECONDS, reason };
    throw error;
  }
  if ('landings' in result && options.isStale) {
    const isStale = options.isStale;
    result = { ...result, landings: result.landings.filter((landing) => !isStale(landing)) };
  }
  let outcomes: LandingOutcome[];
  try {
    outcomes = await options.accept(result);
  } catch (error) {
    // The ledger did not record the landings: nothing is acknowledged.
    return {
      settle: 'retry',
      retryAfterSeconds: isRetryable(error) ? 10 : 60,
      reason: describeError(error),
    };
  }
  for (const outcome of outcomes) if (outcome.ack) options.handled?.(outcome.landing);
  return settlementOf(outcomes);
}

/** `ack` exactly when every outcome is; otherwise a retry after the longest wait any outcome asks for. */
export function settlementOf(outcomes: LandingOutcome[]): MessageSettlement {
  const waiting = outcomes.filter((outcome) => !outcome.ack);
  if (waiting.length === 0) return { settle: 'ack' };
  return {
    settle: 'retry',
    retryAfterSeconds: Math.max(...waiting.map((outcome) => outcome.retryAfterSeconds ?? 10)),
    reason: waiting
      .map(
        (outcome) =>
          `${outcome.landing.key}: ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}`,
      )
      .join('; '),
  };
}
