/** Small pieces the bench's driver (run-bench.ts) and its measuring processes (measure.ts) share. */
import { readFileSync } from 'node:fs';

/** A process's CPU time so far (user and system, every thread), from /proc (Linux), in seconds. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime, fields 14 and 15 of proc(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sends every request in order, `inFlight` at once, as the sinks keep their requests in flight. */
export async function sendAll<T>(
  requests: readonly T[],
  inFlight: number,
  send: (request: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < requests.length) await send(requests[next++]!);
    }),
  );
}
