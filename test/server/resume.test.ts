/**
 * Sessions that outlive a lost connection: `rtc:resume` within the window
 * brings an endpoint back with its id, its pool and every frame either side
 * sent meanwhile; anything else (a wrong token, an unknown id, too late, a
 * clean close first) is refused with one reason, and the window's end is a
 * leave like any other.
 */
import { describe, expect, test } from 'vitest';
import type { ServerEvent } from '../../src/server/index.js';
import { type RawClient, serverHarness } from '../support/server-client.js';
import { until } from '../support/wait.js';

const harness = serverHarness();
const offer = { type: 'offer', sdp: 'v=0\r\n' } as const;

/** Frames a client got since its `rtc:joined` (what `rtc:resume` reports as `received`). */
const receivedSinceJoined = (client: RawClient) =>
  client.frames.length + client.syncAnswers.length - 1 - client.all('rtc:resumed').length;

async function pair(options: Parameters<typeof harness.start>[0] = {}) {
  const server = await harness.start({ resumeWindowMs: 5_000, ...options });
  const events: ServerEvent[] = [];
  server.events$.subscribe((event) => events.push(event));
  const ada = await harness.raw(server.url);
  const adaJoined = await ada.join('room');
  const bob = await harness.raw(server.url);
  const bobJoined = await bob.join('room');
  await ada.next('rtc:peer');
  const token = bobJoined.resume?.token;
  if (!token) throw new Error('rtc:joined granted no resume token');
  return { server, events, ada, adaId: adaJoined.client_id, bob, bobId: bobJoined.client_id, token };
}

const detached = (events: ServerEvent[], id: string) =>
  events.some((event) => event.type === 'detach' && event.clientId === id);

describe('resuming a session', () => {
  test('a lost connection is resumed on a new one: same id, nothing lost either way, the peers hear nothing', async () => {
    const { server, events, ada, adaId, bob, bobId, token } = await pair();
    bob.send('rtc:sdp', { to: adaId, description: offer });
    await ada.next('rtc:sdp');
    const got = receivedSinceJoined(bob);
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');

    // Meanwhile: a relay and a description for bob are held for him.
    ada.send('rtc:candidate', { for: bobId, candidate: null });
    ada.send('rtc:sdp', { to: bobId, description: { type: 'answer', sdp: 'v=0\r\n' } });
    await ada.sync();
    expect(server.describe(bobId, { seat: 3 })).toBe(true);
    expect(server.describe(adaId, { seat: 1 })).toBe(true);

    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: got });
    const resumed = await again.next('rtc:resumed');
    // bob sent one frame (the sdp) since rtc:joined.
    expect(resumed.data).toStrictEqual({ client_id: bobId, received: 1 });
    await until(() => again.frames.length >= 4, 'the held frames');
    expect(again.frames.slice(1)).toEqual([
      { type: 'rtc:candidate', data: { from: adaId, candidate: null } },
      { type: 'rtc:sdp', data: { peer: adaId, description: { type: 'answer', sdp: 'v=0\r\n' } } },
      { type: 'rtc:describe', data: { id: adaId, description: { seat: 1 } } },
    ]);
    // The session goes on: relays both ways, and the peer never saw it leave.
    again.send('rtc:candidate', { for: adaId, candidate: null });
    expect((await ada.next('rtc:candidate')).data).toStrictEqual({ from: bobId, candidate: null });
    expect(ada.all('rtc:close')).toEqual([]);
    expect(ada.all('rtc:peer')).toHaveLength(1);
    expect(server.stats()).toMatchObject({ endpoints: 2, detached: 0, resumes: 1, leaves: 0 });
    expect(events.filter((event) => event.type === 'resume')).toEqual([
      { type: 'resume', clientId: bobId, pool: 'room' },
    ]);
  });

  test('frames the client says it missed are sent again, in order', async () => {
    const { server, ada, bob, bobId, token, events } = await pair();
    for (let i = 0; i < 5; i++) {
      ada.send('rtc:candidate', { for: bobId, candidate: { candidate: `c${i}`, sdpMid: '0' } });
    }
    await until(() => bob.all('rtc:candidate').length === 5, 'five candidates');
    const got = receivedSinceJoined(bob);
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');
    // Pretend the last two never arrived (they were in flight when the connection died).
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: got - 2 });
    await again.next('rtc:resumed');
    await until(() => again.all('rtc:candidate').length === 2, 'the two missed candidates');
    expect(again.all('rtc:candidate').map(({ data }) => data.candidate.candidate)).toEqual(['c3', 'c4']);
  });

  test('a wrong token, an unknown id and a claim of frames never sent are refused alike', async () => {
    const { server, bob, bobId, token, events, ada } = await pair();
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');

    const thief = await harness.raw(server.url);
    thief.send('rtc:resume', { id: bobId, token: `${token.slice(0, -1)}x`, received: 0 });
    const wrongToken = await thief.error();
    thief.send('rtc:resume', { id: 'no-such-endpoint', token, received: 0 });
    const unknownId = await thief.error();
    expect(wrongToken).toStrictEqual({ reason: 'resume-refused', message: unknownId.message });
    expect(unknownId.reason).toBe('resume-refused');
    // The guess cost bob nothing: his session is still there for him.
    expect(server.stats().detached).toBe(1);
    expect(ada.all('rtc:close')).toEqual([]);

    // Claiming more frames than were sent is a broken client: refused, and the session is over.
    const confused = await harness.raw(server.url);
    confused.send('rtc:resume', { id: bobId, token, received: 1_000 });
    expect((await confused.error()).reason).toBe('resume-refused');
    expect((await ada.next('rtc:close')).data).toStrictEqual({ id: bobId, uid: bobId });
  });

  test('after the window the session leaves; a late resume is refused', async () => {
    const { server, ada, bob, bobId, token } = await pair({ resumeWindowMs: 150 });
    bob.socket.terminate();
    expect((await ada.next('rtc:close')).data).toStrictEqual({ id: bobId, uid: bobId });
    const late = await harness.raw(server.url);
    late.send('rtc:resume', { id: bobId, token, received: 0 });
    expect((await late.error()).reason).toBe('resume-refused');
    expect(server.stats()).toMatchObject({ endpoints: 1, detached: 0, leaves: 1 });
  });

  test('a clean close is a leave at once, not a pause', async () => {
    const { server, ada, bob, bobId, token, events } = await pair();
    bob.socket.close(1000, 'bye');
    expect((await ada.next('rtc:close')).data).toStrictEqual({ id: bobId, uid: bobId });
    expect(detached(events, bobId)).toBe(false);
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: 0 });
    expect((await again.error()).reason).toBe('resume-refused');
  });

  test('a resume while the old connection still looks alive takes the session over (4001 for the old one)', async () => {
    const { server, ada, adaId, bob, bobId, token } = await pair();
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: receivedSinceJoined(bob) });
    await again.next('rtc:resumed');
    expect((await bob.ended()).code).toBe(4001);
    ada.send('rtc:candidate', { for: bobId, candidate: null });
    expect((await again.next('rtc:candidate')).data).toStrictEqual({ from: adaId, candidate: null });
    expect(bob.all('rtc:candidate')).toEqual([]);
    expect(ada.all('rtc:close')).toEqual([]);
    expect(server.stats()).toMatchObject({ connections: 2, endpoints: 2, resumes: 1 });
  });

  test('rtc:resume on a connection that has joined is refused as already-joined', async () => {
    const { bob, bobId, token } = await pair();
    bob.send('rtc:resume', { id: bobId, token, received: 0 });
    expect((await bob.error()).reason).toBe('already-joined');
  });

  test('a pong proves delivery: frames before it are no longer held, so claiming to have missed them is refused', async () => {
    const { server, ada, bob, bobId, token, events } = await pair({ heartbeat: { intervalMs: 30, timeoutMs: 5_000 } });
    ada.send('rtc:candidate', { for: bobId, candidate: null });
    await bob.next('rtc:candidate');
    const pingsBefore = bob.pings;
    // Two pings: the second goes out after the first's pong, so it acknowledges everything sent by then.
    await until(() => bob.pings >= pingsBefore + 2, 'two ping rounds');
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: 0 });
    expect((await again.error()).reason).toBe('resume-refused');
    expect((await ada.next('rtc:close')).data).toStrictEqual({ id: bobId, uid: bobId });
  });

  test('with resumeWindowMs: 0 there is no grant, and a lost connection leaves at once', async () => {
    const server = await harness.start({ resumeWindowMs: 0 });
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');
    expect(bob.client.all('rtc:joined')[0]?.data.resume).toBeUndefined();
    bob.client.socket.terminate();
    expect((await ada.client.next('rtc:close')).data).toStrictEqual({ id: bob.id, uid: bob.id });
  });

  test('rtc:ping is answered with rtc:pong, before joining too; in a session the ping counts, the pong does not', async () => {
    const server = await harness.start({ resumeWindowMs: 5_000 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const bob = await harness.raw(server.url);
    bob.send('rtc:ping', {});
    expect((await bob.next('rtc:pong')).data).toStrictEqual({});
    const joined = await bob.join('room');
    expect(joined.answers_ping).toBe(true);
    const ada = await harness.raw(server.url);
    await ada.join('room');
    await bob.next('rtc:peer');
    bob.send('rtc:ping', {});
    await bob.next('rtc:pong');
    bob.send('rtc:candidate', { for: 'nobody', candidate: null });
    await bob.next('rtc:error');
    bob.socket.terminate();
    await until(() => detached(events, joined.client_id), 'the session kept');
    const again = await harness.raw(server.url);
    // Claim nothing arrived: the server had the ping and the refused candidate (2 frames); of its own frames, only
    // rtc:peer is the session's, and it alone is sent again (the pong and the error answered the old connection).
    again.send('rtc:resume', { id: joined.client_id, token: joined.resume?.token, received: 0 });
    expect((await again.next('rtc:resumed')).data).toStrictEqual({ client_id: joined.client_id, received: 2 });
    await again.next('rtc:peer');
    again.send('rtc:ping', {});
    await again.next('rtc:pong');
    expect(again.frames.map(({ type }) => type)).toEqual(['rtc:resumed', 'rtc:peer', 'rtc:pong']);
  });

  test("a ping's count lets the server let go of frames: a resume that needs them again is refused", async () => {
    const { server, events, ada, bob, bobId, token } = await pair();
    ada.send('rtc:candidate', { for: bobId, candidate: null });
    await bob.next('rtc:candidate');
    bob.send('rtc:ping', { received: 1 });
    await bob.next('rtc:pong');
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobId, token, received: 0 });
    expect((await again.next('rtc:error')).data).toMatchObject({ reason: 'resume-refused' });
    expect((await ada.next('rtc:close')).data).toMatchObject({ id: bobId });
  });

  test('socket.io: a lost transport keeps the session, and a new socket.io connection resumes it', async () => {
    const server = await harness.start({ resumeWindowMs: 5_000 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const ada = await harness.raw(server.url);
    const adaId = (await ada.join('room')).client_id;
    const bob = await harness.io(server.url);
    const joined = await bob.join('room');
    // Cut the transport underneath socket.io, as a network failure would.
    const engine = bob.socket.io.engine;
    engine.transport.close();
    await until(() => detached(events, joined.client_id), 'the session kept');
    ada.send('rtc:candidate', { for: joined.client_id, candidate: null });
    const again = await harness.io(server.url);
    again.send('rtc:resume', { id: joined.client_id, token: joined.resume?.token, received: 0 });
    expect((await again.next('rtc:resumed')).data).toStrictEqual({ client_id: joined.client_id, received: 0 });
    expect((await again.next('rtc:candidate')).data).toStrictEqual({ from: adaId, candidate: null });
  });

  test('a session joined over WebSocket resumes over socket.io: frames missed before and after the loss arrive', async () => {
    const { server, events, ada, adaId, bob, bobId, token } = await pair();
    const before = { candidate: 'candidate:1 1 udp 1 198.18.0.1 9 typ host', sdpMid: '0' };
    ada.send('rtc:candidate', { for: bobId, candidate: before });
    await bob.next('rtc:candidate');
    const got = receivedSinceJoined(bob);
    bob.socket.terminate();
    await until(() => detached(events, bobId), 'the session kept');
    ada.send('rtc:sdp', { to: bobId, description: offer });
    await ada.sync();

    const again = await harness.io(server.url);
    // Claim the candidate never arrived: it was sent while attached, the offer while detached.
    again.send('rtc:resume', { id: bobId, token, received: got - 1 });
    await again.next('rtc:resumed');
    expect((await again.next('rtc:candidate')).data).toStrictEqual({ from: adaId, candidate: before });
    expect((await again.next('rtc:sdp')).data).toStrictEqual({ peer: adaId, description: offer });
  });
});
