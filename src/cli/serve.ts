/**
 * `rtcpool serve`: the signalling server, the demo page at `/` and the
 * browser build of the client at `/rtcpool.js`, on one port (the page and the
 * build can be left out: `demo: false`). Also `/healthz` for load balancers
 * and orchestrators, and an admin HTTP API (only with `--admin-token`, see
 * admin.ts) to describe endpoints and stop pools.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createSignallingServer, type IceServersOptions, type SignallingServer } from '../server/index.js';
import { type AdminHandler, createAdminHandler } from './admin.js';
import { packageRoot as root } from './package.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** URL path -> file. A fixed table read once at start: no path from a request ever reaches the file system. */
function staticFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const demo = join(root, 'demo');
  for (const name of readdirSync(demo)) {
    if (CONTENT_TYPES[extname(name)]) files.set(`/${name}`, join(demo, name));
  }
  files.set('/', join(demo, 'index.html'));
  files.set('/rtcpool.js', join(root, 'dist/browser/rtcpool.js'));
  files.set('/rtcpool.js.map', join(root, 'dist/browser/rtcpool.js.map'));
  files.set('/inspect.js', join(root, 'dist/demo/inspect.js'));
  return files;
}

/**
 * The path of a request target, or undefined when it is not one (`//`,
 * `//[`, `http://[::1`: Node's parser lets them through and `new URL`
 * throws on them, which inside a request listener would end the process).
 */
function pathOf(request: IncomingMessage): URL | undefined {
  try {
    return new URL(request.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The display name a demo page asks for (`/ws?name=Alice`), trimmed to something printable. */
function demoName(request: IncomingMessage): string | undefined {
  const name = pathOf(request)?.searchParams.get('name');
  const clean = name
    ?.replace(/[\p{C}]/gu, '')
    .trim()
    .slice(0, 40);
  return clean ? clean : undefined;
}

export interface ServeOptions {
  port: number;
  host: string;
  private: boolean;
  pools: string[];
  /** Serve the demo page, `/rtcpool.js` and `/inspect.js` (default true); false for a deployment: signalling only. */
  demo?: boolean;
  /** The socket.io transport (default true); false also means the `socket.io` package is not needed. */
  socketio?: boolean;
  maxPeers?: number;
  resumeWindowMs?: number;
  /** Share pools with other processes through this Redis. */
  redis?: string;
  allowedOrigins?: string[];
  adminToken?: string;
  /** STUN and TURN servers handed to every endpoint (TURN with credentials minted for it). */
  iceServers?: IceServersOptions;
  log: (line: string) => void;
  /** Unexpected failures (a request answered 500), with their stacks. Default: `log`. */
  logError?: (line: string) => void;
}

/**
 * Starts everything `rtcpool serve` runs; resolves with the server and the page's URL.
 *
 * @example
 * const { url, close } = await serve({ port: 0, host: '127.0.0.1', private: false, pools: [], log: console.log });
 */
export async function serve(
  options: ServeOptions,
): Promise<{ url: string; server: SignallingServer<DemoIdentity>; close: () => Promise<void> }> {
  // Without the demo the table is empty: every path but /healthz and the API is a 404, and demo/ is never read.
  const files = options.demo === false ? new Map<string, string>() : staticFiles();
  const logError = options.logError ?? options.log;
  // Set once the signalling server exists, which is before the port is listened on.
  let admin: AdminHandler | undefined;
  const http = createServer((request, response) => {
    try {
      const path = pathOf(request)?.pathname;
      if (path === undefined) return void sendJson(response, 400, { error: 'the request target is not a URL path' });
      if (path === '/healthz') return health(request, response);
      if (path.startsWith('/admin/') && admin) return admin(request, response, path);
      serveFile(request, response, path, files);
    } catch (error) {
      // Nothing above is expected to throw; if it does, this request fails, not the server.
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, { error: 'internal error' });
      logError(
        `${request.method} ${request.url?.slice(0, 200)} failed: ${error instanceof Error ? error.stack : error}`,
      );
    }
  });
  const server = await createSignallingServer<DemoIdentity>({
    server: http,
    pools: options.private ? 'private' : 'public',
    ...(options.socketio === false ? { socketio: false } : {}),
    ...(options.maxPeers === undefined ? {} : { maxPeersPerPool: options.maxPeers }),
    ...(options.resumeWindowMs === undefined ? {} : { resumeWindowMs: options.resumeWindowMs }),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
    ...(options.allowedOrigins?.length ? { allowedOrigins: options.allowedOrigins } : {}),
    ...(options.iceServers === undefined ? {} : { iceServers: options.iceServers }),
    // Not authentication: the demo lets a page pick its display name, and the server (not the page) describes it.
    authenticate: (request) => ({ name: demoName(request) }),
  });
  admin = createAdminHandler({ server, token: options.adminToken, logError });
  answerUnparsableRequests(http);
  for (const pool of options.pools) await server.createPool(pool);
  server.events$.subscribe((event) => {
    if (event.type === 'join') {
      const name = event.identity?.name;
      server.describe(event.clientId, name === undefined ? { joined: new Date().toISOString() } : { name });
      options.log(`join   ${event.pool}  ${event.clientId}${name ? ` (${name})` : ''}`);
    } else if (event.type === 'leave') options.log(`leave  ${event.pool}  ${event.clientId}`);
    else if (event.type === 'stop') options.log(`stop   ${event.pool}  (${event.members} members)`);
    else if (event.type === 'reject') options.log(`reject ${event.reason}: ${event.message}`);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    // The port is taken, say: let go of what already runs (a Redis connection, timers), then report it.
    await server.close();
    throw error;
  });
  return {
    url: `${server.url}/`,
    server,
    async close() {
      await server.close(); // the signalling server leaves an HTTP server it was given alone
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export interface DemoIdentity {
  name: string | undefined;
}

/** The demo page and the client's build: a fixed table, GET and HEAD only. */
function serveFile(request: IncomingMessage, response: ServerResponse, path: string, files: Map<string, string>): void {
  const file = files.get(path);
  if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) return void response.writeHead(404).end();
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch {
    // dist/ is missing until `npm run build`.
    return void response.writeHead(404, { 'content-type': 'text/plain' }).end(`${path}: not built (npm run build)\n`);
  }
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * `GET /healthz`: 200 `{"ok":true}` while the process serves requests. It
 * says the process is up and its event loop turns, which is what a load
 * balancer or a container's liveness probe asks; not that Redis is reachable.
 */
function health(request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    sendJson(response, 405, { error: 'GET or HEAD only' });
    return;
  }
  const text = JSON.stringify({ ok: true });
  response
    .writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    })
    .end(request.method === 'HEAD' ? undefined : text);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** What Node's HTTP parser reports to `clientError`. */
interface ParserError extends Error {
  code?: string;
  /** The packet the parser was reading when it failed. */
  rawPacket?: Buffer;
}

/** Node's own answers to requests its parser refuses, by error code; anything else is a 400. */
const PARSER_REFUSALS = new Map<string | undefined, [status: number, text: string]>([
  ['HPE_HEADER_OVERFLOW', [431, 'Request Header Fields Too Large']],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', [413, 'Payload Too Large']],
  ['ERR_HTTP_REQUEST_TIMEOUT', [408, 'Request Timeout']],
]);

/**
 * Requests Node's parser refuses (an unknown method such as `FOO`, a bad
 * header, headers too large) never reach a handler. Node answers the first
 * on a connection with an empty 400 and drops any later one (a keep-alive
 * connection) without a word. This answers every one of them, as JSON like
 * every other refusal, then closes the connection (the parser cannot find
 * where the next request would start). If responses to earlier requests on
 * that connection are still being written (pipelining, or a request followed
 * by unframed bytes), the refusal waits for them: written now, its bytes
 * would land inside theirs.
 */
function answerUnparsableRequests(http: Server): void {
  const inFlight = new WeakMap<Duplex, number>();
  const waiting = new WeakMap<Duplex, string>();
  const refused = new WeakSet<Duplex>();
  const refuse = (socket: Duplex, refusal: string) => {
    if (!socket.writable) return void socket.destroy();
    socket.end(refusal);
    // Half-open until the client closes its side, which it may never do.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
  // Registered after the signalling server attached, so it sees socket.io's requests too.
  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      const refusal = waiting.get(socket);
      if (left === 0 && refusal !== undefined) refuse(socket, refusal);
    });
  });
  http.on('clientError', (error: ParserError, socket: Duplex) => {
    // Once failed, the parser fails again on every later packet: the first failure was answered.
    if (refused.has(socket)) return;
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const busy = (inFlight.get(socket) ?? 0) > 0;
    // A request that took too long is given up on, as Node does, not waited for.
    if (busy && error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return void socket.destroy();
    refused.add(socket);
    const [status, text] = PARSER_REFUSALS.get(error.code) ?? [400, 'Bad Request'];
    const body = JSON.stringify({ error: `${text.toLowerCase()}: the request could not be parsed` });
    const headers = `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
    // An answer to HEAD has no body: the client would read it as the start of another answer. The
    // parser failed before it could tell the method; the packet it was reading starts with the request
    // line, unless the request came in several packets (then the body is sent anyway).
    const isHead = error.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    const refusal = isHead ? headers : headers + body;
    if (busy) waiting.set(socket, refusal);
    else refuse(socket, refusal);
  });
}
