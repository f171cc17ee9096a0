/**
 * An HTTP proxy on 127.0.0.1 in front of a stand-in that does not fail on its own (fauxqs never throttles):
 * `decide` looks at each request and lets it through, answers it in the service's place without passing it
 * on (a throttled request: nothing reached the service), or passes it on and answers something else (the
 * service took it, its answer was lost). Point the SDK at it with `AWS_ENDPOINT_URL_<SERVICE>`.
 */
import { createServer, request as forward, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxyAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * `undefined`: pass the request on and relay the answer. `answer`: answer it here, passing nothing on.
 * `loseAnswer`: pass it on, then answer this instead of what the service said.
 */
export type ProxyDecision = { answer: ProxyAnswer } | { loseAnswer: ProxyAnswer } | undefined;

export interface FaultingProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startFaultingProxy(
  target: string,
  decide: (request: ProxiedRequest) => ProxyDecision,
): Promise<FaultingProxy> {
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const proxied: ProxiedRequest = {
        method: incoming.method ?? 'GET',
        url: incoming.url ?? '/',
        headers: incoming.headers,
        body: Buffer.concat(chunks),
      };
      const decision = decide(proxied);
      const reply = (answer: ProxyAnswer) => {
        outgoing.writeHead(answer.status, answer.headers ?? {});
        outgoing.end(answer.body ?? '');
      };
      if (decision && 'answer' in decision) return reply(decision.answer);
      const passed = forward(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: proxied.method,
          path: proxied.url,
          headers: { ...proxied.headers, host: upstream.host },
        },
        (answer) => {
          if (decision) {
            answer.resume();
            answer.on('end', () => reply(decision.loseAnswer));
            return;
          }
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      passed.on('error', (error) => reply({ status: 502, body: String(error) }));
      passed.end(proxied.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
