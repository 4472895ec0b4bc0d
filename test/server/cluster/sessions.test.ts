/**
 * Sessions kept in Redis, at the backplane's level (real redis-server): the
 * rules a takeover and the fence stand on, each checked on its own.
 */
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import type { LostMember } from '../../../src/server/backplane/presence.js';
import { createRedisBackplane, type RedisBackplane } from '../../../src/server/backplane/redis.js';
import { SCRIPTS } from '../../../src/server/backplane/redis-scripts.js';
import type { PoolEvent } from '../../../src/server/backplane/types.js';
import { tokenHash } from '../../../src/server/sessions.js';
import { redisForFile } from '../../support/redis.js';
import { until } from '../../support/wait.js';

const redis = redisForFile();

let prefixes = 0;
async function pair() {
  const prefix = `sessions${++prefixes}:`;
  const make = async () => {
    const made = await createRedisBackplane({
      url: redis.url,
      prefix,
      presenceTtlMs: 1000,
      presenceRefreshMs: 200,
      reapIntervalMs: 200,
    });
    return redis.closing(made);
  };
  const raw = redis.closing(new Redis(redis.url));
  return { a: await make(), b: await make(), prefix, raw };
}

const TOKEN = 'the-secret-token';
const join = (on: RedisBackplane, pool: string, id: string, windowMs = 15_000) =>
  on.join({ pool, id, maxPeers: 8, mustExist: false, session: { tokenHash: tokenHash(TOKEN), windowMs } });

async function listen(on: RedisBackplane, pool: string): Promise<PoolEvent[]> {
  const events: PoolEvent[] = [];
  await on.listen(pool, (event) => events.push(event));
  return events;
}

test('a takeover needs the token, raises the generation once per takeover, and is told to the pool as `moved`', async () => {
  const { a, b, prefix, raw } = await pair();
  const heard = await listen(a, 'room');
  const joined = await join(a, 'room', 'm');
  expect(joined).toMatchObject({ ok: true, gen: 1 });
  expect(await b.sessions.adopt('m', tokenHash('not-the-token'))).toBeUndefined();
  expect(await b.sessions.adopt('nobody', tokenHash(TOKEN))).toBeUndefined();
  const first = await b.sessions.adopt('m', tokenHash(TOKEN));
  expect(first).toMatchObject({ pool: 'room', joinSeq: 0, gen: 2, checkpoint: { sent: 0, received: 0, peers: [] } });
  expect(first?.checkpoint.at).toBe(joined.ok ? joined.at : '');
  const second = await a.sessions.adopt('m', tokenHash(TOKEN));
  expect(second?.gen).toBe(3);
  await until(() => heard.filter(({ kind }) => kind === 'moved').length === 2, 'both takeovers heard');
  expect(heard.map(({ kind }) => kind)).toEqual(['peer', 'moved', 'moved']);
  // Redis keeps the hash of the token, never the token.
  const record = await raw.hgetall(`${prefix}session:m`);
  expect(record.token).toBe(tokenHash(TOKEN));
  expect(Object.values(record)).not.toContain(TOKEN);
});

test('once a session has moved on, the old generation can neither relay, nor leave, nor checkpoint', async () => {
  const { a, b, prefix, raw } = await pair();
  const heard = await listen(b, 'room');
  await join(a, 'room', 'm');
  await join(b, 'room', 'peer');
  await b.sessions.adopt('m', tokenHash(TOKEN));
  const relay = { kind: 'relay' as const, to: 'peer', type: 'rtc:candidate' as const, data: { from: 'm' } };
  a.relay('room', relay, { id: 'm', gen: 1, n: 1 });
  b.relay('room', relay, { id: 'm', gen: 2, n: 2 });
  a.leave('room', 'm', 1);
  a.sessions.checkpoint('m', 1, { sent: 9, at: '1-0', received: 9, peers: [] });
  b.sessions.checkpoint('m', 2, { sent: 1, at: '2-0', received: 2, peers: ['peer'] });
  await until(() => heard.some(({ kind }) => kind === 'relay'), 'the relay of the holder');
  expect(await b.members('room')).toHaveLength(2);
  const record = await raw.hgetall(`${prefix}session:m`);
  expect(record).toMatchObject({ gen: '2', sent: '1', at: '2-0', recv: '2', peers: 'peer', owner: b.process });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const relays = heard.filter((event) => event.kind === 'relay');
  expect(relays.map((event) => event.kind === 'relay' && event.n)).toEqual([2]);
  expect(heard.some(({ kind }) => kind === 'close')).toBe(false);
});

test("a dead process's resumable member is kept for its window, then removed with `close`; one without a session at once", async () => {
  const { a, b, prefix, raw } = await pair();
  const heard = await listen(b, 'room');
  await join(a, 'room', 'kept', 600);
  await join(a, 'room', 'plain', 0);
  await a.join({ pool: 'room', id: 'unkept', maxPeers: 8, mustExist: false });
  const diedAt = Date.now();
  await raw.multi().del(`${prefix}presence:${a.process}`).eval(SCRIPTS.reap, 0, prefix).exec();
  a.abandon();
  await until(() => heard.filter(({ kind }) => kind === 'close').length === 2, 'the unresumable two closed');
  expect(await raw.zscore(`${prefix}detached`, 'kept')).not.toBeNull();
  expect((await b.members('room'))?.map(({ id }) => id)).toEqual(['kept']);
  await until(() => heard.filter(({ kind }) => kind === 'close').length === 3, 'the kept one closed', 5000);
  const closedAfter = Date.now() - diedAt;
  expect(closedAfter).toBeGreaterThanOrEqual(600);
  expect(await b.members('room')).toBeUndefined();
  expect(await raw.exists(`${prefix}session:kept`)).toBe(0);
});

test('a member kept after its process died is taken over by another process, and is not removed when its window ends', async () => {
  const { a, b, prefix, raw } = await pair();
  const heard = await listen(b, 'room');
  await join(a, 'room', 'm', 400);
  await raw.multi().del(`${prefix}presence:${a.process}`).eval(SCRIPTS.reap, 0, prefix).exec();
  a.abandon();
  expect(await b.sessions.adopt('m', tokenHash(TOKEN))).toMatchObject({ gen: 2 });
  expect(await raw.zscore(`${prefix}detached`, 'm')).toBeNull();
  await new Promise((resolve) => setTimeout(resolve, 800));
  expect((await b.members('room'))?.map(({ id }) => id)).toEqual(['m']);
  expect(heard.some(({ kind }) => kind === 'close')).toBe(false);
});

test('a process a session moved away from forgets it: when Redis loses its data, it does not put it back as its own', async () => {
  const prefix = `sessions${++prefixes}:`;
  const timing = { presenceTtlMs: 6000, reapIntervalMs: 200 };
  // `left` heartbeats every 100 ms, `taker` every 2 s: after the flush, `left` squares itself with Redis first.
  const left = redis.closing(await createRedisBackplane({ url: redis.url, prefix, ...timing, presenceRefreshMs: 100 }));
  const evicted: LostMember[] = [];
  const taker = redis.closing(
    await createRedisBackplane({
      url: redis.url,
      prefix,
      ...timing,
      presenceRefreshMs: 2000,
      onEvicted: (members) => evicted.push(...members),
    }),
  );
  const raw = redis.closing(new Redis(redis.url));
  const heard = await listen(left, 'room');
  await join(left, 'room', 'mover');
  expect(await taker.sessions.adopt('mover', tokenHash(TOKEN))).toMatchObject({ gen: 2 });
  await until(() => heard.some((event) => event.kind === 'moved'), 'the move heard where the session was');
  await raw.flushall();
  let owner: string | null = null;
  const ownerIs = async (process: string) => {
    owner = await raw.hget(`${prefix}members:room`, 'mover');
    return owner?.startsWith(`${process} `) ?? false;
  };
  const deadline = Date.now() + 8000;
  while (!(await ownerIs(taker.process)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // Put back by the process that holds it, never by the one it left (which would have the holder evict it).
  expect(owner).toMatch(new RegExp(`^${taker.process} `));
  expect(evicted).toEqual([]);
});

test('logRetentionMs must be a positive whole number of milliseconds', async () => {
  for (const logRetentionMs of [0, -1, 1.5, Number.NaN]) {
    await expect(createRedisBackplane({ url: redis.url, logRetentionMs })).rejects.toThrow(RangeError);
  }
});

test('maxInFlight must be a positive whole number', async () => {
  for (const maxInFlight of [0, -1, 1.5, Number.NaN]) {
    await expect(createRedisBackplane({ url: redis.url, maxInFlight })).rejects.toThrow(RangeError);
  }
});
