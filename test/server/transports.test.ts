/**
 * The two transports on one HTTP server: socket.io clients and raw WebSocket
 * clients share pools and relay to each other; either transport can be turned
 * off or moved; and the server can live on an `http.Server` of the caller's,
 * leaving its routes (and, on close, the server itself) alone.
 */
import { once } from 'node:events';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { serverHarness, upgradeStatus } from '../support/server-client.js';
import { until } from '../support/wait.js';

const harness = serverHarness();

const offer = { type: 'offer', sdp: 'v=0\r\n' };
const answer = { type: 'answer', sdp: 'v=0\r\n' };
const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0' };

/** GETs `url` and resolves with the status and body. */
function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('socket.io and the raw WebSocket together', () => {
  test.each([['websocket'], ['polling']] as const)(
    'a socket.io client (%s) and a raw client join one pool and relay both ways; events are named by type with the data as the one argument',
    async (transport) => {
      const server = await harness.start();
      const viaIo = await harness.io(server.url, { transports: [transport] });
      const ioJoined = await viaIo.join('mixed');
      expect(ioJoined).toStrictEqual({
        client_id: expect.any(String),
        peers: [],
        descriptions: {},
        pool: 'mixed',
        resume: { token: expect.any(String), window_ms: 15_000 },
        answers_ping: true,
      });

      const raw = await harness.raw(server.url);
      const rawJoined = await raw.join('mixed');
      expect(rawJoined.peers).toEqual([ioJoined.client_id]);
      expect((await viaIo.next('rtc:peer')).data).toStrictEqual({ id: rawJoined.client_id });

      raw.send('rtc:sdp', { to: ioJoined.client_id, description: offer });
      expect((await viaIo.next('rtc:sdp')).data).toStrictEqual({ peer: rawJoined.client_id, description: offer });
      viaIo.send('rtc:sdp', { to: rawJoined.client_id, description: answer });
      expect((await raw.next('rtc:sdp')).data).toStrictEqual({ peer: ioJoined.client_id, description: answer });
      viaIo.send('rtc:candidate', { for: rawJoined.client_id, candidate });
      viaIo.send('rtc:candidate', { for: rawJoined.client_id, candidate: null });
      expect((await raw.next('rtc:candidate')).data).toStrictEqual({ from: ioJoined.client_id, candidate });
      expect((await raw.next('rtc:candidate')).data).toStrictEqual({ from: ioJoined.client_id, candidate: null });
      raw.send('rtc:candidate', { for: ioJoined.client_id, candidate });
      expect((await viaIo.next('rtc:candidate')).data).toStrictEqual({ from: rawJoined.client_id, candidate });

      server.describe(rawJoined.client_id, { via: 'ws' });
      expect((await viaIo.next('rtc:describe')).data).toStrictEqual({
        id: rawJoined.client_id,
        description: { via: 'ws' },
      });

      expect(viaIo.frames.map(({ type }) => type)).toEqual([
        'rtc:joined',
        'rtc:peer',
        'rtc:sdp',
        'rtc:candidate',
        'rtc:describe',
      ]);
      expect(viaIo.argumentCounts).toEqual(viaIo.frames.map(() => 1));

      viaIo.close();
      expect((await raw.next('rtc:close')).data).toStrictEqual({ id: ioJoined.client_id, uid: ioJoined.client_id });
    },
  );

  test('socket.io clients get the same rtc:error reasons, and keep working', async () => {
    const server = await harness.start();
    const client = await harness.io(server.url);
    const cases: Array<[string, unknown, string]> = [
      ['rtc:describe', { id: 'x', description: 1 }, 'forbidden-event'],
      ['rtc:hello', {}, 'unknown-event'],
      ['rtc:join', 'room', 'malformed-frame'],
      ['rtc:join', { pool: 7 }, 'invalid-field'],
      ['rtc:sdp', { to: 'x', description: offer }, 'not-joined'],
    ];
    for (const [type, data, reason] of cases) {
      client.send(type, data);
      expect((await client.error()).reason).toBe(reason);
    }
    const joined = await client.join('room');
    client.send('rtc:candidate', { for: joined.client_id, candidate: null });
    expect((await client.error()).reason).toBe('unknown-peer');
  });

  test('a socket.io event over maxMessageBytes disconnects that client; its peers get rtc:close once the resume window ends', async () => {
    // engine.io reports an oversized packet as a transport error, which the server cannot tell from a lost
    // connection: the session is kept for the resume window like any other lost one, then leaves.
    const server = await harness.start({ maxMessageBytes: 1024, resumeWindowMs: 300 });
    const seen: string[] = [];
    server.events$.subscribe((event) => seen.push(event.type));
    const raw = await harness.raw(server.url);
    const rawJoined = await raw.join('room');
    const big = await harness.io(server.url);
    const bigJoined = await big.join('room');
    big.send('rtc:sdp', { to: rawJoined.client_id, description: { type: 'offer', sdp: 'a'.repeat(600) } });
    expect((await raw.next('rtc:sdp')).data.peer).toBe(bigJoined.client_id);
    big.send('rtc:sdp', { to: rawJoined.client_id, description: { type: 'offer', sdp: 'a'.repeat(2048) } });
    await big.ended();
    expect((await raw.next('rtc:close')).data.id).toBe(bigJoined.client_id);
    expect(seen.filter((type) => type === 'detach' || type === 'leave')).toEqual(['detach', 'leave']);
    expect(server.stats().detached).toBe(0);
    expect(raw.all('rtc:sdp')).toHaveLength(1);
  });

  test('stopPool and close reach socket.io members: rtc:stop, then the server disconnects them', async () => {
    const server = await harness.start();
    const stopped = await harness.io(server.url);
    await stopped.join('doomed');
    const closing = await harness.io(server.url);
    await closing.join('other');

    await server.stopPool('doomed');
    expect((await stopped.ended()).reason).toBe('io server disconnect');
    expect(stopped.frames.at(-1)).toStrictEqual({ type: 'rtc:stop', data: {} });
    expect(closing.closed).toBe(false);

    await server.close();
    expect((await closing.ended()).reason).toBe('io server disconnect');
    expect(closing.frames.at(-1)).toStrictEqual({ type: 'rtc:stop', data: {} });
  });
});

describe('turning a transport off, or moving it', () => {
  test('websocket: false: the upgrade at /ws is refused, socket.io still works', async () => {
    const server = await harness.start({ websocket: false });
    expect(await upgradeStatus(server.url)).toBe(404);
    const client = await harness.io(server.url);
    expect((await client.join('room')).pool).toBe('room');
  });

  test('socketio: false: socket.io cannot connect, the raw WebSocket still works', async () => {
    const server = await harness.start({ socketio: false });
    const refused = harness.ioStart(server.url);
    await until(() => refused.connectError !== undefined, 'the socket.io refusal');
    expect(await upgradeStatus(server.url, { path: '/socket.io/?EIO=4&transport=websocket' })).toBe(404);
    expect((await fetchText(`${server.url}/socket.io/?EIO=4&transport=polling`)).status).toBe(404);
    const raw = await harness.raw(server.url);
    expect((await raw.join('room')).pool).toBe('room');
  });

  test('custom paths: each transport answers at its own path only', async () => {
    const server = await harness.start({ websocket: { path: '/signal/' }, socketio: { path: '/rt' } });
    expect(await upgradeStatus(server.url)).toBe(404);
    expect(await upgradeStatus(server.url, { path: '/elsewhere' })).toBe(404);
    const raw = await harness.raw(server.url, { path: '/signal?token=1' });
    const rawJoined = await raw.join('room');
    const viaIo = await harness.io(server.url, { path: '/rt' });
    expect((await viaIo.join('room')).peers).toEqual([rawJoined.client_id]);
    const wrongPath = harness.ioStart(server.url);
    await until(() => wrongPath.connectError !== undefined, 'socket.io refused at the default path');
  });

  test('a plain HTTP request to a server of ours gets 404', async () => {
    const server = await harness.start();
    expect((await fetchText(`${server.url}/`)).status).toBe(404);
    expect((await fetchText(`${server.url}/ws`)).status).toBe(404);
  });
});

describe('attached to an http.Server of the caller', () => {
  /**
   * A server with a route of its own and, with `ownUpgrades`, a WebSocket
   * endpoint of its own at /mine (upgrades elsewhere are the signalling server's).
   */
  async function appServer(ownUpgrades: boolean): Promise<{ http: Server; url: string }> {
    const server = createServer((request, response) => {
      if (request.url === '/health') response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      else response.writeHead(418).end('teapot');
    });
    const mine = new WebSocketServer({ noServer: true });
    mine.on('connection', (socket) => socket.send(JSON.stringify({ type: 'mine', data: {} })));
    if (ownUpgrades) {
      server.on('upgrade', (request, socket, head) => {
        if (request.url === '/mine') mine.handleUpgrade(request, socket, head, (ws) => mine.emit('connection', ws));
      });
    }
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    harness.later(async () => {
      mine.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return { http: server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  test('its routes and its own upgrades still answer; both transports work; close() leaves it running', async () => {
    const app = await appServer(true);
    const server = await harness.start({ server: app.http });
    expect(server.httpServer).toBe(app.http);
    expect(server.url).toBe(app.url);
    expect(server.port).toBe((app.http.address() as AddressInfo).port);

    expect(await fetchText(`${app.url}/health`)).toEqual({ status: 200, body: 'ok' });
    expect((await fetchText(`${app.url}/other`)).status).toBe(418);
    const own = await harness.raw(app.url, { path: '/mine' });
    await own.next('mine');

    const raw = await harness.raw(app.url);
    const rawJoined = await raw.join('room');
    const viaIo = await harness.io(app.url);
    expect((await viaIo.join('room')).peers).toEqual([rawJoined.client_id]);

    await server.close();
    expect((await raw.ended()).code).toBe(1001);
    await viaIo.ended();
    expect(app.http.listening).toBe(true);
    expect(own.closed).toBe(false);
    expect(await fetchText(`${app.url}/health`)).toEqual({ status: 200, body: 'ok' });
    const ownAgain = await harness.raw(app.url, { path: '/mine' });
    await ownAgain.next('mine');
  });

  test('after close(), the server is as it was: neither transport answers, its own requests still do', async () => {
    const app = await appServer(false);
    const listeners = { request: app.http.listeners('request'), upgrade: app.http.listeners('upgrade') };
    const server = await harness.start({ server: app.http });
    const member = await harness.io(app.url);
    await member.join('room');
    await server.close();
    await member.ended();

    // Its own request listener is back, alone; no upgrade listener is left, so Node refuses upgrades itself.
    expect(app.http.listeners('request')).toEqual(listeners.request);
    expect(app.http.listeners('upgrade')).toEqual(listeners.upgrade);
    expect(await fetchText(`${app.url}/health`)).toEqual({ status: 200, body: 'ok' });
    expect((await fetchText(`${app.url}/socket.io/?EIO=4&transport=polling`)).status).toBe(418);
    await expect(harness.raw(app.url)).rejects.toThrow(/did not open/);
    const late = harness.ioStart(app.url);
    await until(() => late.connectError !== undefined, 'the late socket.io client refused');
    const polling = harness.ioStart(app.url, { transports: ['polling'] });
    await until(() => polling.connectError !== undefined, 'the late polling client refused');
    expect(server.stats().connections).toBe(0);
  });
});
