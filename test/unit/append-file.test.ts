/**
 * openAppendFile: whatever the sizes of the appends (inside one block, across blocks, larger than the
 * staging buffer), the file holds exactly the bytes appended, in order, with or without O_DIRECT, and a
 * file opened again goes on from its last, partial block.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAppendFile } from '../../adapters/event-sink/local/append-file.js';
import { packageRoot } from '../../app/node/load-config.js';
import { createTemporaryDirectory, type TemporaryDirectory } from '../contract/temporary-directory.js';

let directory: TemporaryDirectory;
beforeEach(async () => {
  directory = await createTemporaryDirectory('append-file');
});
afterEach(() => directory.remove());

/** `length` bytes that differ from block to block, so a block written at the wrong offset shows. */
function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 31 + seed * 7 + (index >> 12)) % 251;
  return bytes;
}

/** A new, empty file of `name`, opened for appending. */
async function emptyFile(name: string, direct: boolean | undefined) {
  const path = join(directory.path, name);
  await writeFile(path, '');
  return { path, file: await openAppendFile(path, { direct }) };
}

async function expectFileHolds(path: string, expected: Uint8Array): Promise<void> {
  const actual = await readFile(path);
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

// 1 byte, a block less one, blocks exactly, across the 1 MiB staging buffer, and several buffers.
const SIZES = [1, 4095, 4096, 3, 8192, 5000, (1 << 20) - 7, 1 << 20, 3 * (1 << 20) + 11, 17];

describe.each([
  { name: 'O_DIRECT where the platform has it', direct: undefined },
  { name: 'ordinary writes', direct: false },
])('openAppendFile, $name', ({ direct }) => {
  it('holds exactly what was appended, across reopening', async () => {
    const path = join(directory.path, 'log.ndjson');
    const prefix = bytesOf(1234, 99);
    await writeFile(path, prefix);
    const parts = SIZES.map((size, index) => bytesOf(size, index));

    let file = await openAppendFile(path, { direct });
    expect(file.direct).toBe(direct === undefined && process.platform === 'linux');
    expect(file.size).toBe(prefix.length);
    for (const part of parts.slice(0, 5)) await file.append(part);
    await file.sync();
    await file.close();

    file = await openAppendFile(path, { direct });
    for (const part of parts.slice(5)) await file.append(part);
    await file.sync();
    const expected = Buffer.concat([prefix, ...parts]);
    expect(file.size).toBe(expected.length);
    await file.close();
    await expectFileHolds(path, expected);
  });

  it('an empty append changes nothing, and an empty file takes appends', async () => {
    const { path, file } = await emptyFile('empty.ndjson', direct);
    await file.append(new Uint8Array(0));
    const part = bytesOf(10_000, 1);
    await file.append(part);
    await file.close();
    await expectFileHolds(path, part);
  });

  it('runs appends called together one at a time, in the order they were called', async () => {
    const { path, file } = await emptyFile('together.ndjson', direct);
    const parts = [bytesOf(70_000, 1), bytesOf(5, 2), bytesOf(9000, 3), bytesOf(4091, 4)];
    await Promise.all(parts.map((part) => file.append(part).then(() => file.sync())));
    await file.close();
    await expectFileHolds(path, Buffer.concat(parts));
  });

  it.runIf(process.platform === 'linux')(
    'cuts the file back to the appends before one that fails part way (the disk fills up)',
    async () => {
      // A Node process whose files may not grow past 64 KiB (`ulimit -f`): the write that crosses it
      // is cut short by the kernel, then fails with EFBIG. Node ignores the SIGXFSZ that comes with it.
      const path = join(directory.path, 'full.ndjson');
      const module = pathToFileURL(join(packageRoot, 'dist/adapters/event-sink/local/append-file.js')).href;
      const script = `
        import { writeFile, readFile } from 'node:fs/promises';
        import { openAppendFile } from ${JSON.stringify(module)};
        await writeFile(${JSON.stringify(path)}, '');
        const file = await openAppendFile(${JSON.stringify(path)}, { direct: ${String(direct)} });
        let appended = 0;
        let failure = null;
        for (let part = 0; part < 10 && failure === null; part++) {
          try {
            await file.append(new Uint8Array(9000).fill(97 + part));
            appended++;
          } catch (error) {
            failure = error.code;
          }
        }
        const size = file.size;
        await file.close();
        const bytes = await readFile(${JSON.stringify(path)});
        console.log(JSON.stringify({ appended, failure, size, onDisk: bytes.length, last: bytes.at(-1) }));`;
      const { stdout } = await promisify(execFile)('bash', [
        '-c',
        `ulimit -f 64 && exec "${process.execPath}" --input-type=module --eval "$0"`,
        script,
      ]);
      const outcome = JSON.parse(stdout) as Record<string, unknown>;
      // 7 appends of 9,000 bytes fit 64 KiB; the 8th crosses it.
      expect(outcome).toEqual({
        appended: 7,
        failure: 'EFBIG',
        size: 63_000,
        onDisk: 63_000,
        last: 97 + 6,
      });
    },
  );
});
