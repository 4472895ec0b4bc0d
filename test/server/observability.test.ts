/**
 * What the server reports about itself: `events$` (connect, join, relay,
 * reject, describe, leave, stop, disconnect, in the order they happen) and
 * `stats()` (running totals and current counts), across both transports.
 */
import { describe, expect, test } from 'vitest';
import type { ServerEvent, ServerStats } from '../../src/server/index.js';
import { serverHarness } from '../support/server-client.js';
import { until } from '../support/wait.js';

const harness = serverHarness();

const offer = { type: 'offer', sdp: 'v=0\r\n' };

describe('events$ and stats()', () => {
  test('report a whole session, event by event, and the counters match', async () => {
    const server = await harness.start();
    const events: ServerEvent[] = [];
    let completed = false;
    server.events$.subscribe({
      next: (event) => events.push(event),
      complete: () => {
        completed = true;
      },
    });
    const zero: ServerStats = {
      connections: 0,
      endpoints: 0,
      detached: 0,
      pools: 0,
      joins: 0,
      leaves: 0,
      resumes: 0,
      relays: 0,
      rejections: 0,
      pauses: 0,
      pausedMs: 0,
      rejectionsByReason: {},
    };
    expect(server.stats()).toEqual(zero);
    const expected: ServerEvent[] = [];
    const caughtUp = () => until(() => events.length === expected.length, `${expected.length} events`);

    const ada = await harness.raw(server.url);
    const adaId = (await ada.join('obs')).client_id;
    const bob = await harness.io(server.url);
    const bobId = (await bob.join('obs')).client_id;
    const stranger = await harness.raw(server.url);
    expected.push(
      { type: 'connect', transport: 'websocket' },
      { type: 'join', clientId: adaId, pool: 'obs', requested: 'obs', identity: undefined },
      { type: 'connect', transport: 'socket.io' },
      { type: 'join', clientId: bobId, pool: 'obs', requested: 'obs', identity: undefined },
      { type: 'connect', transport: 'websocket' },
    );
    await caughtUp();
    expect(server.stats()).toEqual({ ...zero, connections: 3, endpoints: 2, pools: 1, joins: 2 });

    ada.send('rtc:sdp', { to: bobId, description: offer });
    await bob.next('rtc:sdp');
    bob.send('rtc:candidate', { for: adaId, candidate: null });
    await ada.next('rtc:candidate');
    stranger.send('rtc:sdp', { to: adaId, description: offer });
    const notJoined = await stranger.error();
    ada.sendRaw('{');
    const malformed = await ada.error();
    expect(server.describe(adaId, { seat: 1 })).toBe(true);
    await bob.next('rtc:describe');
    expected.push(
      { type: 'relay', event: 'rtc:sdp', from: adaId, to: bobId, pool: 'obs' },
      { type: 'relay', event: 'rtc:candidate', from: bobId, to: adaId, pool: 'obs' },
      { type: 'reject', clientId: null, reason: 'not-joined', message: notJoined.message },
      { type: 'reject', clientId: adaId, reason: 'malformed-frame', message: malformed.message },
      { type: 'describe', clientId: adaId, pool: 'obs' },
    );
    await caughtUp();

    bob.close();
    await ada.next('rtc:close');
    expected.push(
      { type: 'leave', clientId: bobId, pool: 'obs' },
      { type: 'disconnect', clientId: bobId, why: 'closed' },
    );
    await caughtUp();

    const cid = await harness.raw(server.url);
    const cidId = (await cid.join('doomed')).client_id;
    expect(server.stats()).toEqual({
      connections: 3,
      endpoints: 2,
      detached: 0,
      resumes: 0,
      pools: 2,
      joins: 3,
      leaves: 1,
      relays: 2,
      rejections: 2,
      pauses: 0,
      pausedMs: 0,
      rejectionsByReason: { 'not-joined': 1, 'malformed-frame': 1 },
    });
    await server.stopPool('doomed');
    await cid.ended();
    // A stopped pool's members are disconnected, not counted as leaves: `stop` says the whole pool went.
    expected.push(
      { type: 'connect', transport: 'websocket' },
      { type: 'join', clientId: cidId, pool: 'doomed', requested: 'doomed', identity: undefined },
      { type: 'disconnect', clientId: cidId, why: 'closed' },
      { type: 'stop', pool: 'doomed', members: 1 },
    );
    await caughtUp();
    expect(server.stats()).toEqual({
      connections: 2,
      endpoints: 1,
      detached: 0,
      resumes: 0,
      pools: 1,
      joins: 3,
      leaves: 1,
      relays: 2,
      rejections: 2,
      pauses: 0,
      pausedMs: 0,
      rejectionsByReason: { 'not-joined': 1, 'malformed-frame': 1 },
    });

    await server.close();
    expected.push(
      { type: 'disconnect', clientId: adaId, why: 'closed' },
      { type: 'stop', pool: 'obs', members: 1 },
      { type: 'disconnect', clientId: null, why: 'closed' },
    );
    expect(events).toEqual(expected);
    expect(completed).toBe(true);
    expect(server.stats()).toMatchObject({ connections: 0, endpoints: 0, pools: 0, joins: 3, leaves: 1 });
  });

  test('rejections are counted by reason, whatever the transport', async () => {
    const server = await harness.start({ pools: 'private', maxPeersPerPool: 1 });
    await server.createPool('solo');
    const viaWs = await harness.raw(server.url);
    const viaIo = await harness.io(server.url);
    viaWs.send('rtc:join', { pool: 'nowhere' });
    viaIo.send('rtc:join', { pool: 'nowhere' });
    viaIo.send('rtc:describe', { id: 'x', description: null });
    await viaWs.error();
    await viaWs.join('solo');
    viaIo.send('rtc:join', { pool: 'solo' });
    viaWs.send('rtc:join', { pool: 'solo' });
    viaWs.send('rtc:sdp', { to: 'nobody', description: offer });
    await until(() => viaIo.all('rtc:error').length === 3 && viaWs.all('rtc:error').length === 3, 'six errors');
    expect(server.stats().rejections).toBe(6);
    expect(server.stats().rejectionsByReason).toEqual({
      'pool-not-found': 2,
      'forbidden-event': 1,
      'pool-full': 1,
      'already-joined': 1,
      'unknown-peer': 1,
    });
  });

  test('a subscriber late to the party sees only what happens after it subscribed', async () => {
    const server = await harness.start();
    await harness.joined(server.url, 'room', 1);
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const [second] = await harness.joined(server.url, 'room', 1);
    expect(events.map(({ type }) => type)).toEqual(['connect', 'join']);
    expect(events[1]).toMatchObject({ clientId: second?.id });
  });
});
