/**
 * A small HTTP client for the admin API tests: node:http rather than fetch,
 * because the fuzzing needs what fetch hides or refuses (any method, raw
 * bytes, HEAD, arbitrary header values) and one keep-alive agent shared by
 * thousands of requests.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined if it is not JSON. */
  json: unknown;
}

export interface Ask {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** One request; rejects (rather than hanging the test) when no answer comes within `timeoutMs`. */
export function ask(base: string, agent: Agent, { method = 'GET', path, headers = {}, body }: Ask, timeoutMs = 5_000) {
  const url = new URL(base);
  // Node's client sends a GET's body without saying how long it is (the server then reads it as the
  // next request): a body always goes with its length, unless the caller asked for chunks.
  const framed =
    body === undefined || 'transfer-encoding' in headers
      ? headers
      : { ...headers, 'content-length': `${Buffer.byteLength(body)}` };
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: framed, agent, timeout: timeoutMs },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const data = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = JSON.parse(data.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: data, json });
        });
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer to ${method} ${path} in ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}
