/**
 * `rtcpool serve`: the signalling server, the demo page at `/` and the
 * browser build of the client at `/rtcpool.js`, on one port. Also an admin
 * HTTP API (only with `--admin-token`) to describe endpoints and stop pools.
 */

import { timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSignallingServer, type SignallingServer } from '../server/index.js';

/** The package root, whether this runs as dist/cli.js or src/cli/serve.ts. */
const root = fileURLToPath(new URL(import.meta.url.includes('/src/cli/') ? '../..' : '..', import.meta.url));

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

/** The display name a demo page asks for (`/ws?name=Alice`), trimmed to something printable. */
function demoName(request: IncomingMessage): string | undefined {
  const name = new URL(request.url ?? '/', 'http://localhost').searchParams.get('name');
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
  maxPeers?: number;
  resumeWindowMs?: number;
  /** Share pools with other processes through this Redis. */
  redis?: string;
  allowedOrigins?: string[];
  adminToken?: string;
  log: (line: string) => void;
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
  const files = staticFiles();
  let signalling: SignallingServer<DemoIdentity> | undefined;
  const http = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path.startsWith('/admin/')) return void admin(request, response, path, signalling, options.adminToken);
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
  });
  signalling = await createSignallingServer<DemoIdentity>({
    server: http,
    pools: options.private ? 'private' : 'public',
    ...(options.maxPeers === undefined ? {} : { maxPeersPerPool: options.maxPeers }),
    ...(options.resumeWindowMs === undefined ? {} : { resumeWindowMs: options.resumeWindowMs }),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
    ...(options.allowedOrigins?.length ? { allowedOrigins: options.allowedOrigins } : {}),
    // Not authentication: the demo lets a page pick its display name, and the server (not the page) describes it.
    authenticate: (request) => ({ name: demoName(request) }),
  });
  const server = signalling;
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
    http.listen(options.port, options.host, () => resolve());
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

/** The admin API: bearer-token only, JSON in and out. Off unless a token was given. */
async function admin(
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
  server: SignallingServer<DemoIdentity> | undefined,
  token: string | undefined,
): Promise<void> {
  const reply = (status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (!token || !server) return reply(404, { error: 'the admin API is off (start with --admin-token)' });
  if (!bearerMatches(request.headers.authorization, token)) return reply(401, { error: 'bad or missing bearer token' });
  if (request.method === 'GET' && path === '/admin/stats') return reply(200, server.stats());
  if (request.method === 'GET' && path === '/admin/pools') {
    const ids = await server.pools();
    const pools = await Promise.all(ids.map(async (id) => ({ id, members: (await server.pool(id)) ?? [] })));
    return reply(200, pools);
  }
  if (request.method !== 'POST') return reply(404, { error: `no ${request.method} ${path}` });
  const body = await readJson(request);
  if (body === undefined) return reply(400, { error: 'the body must be a JSON object of at most 64 KiB' });
  if (path === '/admin/describe' && typeof body.clientId === 'string' && 'description' in body) {
    const done = server.describe(body.clientId, body.description as never);
    return reply(done ? 200 : 404, done ? { ok: true } : { error: `no endpoint ${body.clientId}` });
  }
  if (path === '/admin/stop' && typeof body.pool === 'string') {
    const done = await server.stopPool(body.pool);
    return reply(done ? 200 : 404, done ? { ok: true } : { error: `no pool ${body.pool}` });
  }
  if (path === '/admin/pools' && typeof body.pool === 'string') {
    await server.createPool(body.pool);
    return reply(200, { ok: true });
  }
  return reply(400, { error: `${path}: unknown action or missing fields` });
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) return undefined;
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
