/**
 * Order per partition key for a sink that runs several requests at once, kept as @google-cloud/pubsub
 * keeps it per ordering key. Events of one key go out in the order they are published: a `publish` call
 * waits, per key, for the calls before it that hold the key, and within a call a request waits for the
 * requests before it that share a key. Once a request fails, its keys are paused: a paused key's later
 * events fail at once (retryably) instead of going out ahead of the failed ones, and the key resumes when
 * a call carries its first failed event again, which is what the caller's retry (or a replay, with the
 * same ids) does. Web APIs only: it runs on Node and on Workers.
 */
import { PARTITION_KEY_ATTRIBUTE, type EventBatch, type PublishFailure } from '../ports.js';

interface Pause {
  by: OrderedCall;
  /** The first event of the key that failed, once the call that paused the key has ended. */
  id?: string;
}

/** The order of one destination's keys (a Pub/Sub topic's). */
export class KeyOrder {
  /** Per key, the last call that holds it; settles when that call ends. */
  readonly tails = new Map<string, Promise<void>>();
  readonly paused = new Map<string, Pause>();

  /**
   * Starts a call of `events`, in the order calls are made: the events of a paused key fail at once,
   * unless the events hold the key's first failed event (a retry), which resumes the key.
   */
  begin(events: EventBatch): OrderedCall {
    const keys: Array<string | undefined> = [];
    let keyed = false;
    for (let index = 0; index < events.length; index++) {
      const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
      keys.push(key);
      if (key === undefined) continue;
      keyed = true;
      const pause = this.paused.get(key);
      if (pause?.id !== undefined && pause.id === events.id(index)) this.paused.delete(key);
    }
    return new OrderedCall(this, keyed ? keys : [], events);
  }
}

export class OrderedCall {
  /** The indices of the events that may go, or null for all of them. */
  readonly admitted: number[] | null = null;
  /** The events of paused keys, failed at once. */
  readonly held: PublishFailure[] = [];
  /** Per key, what the call's next request with it waits for. */
  private readonly before = new Map<string, Promise<void>>();
  private readonly ended: () => void;
  private readonly settled: Promise<void>;

  constructor(
    private readonly order: KeyOrder,
    keys: ReadonlyArray<string | undefined>,
    private readonly events: EventBatch,
  ) {
    let ended!: () => void;
    this.settled = new Promise<void>((resolve) => (ended = resolve));
    this.ended = ended;
    const admitted: number[] = [];
    keys.forEach((key, index) => {
      if (key === undefined || !order.paused.has(key)) {
        admitted.push(index);
        if (key !== undefined && !this.before.has(key)) {
          this.before.set(key, order.tails.get(key) ?? Promise.resolve());
          order.tails.set(key, this.settled);
        }
      } else this.held.push({ index, message: pausedMessage(key), retryable: true });
    });
    if (this.held.length > 0) this.admitted = admitted;
  }

  /**
   * A request's turn, taken when the request starts (requests of a call start in the batch's order):
   * resolves once the earlier calls and requests sharing one of `keys` have settled. `paused` names a
   * key of the request paused by then: the request is not to be sent, and fails. `done` is for when the
   * request has settled, `failed` when any of its events is to be sent again.
   */
  async turn(
    keys: ReadonlySet<string>,
  ): Promise<{ paused: string | undefined; done: (failed: boolean) => void }> {
    const waits: Array<Promise<void>> = [];
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    for (const key of keys) {
      waits.push(this.before.get(key) ?? Promise.resolve());
      this.before.set(key, settled);
    }
    await Promise.all(waits);
    const { paused } = this.order;
    const found = [...keys].find((key) => paused.has(key));
    const done = (failed: boolean) => {
      if (failed) for (const key of keys) if (!paused.has(key)) paused.set(key, { by: this });
      settle();
    };
    return { paused: found, done };
  }

  /**
   * Ends the call with its failures (by index into its events, retryable ones to be sent again), or
   * without (the call threw): each key it paused waits for its first failed event; a key it paused with
   * none resumes, as nothing of it is left to send first.
   */
  end(failed: readonly PublishFailure[] | undefined): void {
    const { paused, tails } = this.order;
    for (const { index, retryable } of failed ?? []) {
      const key = retryable ? this.events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE] : undefined;
      const pause = key === undefined ? undefined : paused.get(key);
      if (pause?.by === this && pause.id === undefined) pause.id = this.events.id(index);
    }
    for (const [key, pause] of paused) if (pause.by === this && pause.id === undefined) paused.delete(key);
    for (const key of this.before.keys()) if (tails.get(key) === this.settled) tails.delete(key);
    this.ended();
  }
}

/**
 * Publishes `events` as one call in `order`: the events of paused keys fail at once, the others go
 * through `publish` (whose requests take their turns from `call`); failures by index into `events`.
 */
export async function publishInKeyOrder(
  order: KeyOrder,
  events: EventBatch,
  publish: (admitted: EventBatch, call: OrderedCall) => Promise<{ failed: PublishFailure[] }>,
): Promise<{ failed: PublishFailure[] }> {
  const call = order.begin(events);
  const { admitted, held } = call;
  let failed: PublishFailure[];
  try {
    const result = await publish(admitted ? events.pick(admitted) : events, call);
    failed = admitted
      ? [...result.failed.map((failure) => ({ ...failure, index: admitted[failure.index]! })), ...held]
      : result.failed;
  } catch (error) {
    call.end(undefined);
    throw error;
  }
  failed.sort((left, right) => left.index - right.index);
  call.end(failed);
  return { failed };
}

/** The partition keys of a request's events. */
export function keysOf(events: EventBatch): Set<string> {
  const keys = new Set<string>();
  for (let index = 0; index < events.length; index++) {
    const key = events.attributes(index)?.[PARTITION_KEY_ATTRIBUTE];
    if (key !== undefined) keys.add(key);
  }
  return keys;
}

export function pausedMessage(key: string): string {
  return `partition key "${key}" is paused: an earlier event with it failed and is not published again yet`;
}
