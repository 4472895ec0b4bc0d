/**
 * The limits that keep one connection from costing the server: the
 * per-connection rate limit, the heartbeat that drops silent connections and
 * the join timeout. The rate limit's exact arithmetic runs on a fake clock
 * (the `now` option); the heartbeat and the join timeout run on the real one,
 * with small settings and generous liveness bounds.
 */
import { describe, expect, test } from 'vitest';
import { CLOSE_CODES, type ServerEvent } from '../../src/server/index.js';
import { TokenBucket } from '../../src/server/rate.js';
import { type RawClient, serverHarness } from '../support/server-client.js';
import { until } from '../support/wait.js';

const harness = serverHarness();

describe('TokenBucket', () => {
  test('burst messages at once are ok; then burst more are dropped (told), and only then is it abuse', () => {
    const bucket = new TokenBucket({ perSecond: 5, burst: 3 }, 0);
    const verdicts = Array.from({ length: 8 }, () => bucket.take(0));
    expect(verdicts).toEqual(['ok', 'ok', 'ok', 'drop', 'drop', 'drop', 'abuse', 'abuse']);
  });

  test('with burst 1 a sender is still told once before it is cut off', () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual(['ok', 'drop', 'abuse']);
  });

  test('tokens refill at perSecond, capped at the burst; a sender at the rate is never dropped', () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 2 }, 0);
    // One message every 100 ms is exactly 10/s: forever fine.
    for (let t = 0; t < 10_000; t += 100) expect(bucket.take(t)).toBe('ok');
    // A long pause refills only up to the burst.
    const later = 1_000_000;
    expect([bucket.take(later), bucket.take(later), bucket.take(later)]).toEqual(['ok', 'ok', 'drop']);
    // The debt refills too: a sender that slows down is forgiven.
    expect(bucket.take(later + 400)).toBe('ok');
  });
});

/** A clock that only moves when told to. */
function fakeClock() {
  const clock = { now: 0 };
  return { clock, now: () => clock.now };
}

describe('rateLimit', () => {
  test('on a still clock: burst messages pass, the next burst are dropped with rate-limited, then the connection closes 4029', async () => {
    const { now } = fakeClock();
    const server = await harness.start({ rateLimit: { perSecond: 5, burst: 5 }, now });
    const [target] = await harness.joined(server.url, 'room', 1);
    const flooder = await harness.raw(server.url);
    const joined = await flooder.join('room'); // the join is the first of five tokens

    for (let i = 0; i < 30; i++) flooder.send('rtc:candidate', { for: target?.id, candidate: null });
    const ending = await flooder.ended();
    expect(ending.code).toBe(CLOSE_CODES.rateLimited);
    expect(ending.code).toBe(4029);
    // Four relays got through, five were refused with a reason, then the sixth excess message closed it.
    expect(flooder.all('rtc:error').map(({ data }) => data.reason)).toEqual(Array(5).fill('rate-limited'));
    expect((await target?.client.next('rtc:close'))?.data.id).toBe(joined.client_id);
    expect(target?.client.all('rtc:candidate')).toHaveLength(4);
    expect(server.stats().rejectionsByReason['rate-limited']).toBe(5);
  });

  test('a sender that slows down after being limited is not disconnected', async () => {
    const { clock, now } = fakeClock();
    const server = await harness.start({ rateLimit: { perSecond: 5, burst: 5 }, now });
    const [target] = await harness.joined(server.url, 'room', 1);
    const sender = await harness.raw(server.url);
    await sender.join('room');
    for (let i = 0; i < 7; i++) sender.send('rtc:candidate', { for: target?.id, candidate: null });
    await until(() => sender.all('rtc:error').length === 3, 'three rate-limited errors');
    expect(target?.client.all('rtc:candidate')).toHaveLength(4);

    // A second later the debt of three is repaid and two tokens are back.
    clock.now += 1000;
    for (let i = 0; i < 2; i++) sender.send('rtc:candidate', { for: target?.id, candidate: null });
    await until(() => target?.client.all('rtc:candidate').length === 6, 'two more relays');
    // Over the rate again: dropped and answered, but not the end.
    sender.send('rtc:candidate', { for: target?.id, candidate: null });
    await until(() => sender.all('rtc:error').length === 4, 'a fourth rate-limited error');
    expect(sender.all('rtc:error').map(({ data }) => data.reason)).toEqual(Array(4).fill('rate-limited'));
    expect(target?.client.all('rtc:candidate')).toHaveLength(6);
    expect(sender.closed).toBe(false);
  });

  test('on the real clock, a persistent flood is closed with 4029 while a calm neighbour is untouched', async () => {
    const server = await harness.start({ rateLimit: { perSecond: 5, burst: 5 } });
    const [calm, flooder] = await harness.joined(server.url, 'room', 2);
    if (!calm || !flooder) throw new Error('two members');
    const flood = setInterval(() => {
      for (let i = 0; i < 10 && !flooder.client.closed; i++) {
        flooder.client.send('rtc:candidate', { for: calm.id, candidate: null });
      }
    }, 1);
    try {
      expect((await flooder.client.ended()).code).toBe(CLOSE_CODES.rateLimited);
    } finally {
      clearInterval(flood);
    }
    expect(flooder.client.all('rtc:error').length).toBeGreaterThan(0);
    expect(flooder.client.all('rtc:error').every(({ data }) => data.reason === 'rate-limited')).toBe(true);
    expect((await calm.client.next('rtc:close')).data.id).toBe(flooder.id);
    expect(calm.client.closed).toBe(false);
    await calm.client.sync();
  });
});

/** Resolves once `client` has answered `count` more pings from the server. */
function pings(client: RawClient, count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const onPing = () => {
      seen += 1;
      if (seen < count) return;
      client.socket.off('ping', onPing);
      resolve();
    };
    client.socket.on('ping', onPing);
  });
}

/**
 * Small enough to see a drop quickly, large enough that a loaded machine (the
 * clients and the server share one event loop here) never stalls a healthy
 * client past the timeout.
 */
const heartbeat = { intervalMs: 50, timeoutMs: 600 };

describe('heartbeat', () => {
  test('a client that stops answering pings is dropped and, after the resume window, its peers get rtc:close; a normal client stays', async () => {
    const server = await harness.start({ heartbeat, resumeWindowMs: 200 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const [steady] = await harness.joined(server.url, 'room', 1);
    const silent = await harness.raw(server.url, { autoPong: false });
    const silentId = (await silent.join('room')).client_id;
    if (!steady) throw new Error('a member');

    // Dropped within timeoutMs + intervalMs in principle; the bound here is generous.
    expect((await steady.client.next('rtc:close', 5_000)).data).toStrictEqual({ id: silentId, uid: silentId });
    expect((await silent.ended()).code).toBe(1006); // terminated: no close handshake for a dead peer
    expect(events).toContainEqual({ type: 'disconnect', clientId: silentId, why: 'heartbeat' });
    const kept = events.findIndex((event) => event.type === 'detach' && event.clientId === silentId);
    const left = events.findIndex((event) => event.type === 'leave' && event.clientId === silentId);
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(left).toBeGreaterThan(kept);

    // The steady client answered pings throughout; many more intervals than the timeout later it is still here.
    await pings(steady.client, Math.ceil((2 * heartbeat.timeoutMs) / heartbeat.intervalMs));
    expect(steady.client.closed).toBe(false);
    expect((await server.pool('room'))?.map(({ id }) => id)).toEqual([steady.id]);
    await steady.client.sync();
  });

  test('messages count as signs of life: a client that never pongs but keeps talking stays', async () => {
    const server = await harness.start({ heartbeat });
    const talker = await harness.raw(server.url, { autoPong: false });
    await talker.join('room');
    // Answer each ping with a message (an unknown event, answered with rtc:error) rather than a pong.
    talker.socket.on('ping', () => talker.send('rtc:still-here', {}));
    await pings(talker, Math.ceil((2 * heartbeat.timeoutMs) / heartbeat.intervalMs));
    expect(talker.closed).toBe(false);
    expect(server.stats().endpoints).toBe(1);
  });

  test('an unjoined silent connection is dropped too', async () => {
    const server = await harness.start({ heartbeat });
    const silent = await harness.raw(server.url, { autoPong: false });
    await silent.ended();
    expect(server.stats().connections).toBe(0);
  });
});

describe('joinTimeoutMs', () => {
  test('a connection that has not joined in time is closed with 4008; one that joined stays', async () => {
    const server = await harness.start({ heartbeat: { intervalMs: 50, timeoutMs: 10_000 }, joinTimeoutMs: 200 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const member = await harness.raw(server.url);
    await member.join('room');
    const idle = await harness.raw(server.url);

    const ending = await idle.ended();
    expect(ending.code).toBe(CLOSE_CODES.joinTimeout);
    expect(ending.code).toBe(4008);
    expect(events).toContainEqual({ type: 'disconnect', clientId: null, why: 'join-timeout' });

    await pings(member, 10);
    expect(member.closed).toBe(false);
    await member.sync();
  });

  test('a refused join does not stop the clock: the connection is still closed with 4008', async () => {
    const server = await harness.start({
      pools: 'private',
      heartbeat: { intervalMs: 50, timeoutMs: 10_000 },
      joinTimeoutMs: 200,
    });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'nowhere' });
    expect((await client.error()).reason).toBe('pool-not-found');
    expect((await client.ended()).code).toBe(4008);
  });
});
