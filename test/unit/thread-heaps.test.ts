/**
 * Dropgate runs with `--max-semi-space-size=4` for the main thread, and V8 applies that flag to every
 * isolate it creates: worker threads would get 4 MB semi-spaces (8 MB of new space) whatever their
 * `resourceLimits` say. A pool unsets it before starting threads, so each thread gets its own young
 * generation. Each case runs in a Node process of its own, started with the flag as bin/dropgate.js is.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../app/node/load-config.js';

const threads = pathToFileURL(join(packageRoot, 'dist/app/node/ingest-threads.js')).href;

/**
 * The largest new space a thread asking for a 48 MB young generation reaches while most of what it
 * allocates survives a scavenge (which is when V8 grows the new space), in MB.
 */
async function threadNewSpaceMb(before: string): Promise<number> {
  const probe = `(async () => {
    const v8 = await import('node:v8');
    const { parentPort } = await import('node:worker_threads');
    let kept = [];
    let largest = 0;
    for (let index = 0; index < 3e6; index++) {
      kept.push({ index, list: [index] });
      if (kept.length > 200000) kept = [];
      if (index % 10000 === 0) {
        const space = v8.getHeapSpaceStatistics().find((each) => each.space_name === 'new_space');
        largest = Math.max(largest, space.space_size);
      }
    }
    parentPort.postMessage(largest / 2 ** 20);
  })();`;
  const script = `
    import { Worker } from 'node:worker_threads';
    ${before}
    const worker = new Worker(${JSON.stringify(probe)}, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: 48 },
    });
    worker.once('message', (mb) => { console.log(mb); worker.terminate(); });`;
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--max-semi-space-size=4',
    '--input-type=module',
    '--eval',
    script,
  ]);
  return Number(stdout.trim());
}

describe('worker thread heaps under --max-semi-space-size', () => {
  it('a thread started without a pool is held to the main thread’s 4 MB semi-spaces', async () => {
    expect(await threadNewSpaceMb('')).toBeLessThanOrEqual(8);
  });

  it('once a pool has started, a thread gets the young generation its resourceLimits ask for', async () => {
    const mb = await threadNewSpaceMb(`
      const { createCsvThreadPool } = await import(${JSON.stringify(threads)});
      await createCsvThreadPool(1).close();`);
    expect(mb).toBeGreaterThan(8);
  });
});
