/** publishInRequests, the splitting every message sink shares, on what the memory sink does not reach. */
import { describe, expect, it } from 'vitest';
import { publishInRequests } from '../../adapters/event-sink/publish-in-requests.js';
import type { EventBatch } from '../../adapters/ports.js';
import { EncodedEvents } from '../../workers/event-batch.js';

const batch = (...sizes: number[]) =>
  EncodedEvents.of(sizes.map((size, index) => ({ id: `e${index}`, body: 'x'.repeat(size) })));

/** A send that accepts everything and records each request's ids. */
function recording() {
  const requests: string[][] = [];
  const send = async (request: EventBatch) => {
    requests.push(Array.from({ length: request.length }, (_, index) => request.id(index)));
    return { failed: [] };
  };
  return { requests, send };
}

describe('publishInRequests', () => {
  it('never sends an event larger than a whole request, refusing it for good', async () => {
    const { requests, send } = recording();
    const limits = { maxEvents: 10, maxBytes: 100, maxMessageBytes: 1_000, maxInFlight: 2 };
    const { failed } = await publishInRequests(batch(50, 101, 50, 50), limits, send);
    expect(failed).toEqual([{ index: 1, message: expect.stringContaining('101 bytes'), retryable: false }]);
    expect(requests).toEqual([['e0'], ['e2', 'e3']]);
  });

  it('counts bytes the way the sink says an event costs', async () => {
    const { requests, send } = recording();
    // Say each event carries 40 bytes of attributes besides its body, as a destination may count them.
    const eventBytes = (events: EventBatch, index: number) => events.body(index).byteLength + 40;
    const limits = { maxEvents: 10, maxBytes: 100, maxMessageBytes: 100, maxInFlight: 1, eventBytes };
    const { failed } = await publishInRequests(batch(10, 10, 10, 61), limits, send);
    expect(failed.map(({ index }) => index)).toEqual([3]);
    expect(requests).toEqual([['e0', 'e1'], ['e2']]);
  });

  it('sends nothing for an empty batch', async () => {
    const { requests, send } = recording();
    const limits = { maxEvents: 10, maxBytes: 100, maxMessageBytes: 100, maxInFlight: 4 };
    expect(await publishInRequests(batch(), limits, send)).toEqual({ failed: [] });
    expect(requests).toEqual([]);
  });
});
