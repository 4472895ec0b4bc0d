/**
 * Fuzzing the admin API of one running `rtcpool serve`: arbitrary methods
 * (known, unknown to Node's parser, garbage), paths (the routes, random
 * segments, dot segments, percent-encoded characters, query strings, targets
 * that are not URLs), authorization headers (right, wrong, malformed, too
 * large) and bodies (random bytes and strings, random JSON, the routes'
 * fields with wrong types and sizes, huge strings around the 64 KiB limit,
 * deep nesting, sent with a length or in chunks).
 *
 * Every request must get an answer whose status is the one the oracle below
 * predicts (it restates the rules in src/cli/admin.ts independently), with a
 * JSON body on every admin answer and parser refusal. Nothing may fail
 * unexpectedly (no 500, nothing logged, no unhandled rejection), and after
 * all of them the signalling server must still relay between two members of
 * a pool they joined before.
 *
 * RTCPOOL_ADMIN_FUZZ_RUNS sets the number of requests (default and minimum
 * 2,000). A failure prints fast-check's seed and path; replay it with
 * RTCPOOL_PROPERTY_SEED=<seed> RTCPOOL_PROPERTY_PATH=<path>.
 */
import { METHODS } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { serve } from '../../src/cli/serve.js';
import { type Answer, type Ask, ask, keepAliveAgent } from './http.js';
import { joinPool, type Member } from './ws-member.js';

const RUNS = Math.max(2_000, Number(process.env.RTCPOOL_ADMIN_FUZZ_RUNS ?? 2_000));
const TOKEN = 'fuzz-token-3f9a';
/** The pool the two members are in: the fuzzing must not stop it (that would be a correct 200). */
const POOL = 'p';
const LIMIT = 64 * 1024;

const params = (): fc.Parameters<[Case]> => {
  const chosen: fc.Parameters<[Case]> = { numRuns: RUNS };
  if (process.env.RTCPOOL_PROPERTY_SEED) chosen.seed = Number(process.env.RTCPOOL_PROPERTY_SEED);
  if (process.env.RTCPOOL_PROPERTY_PATH) chosen.path = process.env.RTCPOOL_PROPERTY_PATH;
  return chosen;
};

// ---- The requests ----

/**
 * A long text, printed by fast-check as the expression that makes it, so
 * that a failure report stays readable: parts repeated so many times each.
 */
class Long {
  readonly parts: [text: string, times: number][];
  constructor(...parts: [text: string, times: number][]) {
    this.parts = parts;
  }
  toString(): string {
    return this.parts.map(([text, times]) => text.repeat(times)).join('');
  }
  [fc.toStringMethod](): string {
    return this.parts
      .filter(([text, times]) => text && times)
      .map(([text, times]) => (times === 1 ? JSON.stringify(text) : `${JSON.stringify(text)}.repeat(${times})`))
      .join(' + ');
  }
}

interface Case {
  method: string;
  path: string;
  /** The Authorization header, or undefined for none. */
  authorization: string | Long | undefined;
  body: string | Long | Uint8Array | undefined;
  chunked: boolean;
}

const bytesOf = (body: Case['body']): Uint8Array =>
  body instanceof Uint8Array ? body : new TextEncoder().encode(String(body ?? ''));

const ROUTE_PATHS = ['/admin/stats', '/admin/pools', '/admin/stop', '/admin/describe'];

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constant('POST') },
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD') },
  { weight: 4, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'QUERY') },
  // Tokens Node's client will send (it upper-cases them); most are unknown to the server's parser.
  {
    weight: 2,
    // CONNECT left out: Node hands it to a proxy (the 'connect' event), it is no request for the admin API.
    arbitrary: fc
      .stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/)
      .filter((token) => token.toUpperCase() !== 'CONNECT'),
  },
);

const segment = fc.oneof(
  fc.constantFrom(
    'stats',
    'pools',
    'stop',
    'describe',
    '',
    '.',
    '..',
    '%2e%2e',
    '%2E',
    '%2F',
    '%00',
    '%ff',
    '%C3%A9',
    '%zz',
    '__proto__',
    'constructor',
    'STATS',
  ),
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,12}$/),
);
const query = fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,24}$/);

const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ROUTE_PATHS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ROUTE_PATHS), query).map(([route, q]) => `${route}?${q}`) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.option(query, { nil: undefined }))
      .map(([segments, q]) => `/admin/${segments.join('/')}${q === undefined ? '' : `?${q}`}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/admin',
      '/admin/',
      '//',
      '//[',
      '//admin/stats',
      '/admin//stats',
      '/ADMIN/stats',
      '/admin/stats#fragment',
      '/admin/\u00e9',
      '*',
      'http://[::1',
      'http://127.0.0.1/admin/stats',
      '/',
      '/nope',
    ),
  },
);

const authorization = fc.oneof(
  { weight: 50, arbitrary: fc.constant(`Bearer ${TOKEN}`) },
  { weight: 5, arbitrary: fc.constantFrom(`bearer ${TOKEN}`, `BEARER   ${TOKEN}`, `Bearer ${TOKEN} `) },
  { weight: 5, arbitrary: fc.constant(undefined) },
  {
    weight: 15,
    arbitrary: fc.oneof(
      fc.constantFrom(TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer', 'Bearer '),
      fc.string({ maxLength: 80 }).map((text) => text.replace(/[^\x20-\x7e]/g, '')),
      fc.string({ maxLength: 80 }).map((text) => `Bearer ${text.replace(/[^\x20-\x7e]/g, '')}`),
    ),
  },
  // Past Node's 16 KiB of headers: its parser refuses the request.
  { weight: 1, arbitrary: fc.constant(new Long(['Bearer ', 1], ['x', 20_000])) },
);

/** Values of every JSON type, and the strings either side of each bound. */
const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(256), 'x'.repeat(257)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(POOL, 'P', 'p ', '__proto__') },
);

/** JSON nested `depth` deep, as text: built as a string, as no JSON.stringify could survive the deepest. */
const nested = (depth: number, before = '', after = '') =>
  new Long([before, 1], ['[', depth], ['0', 1], [']', depth], [after, 1]);

const fields = (names: string[]) =>
  fc
    .tuple(
      fc.record(Object.fromEntries(names.map((name) => [name, anyValue])), { requiredKeys: [] }),
      // Now and then a field the route does not have.
      fc.oneof(
        { weight: 4, arbitrary: fc.constant({}) },
        {
          weight: 1,
          arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
        },
      ),
    )
    .map(([known, extra]) => JSON.stringify({ ...known, ...extra }));

const describeBody = fc.oneof(
  fields(['clientId', 'description']),
  fc
    .tuple(anyValue, fc.integer({ min: 28, max: 36 }))
    .map(([clientId, depth]) => nested(depth, `{"clientId":${JSON.stringify(clientId)},"description":`, '}')),
  // Around 10,000 values: the array and count - 1 zeros.
  fc
    .integer({ min: 9_990, max: 10_010 })
    .map((count) => new Long(['{"clientId":"c","description":[', 1], ['0,', count - 2], ['0]}', 1])),
);

const text = fc.oneof(
  { weight: 12, arbitrary: fields(['pool']) },
  { weight: 8, arbitrary: describeBody },
  { weight: 6, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40_000 }).map((depth) => nested(depth)) },
  {
    weight: 2,
    // Either side of the limit: the JSON wrapper is 11 bytes.
    arbitrary: fc
      .integer({ min: LIMIT - 20, max: LIMIT + 20 })
      .map((size) => new Long(['{"pool":"', 1], ['x', size - 11], ['"}', 1])),
  },
  { weight: 1, arbitrary: fc.integer({ min: LIMIT, max: 2 * LIMIT }).map((size) => new Long(['x', size])) },
);

const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 12, arbitrary: text },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
);

/** Whether a request would stop the members' pool: left out, as the answer would rightly be 200. */
function stopsThePool({ path, body }: Case): boolean {
  if (!body || !path.includes('stop')) return false;
  try {
    return (JSON.parse(new TextDecoder().decode(bytesOf(body))) as { pool?: unknown }).pool === POOL;
  } catch {
    return false;
  }
}

/** Anything: most of these stop at the parser, the token, the path or the method. */
const anyRequest: fc.Arbitrary<Case> = fc.record({ method, path, authorization, body, chunked: fc.boolean() });

/** A POST to a route with a body made for it (or nearly): these reach the checks of the fields. */
const aimedRequest: fc.Arbitrary<Case> = fc
  .tuple(
    fc.oneof(
      fc.tuple(fc.constantFrom('/admin/pools', '/admin/stop'), fields(['pool'])),
      fc.tuple(fc.constant('/admin/describe'), describeBody),
    ),
    authorization,
    fc.boolean(),
  )
  .map(([[path, body], authorization, chunked]) => ({ method: 'POST', path, authorization, body, chunked }));

const request = fc
  .oneof({ weight: 3, arbitrary: anyRequest }, { weight: 2, arbitrary: aimedRequest })
  .filter((candidate) => !stopsThePool(candidate));

// ---- The oracle: what the answer must be, restated from the documentation ----

const PARSED_METHODS = new Set(METHODS);
const ALLOWED = new Map([
  ['/admin/stats', ['GET', 'HEAD']],
  ['/admin/pools', ['GET', 'HEAD', 'POST']],
  ['/admin/stop', ['POST']],
  ['/admin/describe', ['POST']],
]);

interface Expected {
  statuses: number[];
  /** The answer comes from the admin API or the parser refusals: JSON. False for the static files. */
  json: boolean;
  /** Node's parser may refuse the request target: a 400, in JSON, whatever else was expected. */
  parserMayRefuse?: boolean;
  allow?: string;
}

function expected(c: Case): Expected {
  const method = c.method.toUpperCase();
  // The parser reads the method before the headers.
  if (!PARSED_METHODS.has(method)) return { statuses: [400], json: true };
  // Characters that Node's parser may refuse in a request target.
  const mayBeRefused = /[^\x21-\x7e]|#/.test(c.path) || !c.path.startsWith('/');
  const orRefused = (found: Expected): Expected =>
    mayBeRefused ? { ...found, statuses: [...found.statuses, 400], parserMayRefuse: true } : found;
  // Headers too large: 431, unless the parser refused the request target first (it reads the request line before).
  if (String(c.authorization ?? '').length > 16 * 1024) return orRefused({ statuses: [431], json: true });
  let pathname: string;
  try {
    pathname = new URL(c.path, 'http://localhost').pathname;
  } catch {
    return { statuses: [400], json: true };
  }
  if (!pathname.startsWith('/admin/')) {
    return orRefused({ statuses: method === 'GET' || method === 'HEAD' ? [200, 404] : [404], json: false });
  }
  if (!bearer(c.authorization)) return orRefused({ statuses: [401], json: true });
  const allowed = ALLOWED.get(pathname);
  if (!allowed) return orRefused({ statuses: [404], json: true });
  if (!allowed.includes(method)) return orRefused({ statuses: [405], json: true, allow: allowed.join(', ') });
  if (method !== 'POST') return orRefused({ statuses: [200], json: true });
  return orRefused({ statuses: bodyVerdict(pathname, bytesOf(c.body)), json: true });
}

/** The header as the server reads it (surrounding spaces and tabs dropped), scheme case-insensitive. */
function bearer(header: Case['authorization']): boolean {
  const value = String(header ?? '').replace(/^[ \t]+|[ \t]+$/g, '');
  const match = /^bearer +/i.exec(value);
  return match !== null && value.slice(match[0].length) === TOKEN;
}

function bodyVerdict(pathname: string, bytes: Uint8Array): number[] {
  if (bytes.length > LIMIT) return [413];
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return [400];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [400];
  const fields = value as Record<string, unknown>;
  const names = pathname === '/admin/describe' ? ['clientId', 'description'] : ['pool'];
  if (Object.keys(fields).some((key) => !names.includes(key))) return [400];
  const text = (field: unknown, max: number) => typeof field === 'string' && field.length >= 1 && field.length <= max;
  if (pathname === '/admin/describe') {
    if (!text(fields.clientId, 128) || !Object.hasOwn(fields, 'description')) return [400];
    if (!withinBounds(fields.description)) return [400];
    return [404]; // no fuzzed id is a member's (the server makes them up)
  }
  if (!text(fields.pool, 256)) return [400];
  return pathname === '/admin/pools' ? [200] : [200, 404]; // stop: the pool may have been created by an earlier case
}

/** A description clients accept: at most 10,000 values, containers nested at most 32 deep. */
function withinBounds(root: unknown): boolean {
  let values = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [value, depth] = item;
    values += 1;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= 32) return false;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return values <= 10_000;
}

// ---- The run ----

type Served = Awaited<ReturnType<typeof serve>>;
let served: Served;
let members: [Member, Member];
const agent = keepAliveAgent();
const errors: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  served = await serve({
    port: 0,
    host: '127.0.0.1',
    private: false,
    pools: [],
    adminToken: TOKEN,
    log: () => undefined,
    logError: (line) => void errors.push(line),
  });
  members = [await joinPool(served.url, POOL), await joinPool(served.url, POOL)];
});

afterAll(async () => {
  for (const member of members ?? []) member.close();
  agent.destroy();
  await served?.close();
  process.off('unhandledRejection', onUnhandled);
});

function send(c: Case): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (c.authorization !== undefined) headers.authorization = String(c.authorization);
  if (c.body !== undefined && c.chunked) headers['transfer-encoding'] = 'chunked';
  const sent: Ask = { method: c.method, path: c.path, headers };
  if (c.body !== undefined) sent.body = bytesOf(c.body);
  return ask(served.url, agent, sent);
}

function check(c: Case, answer: Answer): void {
  const want = expected(c);
  const seen = `${c.method} ${c.path.slice(0, 80)} -> ${answer.status} ${answer.body.subarray(0, 200)}`;
  expect(want.statuses, seen).toContain(answer.status);
  if (want.allow !== undefined && answer.status === 405) expect(answer.headers.allow, seen).toBe(want.allow);
  if (answer.status === 401) expect(answer.headers['www-authenticate'], seen).toMatch(/^Bearer /);
  const json = want.json || (want.parserMayRefuse === true && answer.status === 400);
  if (!json || c.method.toUpperCase() === 'HEAD') return;
  expect(answer.headers['content-type'], seen).toBe('application/json');
  expect(answer.json, seen).not.toBeUndefined();
  if (answer.status >= 400) expect(answer.json, seen).toEqual({ error: expect.any(String) });
}

test(`${RUNS} hostile requests: each answered as documented; the server still relays`, async () => {
  // Answers by status and reason (its first words), to show that every check was reached.
  const tally = new Map<string, number>();
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(request, async (c) => {
      cases += 1;
      const answer = await send(c);
      const reason = (answer.json as { error?: unknown } | undefined)?.error;
      const gist =
        typeof reason === 'string' ? reason.replace(/^(no endpoint|no pool|unknown field| ).*|[:(].*$/, '$1') : '';
      const key = `${answer.status} ${gist}`.trim();
      tally.set(key, (tally.get(key) ?? 0) + 1);
      check(c, answer);
    }),
    params(),
  );
  const sorted = [...tally].sort(([a], [b]) => a.localeCompare(b));
  console.info(`admin fuzz: ${cases} requests; answers:\n${sorted.map(([key, n]) => `  ${n}\t${key}`).join('\n')}`);
  expect(cases).toBeGreaterThanOrEqual(RUNS);
  // Not degenerate: the auth, routing and body checks were each reached.
  for (const status of ['200', '400', '401', '404', '405', '413']) {
    expect([...tally.keys()].some((key) => key.startsWith(status))).toBe(true);
  }

  expect(errors).toEqual([]);
  expect(unhandled).toEqual([]);
  const stats = await send({
    method: 'GET',
    path: '/admin/stats',
    authorization: `Bearer ${TOKEN}`,
    body: undefined,
    chunked: false,
  });
  expect(stats.status).toBe(200);

  const [from, to] = members;
  const description = { type: 'offer', sdp: 'v=0\r\n' };
  const since = to.frames.length;
  from.send('rtc:sdp', { to: to.id, description });
  expect((await to.next('rtc:sdp', since)).data).toEqual({ peer: from.id, description });
}, 60_000);
