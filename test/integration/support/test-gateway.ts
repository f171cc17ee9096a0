/**
 * A real gateway for integration tests: embedded defaults (or a given config file) in a fresh temporary
 * directory, listening on an ephemeral port, with its log lines captured. Tests talk to it over HTTP.
 */
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createJsonLogger, type Logger } from '../../../app/logger.js';
import { loadConfig, type LoadedConfig } from '../../../app/node/load-config.js';
import { startGateway, type RunningGateway } from '../../../app/node/start-gateway.js';

export const VENDOR_KEY = 'acme-key-7f3a9c1e5b2d4f60';
export const OTHER_VENDOR_KEY = 'globex-key-2b8e6d4c0a9f1e37';
export const ADMIN_TOKEN = 'admin-token-5d1c9e7a3f0b8264';
export const SIGNING_SECRET = 'signing-secret-4a7f2c9e1b6d8035-e2c4a6f8b0d1357';

export interface TestGateway {
  url: string;
  /** The temporary directory the gateway was started in (its working directory). */
  directory: string;
  dataDir: string;
  config: LoadedConfig;
  running: RunningGateway;
  /** Every line the gateway logged, in order. */
  logs: string[];
  close(): Promise<void>;
}

export async function makeTemporaryDirectory(prefix = 'dropgate-it-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

export async function startTestGateway(
  options: {
    configFile?: Record<string, unknown>;
    env?: Record<string, string>;
    /** The logger writing each line through `write` (default: the dependency-free JSON logger). */
    logger?: (write: (line: string) => void) => Logger;
  } = {},
): Promise<TestGateway> {
  const directory = await makeTemporaryDirectory();
  if (options.configFile) {
    await writeFile(join(directory, 'dropgate.config.json'), JSON.stringify(options.configFile));
  }
  return startIn(directory, await loadTestConfig(directory, options.env), options.logger);
}

/** The config a gateway started in `directory` reads, with the test credentials in its environment. */
export function loadTestConfig(directory: string, env: Record<string, string> = {}): Promise<LoadedConfig> {
  return loadConfig({
    cwd: directory,
    env: {
      DROPGATE_VENDOR_KEYS: `acme=${VENDOR_KEY},globex=${OTHER_VENDOR_KEY}`,
      DROPGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      DROPGATE_SIGNING_SECRET: SIGNING_SECRET,
      // Tests listen on loopback only.
      HOST: '127.0.0.1',
      ...env,
    },
  });
}

/** Starts a gateway on an already loaded config, e.g. over a data directory a previous run left behind. */
export async function startIn(
  directory: string,
  config: LoadedConfig,
  logger: (write: (line: string) => void) => Logger = createJsonLogger,
): Promise<TestGateway> {
  const logs: string[] = [];
  const running = await startGateway(
    config,
    logger((line) => logs.push(line)),
    { port: 0 },
  );
  return {
    url: running.url,
    directory,
    dataDir: config.dataDir,
    config,
    running,
    logs,
    async close() {
      // Let background ingestion finish first: the gateway's close does not wait for it.
      await running.gateway.idle();
      await running.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** One HTTP call; `token` becomes a Bearer header, `json` the JSON body. Parses JSON answers. */
export async function call<T = Record<string, unknown>>(
  gateway: Pick<TestGateway, 'url'>,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(`${gateway.url}${path}`, { method, headers, body });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    headers: response.headers,
    body: (type.includes('application/json') ? JSON.parse(text) : text) as T,
  };
}

export interface UploadGrant {
  objectKey: string;
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  maxBytes: number;
  expiresAt: string;
}

export interface StoredUpload {
  objectKey: string;
  version: string;
  size: number;
  ingestion: string;
}

export async function requestUpload(
  gateway: Pick<TestGateway, 'url'>,
  request: Record<string, unknown>,
  token = VENDOR_KEY,
): Promise<UploadGrant> {
  const response = await call<UploadGrant>(gateway, 'POST', '/v1/uploads', { token, json: request });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

export async function putUpload(
  grant: Pick<UploadGrant, 'uploadUrl' | 'headers'>,
  body: string | Uint8Array,
  options: { url?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const response = await fetch(options.url ?? grant.uploadUrl, {
    method: 'PUT',
    headers: options.headers ?? grant.headers,
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

/** Requests an upload URL, PUTs the body to it, and returns what the gateway stored. */
export async function upload(
  gateway: Pick<TestGateway, 'url'>,
  filename: string,
  body: string | Uint8Array,
): Promise<StoredUpload> {
  const grant = await requestUpload(gateway, { dataset: 'orders', filename });
  const stored = await putUpload(grant, body);
  expect(stored.status, JSON.stringify(stored.body)).toBe(201);
  return stored.body as StoredUpload;
}

/** Asserts the one error shape every endpoint answers with, and returns the error. */
export function expectError(
  response: ApiResponse,
  status: number,
  code: string,
): { code: string; message: string; requestId: string } {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  const body = response.body as { error: { code: string; message: string; requestId: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.requestId).toBe(response.headers.get('x-request-id'));
  expect(body.error.requestId.length).toBeGreaterThan(0);
  return body.error;
}
