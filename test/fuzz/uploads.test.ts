/**
 * Upload requests fuzzed through the Hono app (`app.request`, memory adapters, the local-upload intake):
 * `POST /v1/uploads` with edited, random and damaged bodies and headers, and `PUT /v1/local-uploads/...`
 * with damaged keys, query strings, content types and bodies. Every answer must be a 2xx or a 4xx with
 * the one JSON error shape `{ error: { code, message, requestId } }`, never a 500.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../adapters/errors.js';
import { createMemoryEventSink } from '../../adapters/event-sink/memory/memory-event-sink.js';
import { createLocalUploadIntake } from '../../adapters/intake/local-upload/local-upload-intake.js';
import { createMemoryLedger } from '../../adapters/ledger/memory/memory-ledger.js';
import { createMemoryObjectStore } from '../../adapters/object-store/memory/memory-object-store.js';
import { createAuthenticator } from '../../app/auth.js';
import { createApp } from '../../app/create-app.js';
import { createGateway } from '../../app/gateway.js';
import { silentLogger } from '../../app/logger.js';
import { testDataset } from '../support/datasets.js';
import { mutate, mutationArbitrary } from './support/csv-arbitraries.js';
import { applyEdit, jsonEditArbitrary } from './support/json-mutations.js';
import { runFuzz } from './support/run-fuzz.js';

const VENDOR_KEY = 'acme-key-7f3a9c1e5b2d4f60';
const BASE = 'http://gateway.test';
const TIMEOUT_MS = 240_000;

function fuzzedApp() {
  const store = createMemoryObjectStore({ baseUrl: BASE });
  const gateway = createGateway({
    store,
    sink: createMemoryEventSink(),
    ledger: createMemoryLedger(),
    datasets: [testDataset()],
    controlTopic: 'dropgate.files',
    owner: 'upload-fuzz',
    uploads: { maxBytes: 4096, expiresInSeconds: 900 },
    logger: silentLogger,
    ingest: { retry: { attempts: 1, baseDelayMs: 1 } },
  });
  return createApp({
    gateway,
    auth: createAuthenticator({
      adminToken: 'admin-token-5d1c9e7a3f0b8264',
      vendorKeys: new Map([[VENDOR_KEY, 'acme']]),
    }),
    logger: silentLogger,
    intakes: [createLocalUploadIntake({ receiver: store, mode: 'inline' })],
  });
}

const app = fuzzedApp();

/** Words that mean a message was built from a value that was not there, which tells a vendor nothing. */
const UNCLEAR =
  /\bundefined\b|\bNaN\b|\[object Object\]|Cannot read properties|is not a function|is not iterable/;

/** A 2xx, or a 4xx in the one error shape with a known code, a clear message and the request's id. */
async function expectAnswered(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect(response.status, text).toBeGreaterThanOrEqual(200);
  expect(response.status, text).toBeLessThan(500);
  expect(response.status === 201 || response.status >= 400, text).toBe(true);
  const body = JSON.parse(text) as Record<string, unknown>;
  if (response.status >= 400) {
    expect(Object.keys(body)).toEqual(['error']);
    const error = body.error as { code: string; message: string; requestId: string };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'requestId']);
    expect(ERROR_CODES).toContain(error.code);
    expect(error.message.length).toBeGreaterThan(0);
    expect(error.message).not.toMatch(UNCLEAR);
    expect(error.requestId).toBe(response.headers.get('x-request-id'));
  }
  return body;
}

/** Header values a client can send: printable ASCII (what `Headers` accepts), now and then long. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 80,
});

const VALID_REQUEST = {
  dataset: 'orders',
  filename: 'orders-2024.csv',
  contentType: 'text/csv; charset=utf-8',
  size: 100,
  schemaVersion: 1,
};

describe('upload request fuzzing', () => {
  it(
    'answers POST /v1/uploads with a grant or a 4xx error, whatever the body and headers',
    async () => {
      const authorization = fc.oneof(
        { weight: 6, arbitrary: fc.constant(`Bearer ${VENDOR_KEY}`) },
        fc.constantFrom(
          undefined,
          `Bearer wrong`,
          `bearer ${VENDOR_KEY}`,
          `Bearer  ${VENDOR_KEY}`,
          'Basic YTpi',
          'Bearer',
        ),
        headerText,
      );
      const contentType = fc.oneof(
        { weight: 4, arbitrary: fc.constant('application/json') },
        fc.constantFrom(undefined, 'text/plain', 'application/json; charset=utf-8', 'multipart/form-data'),
        headerText,
      );
      const body = fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .array(jsonEditArbitrary, { maxLength: 3 })
            .map((edits) => JSON.stringify(edits.reduce(applyEdit, VALID_REQUEST))),
        },
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? ''),
        fc
          .array(mutationArbitrary, { minLength: 1, maxLength: 3 })
          .map((mutations) =>
            mutations.reduce(mutate, new TextEncoder().encode(JSON.stringify(VALID_REQUEST))),
          ),
        fc.string({ maxLength: 100 }),
      );
      const requestId = fc.option(headerText, { freq: 4 });
      let granted = 0;
      await runFuzz(
        'upload-requests',
        fc.asyncProperty(authorization, contentType, body, requestId, async (auth, type, payload, id) => {
          const headers: Record<string, string> = {};
          if (auth !== undefined) headers.authorization = auth;
          if (type !== undefined) headers['content-type'] = type;
          if (id !== null) headers['x-request-id'] = id;
          const answer = await expectAnswered(
            await app.request('/v1/uploads', { method: 'POST', headers, body: payload }),
          );
          if ('uploadUrl' in answer) {
            granted++;
            expect(String(answer.objectKey)).toMatch(/^vendors\/acme\//);
          }
        }),
        { cases: 3_000, seed: 99 },
      );
      // The fuzzer reaches past the checks too, not only their refusals.
      expect(granted).toBeGreaterThan(300);
    },
    TIMEOUT_MS,
  );

  describe('PUT /v1/local-uploads', () => {
    const grants: Array<{ uploadUrl: string; headers: Record<string, string> }> = [];
    beforeAll(async () => {
      for (const request of [
        { dataset: 'orders', filename: 'a.csv' },
        { dataset: 'orders', filename: 'Orders_2024-05.csv.gz', contentType: 'application/gzip' },
        VALID_REQUEST,
      ]) {
        const response = await app.request('/v1/uploads', {
          method: 'POST',
          headers: { authorization: `Bearer ${VENDOR_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(request),
        });
        expect(response.status).toBe(201);
        grants.push((await response.json()) as { uploadUrl: string; headers: Record<string, string> });
      }
    });

    /** Text to put in a URL: its delimiters, percent signs (valid and not), dots and slashes, non-ASCII. */
    const urlText = fc.string({
      unit: fc.constantFrom(...'aZ09-_.~/%?&=#+ ', '%2F', '%zz', '%00', '%E2%82', '..', 'é', '東'),
      maxLength: 12,
    });

    type UrlEdit =
      | { kind: 'drop'; parameter: string }
      | { kind: 'set'; parameter: string; value: string }
      | { kind: 'add'; parameter: string; value: string }
      | { kind: 'cut-signature'; length: number }
      | { kind: 'key'; value: string }
      | { kind: 'characters'; at: number; text: string; remove: number };
    const parameter = fc.constantFrom('expires', 'maxBytes', 'signature', 'other');
    const urlEdit: fc.Arbitrary<UrlEdit> = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), parameter }),
      fc.record({
        kind: fc.constant('set' as const),
        parameter,
        value: fc.oneof(
          urlText,
          fc.constantFrom('', '0', '-1', '1e3', '9007199254740993', '4096', '99999999999'),
        ),
      }),
      fc.record({ kind: fc.constant('add' as const), parameter, value: urlText }),
      fc.record({ kind: fc.constant('cut-signature' as const), length: fc.nat({ max: 43 }) }),
      fc.record({ kind: fc.constant('key' as const), value: urlText }),
      fc.record({
        kind: fc.constant('characters' as const),
        at: fc.nat(),
        text: urlText,
        remove: fc.nat({ max: 4 }),
      }),
    );

    function edited(uploadUrl: string, edits: UrlEdit[]): string {
      let path = uploadUrl.slice(BASE.length);
      for (const edit of edits) {
        const url = new URL(path, BASE);
        if (edit.kind === 'drop') url.searchParams.delete(edit.parameter);
        else if (edit.kind === 'set') url.searchParams.set(edit.parameter, edit.value);
        else if (edit.kind === 'add') url.searchParams.append(edit.parameter, edit.value);
        else if (edit.kind === 'cut-signature') {
          url.searchParams.set('signature', (url.searchParams.get('signature') ?? '').slice(0, edit.length));
        } else if (edit.kind === 'key') {
          url.pathname = url.pathname.replace(/[^/]*$/, edit.value);
        }
        path = url.pathname + url.search;
        if (edit.kind === 'characters') {
          const at = edit.at % (path.length + 1);
          path = path.slice(0, at) + edit.text + path.slice(at + edit.remove);
        }
      }
      return path.startsWith('/') ? path : `/${path}`;
    }

    it(
      'answers a stored upload or a 4xx error, whatever the URL, content type and body',
      async () => {
        const grant = fc.nat({ max: 2 });
        let stored = 0;
        const edits = fc.array(urlEdit, { maxLength: 3 });
        const contentType = fc.option(
          fc.oneof(fc.constantFrom('text/csv', 'application/octet-stream'), headerText),
          {
            freq: 3,
          },
        );
        const body = fc.oneof(
          fc.constant(
            'order_id,customer_id,sku,quantity,unit_price,currency,ordered_at\nO-1,C-1,S-1,1,1.5,EUR,2024-05-01T10:00:00Z\n',
          ),
          fc.uint8Array({ maxLength: 300 }),
          fc.integer({ min: 4_000, max: 5_000 }).map((length) => 'x'.repeat(length)),
        );
        await runFuzz(
          'upload-puts',
          fc.asyncProperty(grant, edits, contentType, body, async (index, urlEdits, type, payload) => {
            const chosen = grants[index]!;
            const path = edited(chosen.uploadUrl, urlEdits);
            let target: URL;
            try {
              target = new URL(path, BASE);
            } catch {
              // Not a URL a client could send.
              return;
            }
            const headers = type === null ? chosen.headers : { 'content-type': type };
            const answer = await expectAnswered(
              await app.request(target.toString(), { method: 'PUT', headers, body: payload }),
            );
            if ('version' in answer) stored++;
          }),
          { cases: 3_000, seed: 999 },
        );
        expect(stored).toBeGreaterThan(100);
      },
      TIMEOUT_MS,
    );
  });
});
