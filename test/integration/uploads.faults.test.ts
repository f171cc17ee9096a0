/**
 * Uploads over connections that misbehave, on the wire: a body is stored only when exactly the declared
 * bytes arrived, a client that breaks off is answered (and logged) as the client's fault, a client that
 * half-closes after its whole body keeps its upload, and a killed upload's temporary file does not
 * outlive a restart.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTopic } from './support/events.js';
import { ordersFile } from './support/orders-csv.js';
import {
  ADMIN_TOKEN,
  call,
  loadTestConfig,
  makeTemporaryDirectory,
  requestUpload,
  startIn,
  startTestGateway,
  type TestGateway,
} from './support/test-gateway.js';

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

type Misbehaviour = 'half-close after the body' | 'garbage after the body' | 'cut mid-body';

/** Sends a PUT with `Content-Length` over a raw socket, misbehaving as told; resolves with what came back. */
async function rawPut(url: string, body: Buffer, misbehaviour: Misbehaviour): Promise<string> {
  const target = new URL(url);
  const head =
    `PUT ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    `content-type: text/csv\r\ncontent-length: ${body.length}\r\n\r\n`;
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ port: Number(target.port), host: '127.0.0.1', allowHalfOpen: true }, () => {
      socket.write(head);
      if (misbehaviour === 'cut mid-body') {
        socket.write(body.subarray(0, body.length >> 1));
        setTimeout(() => socket.destroy(), 100);
        return;
      }
      socket.write(body);
      if (misbehaviour === 'garbage after the body') {
        socket.write('garbage that is no request\r\n\r\n');
        // Node answers the garbage 400 and leaves the socket open: the test has seen enough by then.
        setTimeout(() => socket.destroy(), 500);
      } else socket.end();
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
    setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, 5_000);
  });
}

describe('uploads over misbehaving connections', () => {
  it('keeps the upload of a client that half-closes after sending the whole body, and answers it', async () => {
    gateway = await startTestGateway();
    const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'half.csv' });
    const answer = await rawPut(grant.uploadUrl, Buffer.from(ordersFile(3).csv), 'half-close after the body');
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
    await gateway.running.gateway.idle();
    const status = await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: ADMIN_TOKEN });
    expect(status.body).toMatchObject({ state: 'ingested', outcome: { rowsPublished: 3 } });
  });

  it.each(['garbage after the body', 'cut mid-body'] as const)(
    'stores nothing when the connection breaks (%s), and logs it as the client’s fault',
    async (misbehaviour) => {
      gateway = await startTestGateway();
      const grant = await requestUpload(gateway, { dataset: 'orders', filename: 'broken.csv' });
      await rawPut(grant.uploadUrl, Buffer.from(ordersFile(3).csv), misbehaviour);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await gateway.running.gateway.idle();

      expect(existsSync(join(gateway.dataDir, 'bucket', ...grant.objectKey.split('/')))).toBe(false);
      expect(await readdir(join(gateway.dataDir, 'tmp'))).toEqual([]);
      const status = await call(gateway, 'GET', `/admin/files/${grant.objectKey}`, { token: ADMIN_TOKEN });
      expect(status.status).toBe(404);
      expect(await readTopic(gateway.dataDir, 'orders')).toEqual([]);
      const logs = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      const put = logs.find((line) => line.message === 'request' && line.method === 'PUT');
      expect(put).toMatchObject({ status: 400 });
      expect(logs.filter((line) => line.severity === 'ERROR')).toEqual([]);
    },
  );

  it('removes temporary upload files a killed gateway left behind when it starts', async () => {
    const directory = await makeTemporaryDirectory();
    const config = await loadTestConfig(directory);
    const leftover = join(config.dataDir, 'tmp', '5b0d3c9e-killed-mid-upload.upload');
    await mkdir(join(config.dataDir, 'tmp'), { recursive: true });
    await writeFile(leftover, 'half an upload');
    gateway = await startIn(directory, config);
    expect(existsSync(leftover)).toBe(false);
  });
});
