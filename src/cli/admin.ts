/**
 * The admin HTTP API of `rtcpool serve`: on only with `--admin-token`,
 * bearer-token only, JSON in and out.
 *
 * Every answer is JSON (`content-type: application/json`); every refusal is
 * `{ "error": "<reason>" }`. HEAD answers like GET without the body. The
 * checks run in this order, and the first that fails answers:
 *
 * | status | when |
 * |---|---|
 * | 404 | the API is off (no `--admin-token`): any method, any `/admin/...` path |
 * | 401 | `Authorization: Bearer <token>` missing or wrong; with `www-authenticate: Bearer` |
 * | 404 | no such path (exact match; the query string is ignored; no trailing slash) |
 * | 405 | the path exists but not with this method; `allow` lists its methods |
 * | 413 | a POST body over {@link ADMIN_BODY_LIMIT} bytes (declared or sent) |
 * | 400 | a POST body not UTF-8 JSON, not an object, with an unlisted field or a bad one |
 * | 200 | done, see the routes |
 * | 404 | `describe`: no member with that id served here; `stop`: no such pool |
 * | 500 | anything unexpected (Redis unreachable, say): `{ "error": "internal error" }`, logged |
 *
 * The token is checked first, so that a caller without it learns nothing,
 * not even which paths exist. OPTIONS is a 405 like any other method: there
 * is no CORS, as no browser page is meant to call this API. Requests Node's
 * parser refuses never get here: serve.ts answers those.
 *
 * Routes (bodies are JSON objects; ids as the wire protocol bounds them, see PROTOCOL_LIMITS):
 *
 * | request | 200 answer |
 * |---|---|
 * | `GET /admin/stats` | `server.stats()` |
 * | `GET /admin/pools` | `[{ id, members: [{ id, description }] }]` |
 * | `POST /admin/pools {pool}` | `{ ok: true }` once the pool exists (creating an existing pool is fine) |
 * | `POST /admin/stop {pool}` | `{ ok: true }` once the pool is stopped |
 * | `POST /admin/describe {clientId, description}` | `{ ok: true }` once the description is set |
 *
 * `pool`: a non-empty string of at most `maxPoolLength` (256) UTF-16 code
 * units. `clientId`: likewise, at most `maxIdLength` (128). `description`:
 * any JSON value (null for none) that clients accept in `rtc:describe`:
 * nested at most `maxDescriptionDepth` (32) deep, at most
 * `maxDescriptionValues` (10,000) values. Refused up front: past those
 * bounds, every client's parser refuses the `rtc:describe` that carries it.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidField, jsonValue } from '../protocol/fields.js';
import { type JsonValue, PROTOCOL_LIMITS } from '../protocol/messages.js';
import type { SignallingServer } from '../server/index.js';

/** Largest POST body, in bytes: far above any real request, small enough to buffer without thought. */
export const ADMIN_BODY_LIMIT = 64 * 1024;

/** What the admin API uses of a signalling server (any identity type: none of these involve it). */
export type AdminTarget = Pick<
  SignallingServer<unknown>,
  'stats' | 'pools' | 'pool' | 'describe' | 'stopPool' | 'createPool'
>;

export interface AdminOptions {
  server: AdminTarget;
  /** The bearer token; undefined or empty turns the API off (every `/admin/...` answers 404). */
  token: string | undefined;
  /** Where an unexpected failure (answered 500) is reported, with its stack. */
  logError: (line: string) => void;
}

/**
 * Handles one request whose path starts with `/admin/`. The handler always
 * answers (or, if the client went away, does not) and never throws or
 * rejects: a failing route must not take the signalling server down.
 */
export type AdminHandler = (request: IncomingMessage, response: ServerResponse, path: string) => void;

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A request the API refuses: answered with `status` and `{ error: reason }`. Not an Error: it needs no stack. */
class Refusal {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

type Awaitable<T> = T | Promise<T>;

interface PostRoute {
  /** Every field the body may have: any other is refused, so a misspelt optional field is not silently ignored. */
  fields: readonly string[];
  run: (body: PostBody) => Awaitable<Reply>;
}

interface Route {
  /** Answers GET, and HEAD without the body. */
  get?: () => Awaitable<Reply>;
  post?: PostRoute;
}

const OK: Reply = { status: 200, body: { ok: true } };

function routes(server: AdminTarget): Map<string, Route> {
  // A Map, not an object literal: a path such as /admin/__proto__ must find nothing.
  return new Map<string, Route>([
    ['/admin/stats', { get: () => ({ status: 200, body: server.stats() }) }],
    [
      '/admin/pools',
      {
        get: async () => {
          const ids = await server.pools();
          const pools = await Promise.all(ids.map(async (id) => ({ id, members: (await server.pool(id)) ?? [] })));
          return { status: 200, body: pools };
        },
        post: {
          fields: ['pool'],
          run: async (body) => {
            await server.createPool(body.pool('pool'));
            return OK;
          },
        },
      },
    ],
    [
      '/admin/stop',
      {
        post: {
          fields: ['pool'],
          run: async (body) => {
            const pool = body.pool('pool');
            return (await server.stopPool(pool)) ? OK : { status: 404, body: { error: `no pool ${pool}` } };
          },
        },
      },
    ],
    [
      '/admin/describe',
      {
        post: {
          fields: ['clientId', 'description'],
          run: (body) => {
            const clientId = body.id('clientId');
            const description = body.json('description');
            return server.describe(clientId, description)
              ? OK
              : { status: 404, body: { error: `no endpoint ${clientId}` } };
          },
        },
      },
    ],
  ]);
}

/** The admin API over `options.server`, as a request handler for paths under `/admin/`. */
export function createAdminHandler(options: AdminOptions): AdminHandler {
  const table = routes(options.server);
  const { token, logError } = options;

  async function dispatch(request: IncomingMessage, path: string): Promise<Reply | undefined> {
    if (!token) throw new Refusal(404, 'the admin API is off (start with --admin-token)');
    if (!bearerMatches(request.headers.authorization, token)) {
      throw new Refusal(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="rtcpool admin"' });
    }
    const route = table.get(path);
    if (!route) throw new Refusal(404, 'no such admin route');
    const method = request.method ?? 'GET';
    if (route.get && (method === 'GET' || method === 'HEAD')) return route.get();
    if (route.post && method === 'POST') {
      const body = await readBody(request);
      // The client went away mid-body: there is nobody to answer.
      if (body === undefined) return undefined;
      return route.post.run(new PostBody(parseObject(body), route.post.fields));
    }
    const allow = [...(route.get ? ['GET', 'HEAD'] : []), ...(route.post ? ['POST'] : [])].join(', ');
    throw new Refusal(405, `${method} is not allowed here (allowed: ${allow})`, { allow });
  }

  return (request, response, path) => {
    const fail = (error: unknown): void => {
      try {
        logError(`admin: ${request.method} ${path.slice(0, 200)} failed: ${describeError(error)}`);
      } catch {
        // A broken logger must not turn one failed request into a crash.
      }
      try {
        if (response.headersSent) response.destroy();
        else send(response, { status: 500, body: { error: 'internal error' } });
      } catch {
        response.destroy();
      }
    };
    dispatch(request, path)
      .then(
        (reply) => reply && send(response, reply),
        (error: unknown) => {
          if (!(error instanceof Refusal)) return fail(error);
          send(response, { status: error.status, body: { error: error.reason }, headers: error.headers });
        },
      )
      .catch(fail);
  };
}

function send(response: ServerResponse, { status, body, headers = {} }: Reply): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .end(text);
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

/**
 * Compares digests rather than the strings: equal lengths for
 * timingSafeEqual, and neither the token's length nor its content leaks
 * through timing. The scheme is case-insensitive (RFC 9110 11.1).
 */
function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^bearer +/i.exec(header ?? '');
  if (!match || header === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header.slice(match[0].length)), digest(token));
}

/**
 * The whole body, or undefined if the client went away before sending it.
 * Listeners rather than `for await`: leaving such a loop early destroys the
 * request and with it the socket, and the 413 would never arrive. A body
 * over the limit is left to drain (Node discards it), so the connection
 * stays usable.
 */
function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(request.headers['content-length']);
  if (declared > ADMIN_BODY_LIMIT) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      request.resume();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= ADMIN_BODY_LIMIT) return void chunks.push(chunk);
      stop();
      reject(tooLarge());
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onGone = () => {
      stop();
      resolve(undefined);
    };
    request.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

const tooLarge = () => new Refusal(413, `the body must be at most ${ADMIN_BODY_LIMIT} bytes`);

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseObject(bytes: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    // fatal: bytes that are not UTF-8 are refused, not read as U+FFFD into an id.
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new Refusal(400, 'the body is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new Refusal(400, `the body must be a JSON object, not ${kind}`);
  }
  return value as Record<string, unknown>;
}

/** A POST body's fields, each checked as it is read. */
class PostBody {
  constructor(
    private readonly fields: Record<string, unknown>,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(fields)) {
      if (!allowed.includes(key)) {
        throw new Refusal(400, `unknown field ${JSON.stringify(key.slice(0, 64))} (expected: ${allowed.join(', ')})`);
      }
    }
  }

  /** Own properties only: JSON.parse makes `__proto__` an own key, and nothing may come from a prototype. */
  private field(name: string): unknown {
    return Object.hasOwn(this.fields, name) ? this.fields[name] : undefined;
  }

  private string(name: string, max: number): string {
    const value = this.field(name);
    if (typeof value === 'string' && value.length > 0 && value.length <= max) return value;
    throw new Refusal(400, `${name}: a non-empty string of at most ${max} characters`);
  }

  pool(name: string): string {
    return this.string(name, PROTOCOL_LIMITS.maxPoolLength);
  }

  id(name: string): string {
    return this.string(name, PROTOCOL_LIMITS.maxIdLength);
  }

  /** Any JSON value within the bounds clients accept in a description; null is a value, absence is not. */
  json(name: string): JsonValue {
    if (!Object.hasOwn(this.fields, name)) throw new Refusal(400, `${name}: required (any JSON value, null for none)`);
    try {
      return jsonValue(this.fields[name], name, { values: PROTOCOL_LIMITS.maxDescriptionValues });
    } catch (error) {
      if (error instanceof InvalidField) throw new Refusal(400, `${error.field}: ${error.expected}`);
      throw error;
    }
  }
}
