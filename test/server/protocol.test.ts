/**
 * The signalling server speaks protocol version 2 exactly: what a joiner and
 * the members already there receive, how `rtc:sdp` and `rtc:candidate` are
 * relayed, what a leave, a stopped pool and a closing server look like on the
 * wire. Raw `ws` clients on loopback, every frame recorded.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { CLOSE_CODES } from '../../src/server/index.js';
import { LIVENESS_MS, serverHarness } from '../support/server-client.js';
import { eventually, until } from '../support/wait.js';

const harness = serverHarness();

const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const answer = { type: 'answer', sdp: 'v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const candidate = {
  candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'abcd',
};

describe('joining', () => {
  test('rtc:joined carries client_id, the peers already there, their descriptions and the pool; they each get rtc:peer', async () => {
    const server = await harness.start();
    const ada = await harness.raw(server.url);
    const adaJoined = await ada.join('room');
    expect(adaJoined).toStrictEqual({
      client_id: expect.any(String),
      peers: [],
      descriptions: {},
      pool: 'room',
      resume: { token: expect.any(String), window_ms: 15_000 },
      answers_ping: true,
    });

    const bob = await harness.raw(server.url);
    const bobJoined = await bob.join('room');
    expect(bobJoined).toStrictEqual({
      client_id: expect.any(String),
      peers: [adaJoined.client_id],
      descriptions: { [adaJoined.client_id]: null },
      pool: 'room',
      resume: { token: expect.any(String), window_ms: 15_000 },
      answers_ping: true,
    });
    expect((await ada.next('rtc:peer')).data).toStrictEqual({ id: bobJoined.client_id });
    // Each member's resume token is its own secret.
    expect(bobJoined.resume?.token).not.toBe(adaJoined.resume?.token);

    const cid = await harness.raw(server.url);
    const cidJoined = await cid.join('room');
    expect(cidJoined.peers).toEqual([adaJoined.client_id, bobJoined.client_id]);
    expect(cidJoined.descriptions).toStrictEqual({ [adaJoined.client_id]: null, [bobJoined.client_id]: null });
    expect((await ada.next('rtc:peer')).data).toStrictEqual({ id: cidJoined.client_id });
    expect((await bob.next('rtc:peer')).data).toStrictEqual({ id: cidJoined.client_id });

    const ids = [adaJoined.client_id, bobJoined.client_id, cidJoined.client_id];
    expect(new Set(ids).size).toBe(3);
    expect((await server.pool('room'))?.map(({ id }) => id)).toEqual(ids);
    expect(await server.pools()).toEqual(['room']);

    // Nobody hears about itself, and nobody got anything else.
    await Promise.all([ada.sync(), bob.sync(), cid.sync()]);
    expect(ada.frames.map(({ type }) => type)).toEqual(['rtc:joined', 'rtc:peer', 'rtc:peer']);
    expect(bob.frames.map(({ type }) => type)).toEqual(['rtc:joined', 'rtc:peer']);
    expect(cid.frames.map(({ type }) => type)).toEqual(['rtc:joined']);
  });

  test('pools are separate: a join is announced only in its own pool', async () => {
    const server = await harness.start();
    const [red] = await harness.joined(server.url, 'red', 1);
    const blue = await harness.raw(server.url);
    const blueJoined = await blue.join('blue');
    expect(blueJoined.peers).toEqual([]);
    expect(blueJoined.pool).toBe('blue');
    await red?.client.sync();
    expect(red?.client.all('rtc:peer')).toEqual([]);
    expect((await server.pools()).sort()).toEqual(['blue', 'red']);
  });

  test('a pool named like an Object.prototype member is a pool like any other', async () => {
    const server = await harness.start();
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const [first, second] = await harness.joined(server.url, name, 2);
      expect(second?.client.all('rtc:joined')[0]?.data.peers).toEqual([first?.id]);
      expect((await first?.client.next('rtc:peer'))?.data).toEqual({ id: second?.id });
    }
    expect((await server.pools()).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
  });
});

describe('relaying', () => {
  test('rtc:sdp {to, description} reaches only its target, as rtc:sdp {peer: sender, description}', async () => {
    const server = await harness.start();
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    if (!ada || !bob || !cid) throw new Error('three members');

    ada.client.send('rtc:sdp', { to: bob.id, description: offer });
    expect((await bob.client.next('rtc:sdp')).data).toStrictEqual({ peer: ada.id, description: offer });
    bob.client.send('rtc:sdp', { to: ada.id, description: answer });
    expect((await ada.client.next('rtc:sdp')).data).toStrictEqual({ peer: bob.id, description: answer });

    await Promise.all([ada.client.sync(), bob.client.sync(), cid.client.sync()]);
    expect(cid.client.all('rtc:sdp')).toEqual([]);
    expect(ada.client.all('rtc:error')).toEqual([]);
    expect(bob.client.all('rtc:error')).toEqual([]);
  });

  test('rtc:candidate {for, candidate} reaches its target as {from: sender, candidate}; null (end of candidates) too', async () => {
    const server = await harness.start();
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    if (!ada || !bob || !cid) throw new Error('three members');

    ada.client.send('rtc:candidate', { for: bob.id, candidate });
    ada.client.send('rtc:candidate', { for: bob.id, candidate: null });
    bob.client.send('rtc:candidate', { for: ada.id, candidate: { candidate: '' } });
    expect((await bob.client.next('rtc:candidate')).data).toStrictEqual({ from: ada.id, candidate });
    expect((await bob.client.next('rtc:candidate')).data).toStrictEqual({ from: ada.id, candidate: null });
    expect((await ada.client.next('rtc:candidate')).data).toStrictEqual({ from: bob.id, candidate: { candidate: '' } });

    await cid.client.sync();
    expect(cid.client.all('rtc:candidate')).toEqual([]);
  });

  test('relays keep their order, per sender and target', async () => {
    const server = await harness.start();
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');
    const sent = Array.from({ length: 40 }, (_, index) => ({
      candidate: `candidate:${index} 1 udp 2122260223 127.0.0.1 ${50_000 + index} typ host`,
      sdpMid: '0',
    }));
    for (const one of sent) ada.client.send('rtc:candidate', { for: bob.id, candidate: one });
    await until(() => bob.client.all('rtc:candidate').length === sent.length, 'every candidate');
    expect(bob.client.all('rtc:candidate').map(({ data }) => data.candidate)).toEqual(sent);
  });
});

describe('leaving', () => {
  test("a leaver's peers get rtc:close {id, uid}; the pool goes on without it", async () => {
    const server = await harness.start({ resumeWindowMs: 300 });
    const seen: string[] = [];
    server.events$.subscribe((event) => seen.push(event.type));
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    if (!ada || !bob || !cid) throw new Error('three members');

    bob.client.socket.close(1000, 'bye');
    expect((await ada.client.next('rtc:close')).data).toStrictEqual({ id: bob.id, uid: bob.id });
    expect((await cid.client.next('rtc:close')).data).toStrictEqual({ id: bob.id, uid: bob.id });
    expect((await server.pool('room'))?.map(({ id }) => id)).toEqual([ada.id, cid.id]);

    // A dropped connection (no close handshake) is a leave too, once the resume window has passed.
    cid.client.socket.terminate();
    expect((await ada.client.next('rtc:close')).data).toStrictEqual({ id: cid.id, uid: cid.id });
    // bob's clean close left at once; cid's lost connection was kept for the window first.
    expect(seen.filter((type) => type === 'detach' || type === 'leave')).toEqual(['leave', 'detach', 'leave']);
    expect(server.stats().detached).toBe(0);

    // Relays to the one who left are refused now.
    ada.client.send('rtc:sdp', { to: bob.id, description: offer });
    expect((await ada.client.error()).reason).toBe('unknown-peer');
  });

  test('a public pool is forgotten when its last member leaves; joining again creates it afresh', async () => {
    const server = await harness.start();
    const [ada] = await harness.joined(server.url, 'room', 1);
    ada?.client.socket.close();
    await eventually(async () => (await server.pools()).length === 0, 'the empty pool forgotten');
    expect(await server.pool('room')).toBeUndefined();
    const [again] = await harness.joined(server.url, 'room', 1);
    expect(again?.client.all('rtc:joined')[0]?.data.peers).toEqual([]);
  });
});

describe('stopping', () => {
  test('stopPool: every member gets rtc:stop, then its socket closes with CLOSE_CODES.poolStopped; other pools go on', async () => {
    const server = await harness.start();
    const members = await harness.joined(server.url, 'doomed', 3);
    const [other] = await harness.joined(server.url, 'other', 1);
    const [otherPeer] = await harness.joined(server.url, 'other', 1);

    expect(await server.stopPool('doomed')).toBe(true);
    for (const { client } of members) {
      const ending = await client.ended();
      expect(ending.code).toBe(CLOSE_CODES.poolStopped);
      expect(ending.code).toBe(4000);
      // rtc:stop came last, with empty data; no rtc:close for the others was sent on the way out.
      expect(client.frames.at(-1)).toStrictEqual({ type: 'rtc:stop', data: {} });
      expect(client.all('rtc:close')).toEqual([]);
    }
    expect(await server.pools()).toEqual(['other']);
    expect(await server.pool('doomed')).toBeUndefined();
    expect(await server.stopPool('doomed')).toBe(false);
    expect(await server.stopPool('never-was')).toBe(false);

    other?.client.send('rtc:sdp', { to: otherPeer?.id, description: offer });
    expect((await otherPeer?.client.next('rtc:sdp'))?.data.peer).toBe(other?.id);
    expect(other?.client.all('rtc:stop')).toEqual([]);
  });

  test('the stopped pool can be joined again (public) by new connections', async () => {
    const server = await harness.start();
    await harness.joined(server.url, 'room', 2);
    await server.stopPool('room');
    const [fresh] = await harness.joined(server.url, 'room', 1);
    expect(fresh?.client.all('rtc:joined')[0]?.data.peers).toEqual([]);
  });

  test('server.close(): members get rtc:stop and close 1001, unjoined connections close 1001, the port closes', async () => {
    const server = await harness.start();
    const members = await harness.joined(server.url, 'room', 2);
    const [elsewhere] = await harness.joined(server.url, 'elsewhere', 1);
    const idle = await harness.raw(server.url);
    const { url } = server;

    await server.close();
    for (const { client } of [...members, ...(elsewhere ? [elsewhere] : [])]) {
      expect((await client.ended()).code).toBe(CLOSE_CODES.serverClosing);
      expect(client.frames.at(-1)).toStrictEqual({ type: 'rtc:stop', data: {} });
    }
    expect((await idle.ended()).code).toBe(1001);
    expect(idle.frames).toEqual([]);
    expect(await server.pools()).toEqual([]);

    const refused = await new Promise<string>((resolve) => {
      const probe = request(`${url}/`, () => resolve('answered'));
      probe.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      probe.end();
    });
    expect(refused).toBe('ECONNREFUSED');
    // Closing twice is harmless.
    await server.close();
  });

  test('close() does not wait for a peer that never answers the close handshake', async () => {
    const server = await harness.start();
    const mute = await frozenPeer(server.port);
    const members = await harness.joined(server.url, 'room', 1);
    try {
      const started = Date.now();
      await server.close();
      // ws alone would keep the socket (and the HTTP server) open for its 30 s close timeout.
      expect(Date.now() - started).toBeLessThan(2 * LIVENESS_MS);
      expect((await members[0]?.client.ended())?.code).toBe(1001);
      // Reading again, the peer finds the close frame it ignored, then the end of the connection.
      let cut = false;
      mute.on('close', () => {
        cut = true;
      });
      mute.resume();
      await until(() => cut, 'the frozen peer cut off', LIVENESS_MS);
    } finally {
      mute.destroy();
    }
  });
});

/** A TCP peer that completes the WebSocket handshake at /ws and then reads nothing ever again. */
async function frozenPeer(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a reset when it is cut off is expected
  await once(socket, 'connect');
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const [response] = (await once(socket, 'data')) as [Buffer];
  expect(String(response)).toMatch(/^HTTP\/1\.1 101 /);
  socket.pause();
  return socket;
}
