/**
 * The admin API of `rtcpool serve`, in process: each documented answer once
 * (src/cli/admin.ts lists them), and the regression that took the whole
 * server down.
 */
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { serve } from '../../src/cli/serve.js';
import { type Answer, type Ask, ask, keepAliveAgent } from './http.js';
import { joinPool } from './ws-member.js';

const TOKEN = 'test-admin-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

type Served = Awaited<ReturnType<typeof serve>>;
let served: Served;
const agent = keepAliveAgent();
const errors: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

const call = (request: Ask): Promise<Answer> => ask(served.url, agent, request);
const get = (path: string): Promise<Answer> => call({ path, headers: AUTH });
const post = (path: string, body: unknown): Promise<Answer> =>
  call({ method: 'POST', path, headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const refusal = (answer: Answer) => ({ status: answer.status, json: answer.json });

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
});

afterAll(async () => {
  agent.destroy();
  await served?.close();
  process.off('unhandledRejection', onUnhandled);
});

afterEach(async () => {
  // A rejection is reported a tick or more after the request that caused it.
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
});

describe('regression: an invalid pool id', () => {
  test('POST /admin/pools {"pool": ""} answers 400 and the server lives on', async () => {
    const answer = await post('/admin/pools', { pool: '' });
    expect(refusal(answer)).toEqual({
      status: 400,
      json: { error: 'pool: a non-empty string of at most 256 characters' },
    });
    expect((await get('/admin/stats')).status).toBe(200);
  });
});

describe('authentication and routing', () => {
  test('without --admin-token every /admin/ path is 404', async () => {
    const off = await serve({ port: 0, host: '127.0.0.1', private: false, pools: [], log: () => undefined });
    try {
      for (const method of ['GET', 'POST']) {
        const answer = await ask(off.url, agent, { method, path: '/admin/stats', headers: AUTH, body: '{}' });
        expect(refusal(answer)).toEqual({
          status: 404,
          json: { error: 'the admin API is off (start with --admin-token)' },
        });
      }
    } finally {
      await off.close();
    }
  });

  test('a missing or wrong token is 401 on every path, known or not', async () => {
    const headers = [
      {},
      { authorization: 'Bearer nope' },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const path of ['/admin/stats', '/admin/nope', '/admin/pools?x=1']) {
      for (const given of headers) {
        const answer = await call({ path, headers: given });
        expect(refusal(answer)).toEqual({ status: 401, json: { error: 'missing or wrong bearer token' } });
        expect(answer.headers['www-authenticate']).toBe('Bearer realm="rtcpool admin"');
      }
    }
    // The scheme is case-insensitive.
    expect((await call({ path: '/admin/stats', headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  test('an unknown path is 404; the query string is ignored', async () => {
    for (const path of ['/admin/nope', '/admin/stats/', '/admin/__proto__', '/admin/%73tats', '/admin/']) {
      expect(refusal(await get(path))).toEqual({ status: 404, json: { error: 'no such admin route' } });
    }
    expect((await get('/admin/stats?verbose=1')).status).toBe(200);
  });

  test('a known path with the wrong method is 405 with allow', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/admin/stats', 'GET, HEAD'],
      ['DELETE', '/admin/pools', 'GET, HEAD, POST'],
      ['GET', '/admin/stop', 'POST'],
      ['PUT', '/admin/describe', 'POST'],
      ['OPTIONS', '/admin/pools', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const answer = await call({ method, path, headers: AUTH });
      expect(refusal(answer)).toEqual({
        status: 405,
        json: { error: `${method} is not allowed here (allowed: ${allow})` },
      });
      expect(answer.headers.allow).toBe(allow);
    }
  });

  test('HEAD answers like GET without a body', async () => {
    const answer = await call({ method: 'HEAD', path: '/admin/stats', headers: AUTH });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(Number(answer.headers['content-length'])).toBeGreaterThan(0);
  });

  test('requests Node cannot parse get a JSON 400, on a fresh or a reused connection', async () => {
    for (const method of ['FOO', 'GET']) {
      expect((await get('/admin/stats')).status).toBe(200); // the keep-alive connection now exists
      const path = method === 'GET' ? '//' : '/admin/stats';
      const answer = await call({ method, path, headers: AUTH });
      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ error: expect.any(String) });
    }
    // Too large: 431, and for HEAD without a body (one would corrupt the client's reading).
    for (const method of ['GET', 'HEAD']) {
      const answer = await call({ method, path: '/admin/stats', headers: { authorization: 'x'.repeat(20_000) } });
      expect(answer.status).toBe(431);
      expect(answer.body.length).toBe(method === 'HEAD' ? 0 : Number(answer.headers['content-length']));
    }
    expect((await get('/admin/stats')).status).toBe(200);
  });

  test('unparsable bytes after a request: its answer first, then the 400', async () => {
    const { port } = new URL(served.url);
    const stats = `GET /admin/stats HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`;
    // A GET whose body has no length (Node's own client sends that), and a pipelined unknown method.
    for (const after of ['{}', 'FOO /admin/stats HTTP/1.1\r\nhost: x\r\n\r\n']) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.end(stats + after);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      const answers = Buffer.concat(chunks)
        .toString('utf8')
        .split(/(?=HTTP\/1\.1 )/);
      expect(answers.map((answer) => answer.slice(0, 12))).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(JSON.parse(answers[1]?.split('\r\n\r\n')[1] ?? '')).toEqual({
        error: 'bad request: the request could not be parsed',
      });
    }
  });
});

describe('bodies', () => {
  test('over 64 KiB is 413, declared or streamed, and the connection stays usable', async () => {
    const big = JSON.stringify({ pool: 'x'.repeat(70_000) });
    const declared = await call({ method: 'POST', path: '/admin/pools', headers: AUTH, body: big });
    const streamed = await call({
      method: 'POST',
      path: '/admin/pools',
      headers: { ...AUTH, 'transfer-encoding': 'chunked' },
      body: big,
    });
    for (const answer of [declared, streamed]) {
      expect(refusal(answer)).toEqual({ status: 413, json: { error: 'the body must be at most 65536 bytes' } });
    }
    expect((await get('/admin/stats')).status).toBe(200);
  });

  test('not JSON, not UTF-8, not an object, or with fields not listed: 400 saying so', async () => {
    const raw = (body: string | Uint8Array) => call({ method: 'POST', path: '/admin/stop', headers: AUTH, body });
    const notJson = { error: 'the body is not UTF-8 JSON' };
    expect(refusal(await raw(''))).toEqual({ status: 400, json: notJson });
    expect(refusal(await raw('{"pool":'))).toEqual({ status: 400, json: notJson });
    expect(refusal(await raw(Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])))).toEqual({
      status: 400,
      json: notJson,
    });
    expect(refusal(await raw('[]'))).toEqual({
      status: 400,
      json: { error: 'the body must be a JSON object, not an array' },
    });
    expect(refusal(await raw('null'))).toEqual({
      status: 400,
      json: { error: 'the body must be a JSON object, not null' },
    });
    expect(refusal(await raw('"p"'))).toEqual({
      status: 400,
      json: { error: 'the body must be a JSON object, not a string' },
    });
    expect(refusal(await post('/admin/stop', { pool: 'p', force: true }))).toEqual({
      status: 400,
      json: { error: 'unknown field "force" (expected: pool)' },
    });
    expect(refusal(await raw('{"pool":"p","__proto__":{}}'))).toEqual({
      status: 400,
      json: { error: 'unknown field "__proto__" (expected: pool)' },
    });
  });

  test('fields of the wrong type or size: 400 naming the field', async () => {
    const pool = { error: 'pool: a non-empty string of at most 256 characters' };
    for (const path of ['/admin/pools', '/admin/stop']) {
      for (const value of [undefined, '', 'x'.repeat(257), 7, null, ['p'], { id: 'p' }, true]) {
        expect(refusal(await post(path, { pool: value }))).toEqual({ status: 400, json: pool });
      }
    }
    const clientId = { error: 'clientId: a non-empty string of at most 128 characters' };
    for (const value of [undefined, '', 'x'.repeat(129), 7, null]) {
      expect(refusal(await post('/admin/describe', { clientId: value, description: null }))).toEqual({
        status: 400,
        json: clientId,
      });
    }
    expect(refusal(await post('/admin/describe', { clientId: 'c' }))).toEqual({
      status: 400,
      json: { error: 'description: required (any JSON value, null for none)' },
    });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 33; i++) deep = [deep];
    expect(refusal(await post('/admin/describe', { clientId: 'c', description: deep }))).toEqual({
      status: 400,
      json: { error: 'description: JSON nested at most 32 deep' },
    });
    expect(refusal(await post('/admin/describe', { clientId: 'c', description: Array(10_001).fill(0) }))).toEqual({
      status: 400,
      json: { error: 'description: JSON of at most 10000 values' },
    });
  });
});

describe('routes', () => {
  test('create, list, describe a member, stop: the answers the CLI always gave', async () => {
    const longest = 'q'.repeat(256);
    expect(refusal(await post('/admin/pools', { pool: longest }))).toEqual({ status: 200, json: { ok: true } });
    const [a, b] = [await joinPool(served.url, 'room'), await joinPool(served.url, 'room')];
    try {
      const pools = (await get('/admin/pools')).json as { id: string; members: { id: string }[] }[];
      expect(pools.find((pool) => pool.id === longest)).toEqual({ id: longest, members: [] });
      expect(pools.find((pool) => pool.id === 'room')?.members.map((member) => member.id)).toEqual([a.id, b.id]);

      const seen = b.frames.length;
      expect(refusal(await post('/admin/describe', { clientId: a.id, description: { role: 'host' } }))).toEqual({
        status: 200,
        json: { ok: true },
      });
      expect((await b.next('rtc:describe', seen)).data).toMatchObject({ description: { role: 'host' } });
      expect(refusal(await post('/admin/describe', { clientId: 'nobody', description: null }))).toEqual({
        status: 404,
        json: { error: 'no endpoint nobody' },
      });

      expect(refusal(await post('/admin/stop', { pool: 'room' }))).toEqual({ status: 200, json: { ok: true } });
      await a.next('rtc:stop');
      expect(refusal(await post('/admin/stop', { pool: 'room' }))).toEqual({
        status: 404,
        json: { error: 'no pool room' },
      });
      expect((await get('/admin/stats')).json).toMatchObject({ pools: expect.any(Number) });
    } finally {
      a.close();
      b.close();
    }
  });

  test('an unexpected failure is 500 with a generic message, logged, and the server lives on', async () => {
    vi.spyOn(served.server, 'pools').mockRejectedValueOnce(new Error('backplane unreachable'));
    vi.spyOn(served.server, 'stats').mockImplementationOnce(() => {
      throw new Error('stats broke');
    });
    for (const path of ['/admin/pools', '/admin/stats']) {
      expect(refusal(await get(path))).toEqual({ status: 500, json: { error: 'internal error' } });
    }
    expect(errors).toEqual([
      expect.stringMatching(/^admin: GET \/admin\/pools failed: Error: backplane unreachable\n/),
      expect.stringMatching(/^admin: GET \/admin\/stats failed: Error: stats broke\n/),
    ]);
    expect((await get('/admin/stats')).status).toBe(200);
    vi.restoreAllMocks();
  });
});
