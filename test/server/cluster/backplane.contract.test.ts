/**
 * The behaviour every Backplane owes the hub, run against the in-process
 * MemoryBackplane and against RedisBackplane as two processes (two instances,
 * two pairs of connections) sharing pools through a real redis-server. Where
 * the test says `a` and `b`, MemoryBackplane has one instance playing both.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { MemoryBackplane } from '../../../src/server/backplane/memory.js';
import { createRedisBackplane, type RedisBackplane } from '../../../src/server/backplane/redis.js';
import type { Backplane, PoolEvent } from '../../../src/server/backplane/types.js';
import { type RedisProcess, startRedis } from '../../support/redis.js';
import { eventually, until } from '../../support/wait.js';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

interface Pair {
  a: Backplane;
  b: Backplane;
}

let prefixes = 0;
const open: Backplane[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((backplane) => backplane.close()));
});

/** Fast presence so that nothing here waits long; each test gets its own key prefix. */
async function redisBackplane(url: string, prefix: string): Promise<RedisBackplane> {
  const backplane = await createRedisBackplane({
    url,
    prefix,
    presenceTtlMs: 1000,
    presenceRefreshMs: 200,
    reapIntervalMs: 200,
  });
  open.push(backplane);
  return backplane;
}

const kinds: Array<{ name: string; pair: () => Promise<Pair> }> = [
  {
    name: 'MemoryBackplane',
    pair: async () => {
      const memory = new MemoryBackplane();
      open.push(memory);
      return { a: memory, b: memory };
    },
  },
  {
    name: 'RedisBackplane, two processes',
    pair: async () => {
      const prefix = `contract${++prefixes}:`;
      return { a: await redisBackplane(redis.url, prefix), b: await redisBackplane(redis.url, prefix) };
    },
  },
];

/** Collects what `backplane` delivers for `pool`. */
/** The events, without `at` (their place in a log, which only a backplane with one gives): the contract is the rest. */
async function listen(backplane: Backplane, pool: string): Promise<PoolEvent[]> {
  const events: PoolEvent[] = [];
  await backplane.listen(pool, ({ at: _at, ...event }) => events.push(event));
  return events;
}

const byId = <T extends { id: string }>(list: T[]) => [...list].sort((x, y) => x.id.localeCompare(y.id));

describe.each(kinds)('$name', ({ pair }) => {
  test('a join sees the members before it, as of the sequence number before its own peer event', async () => {
    const { a, b } = await pair();
    const events = await listen(b, 'room');
    const first = await a.join({ pool: 'room', id: 'x', maxPeers: 8, mustExist: false });
    await a.describe('room', 'x', { name: 'x' });
    const second = await b.join({ pool: 'room', id: 'y', maxPeers: 8, mustExist: false });
    expect(first).toMatchObject({ ok: true, seq: expect.any(Number), members: [] });
    if (!first.ok || !second.ok) throw new Error('joins failed');
    expect(second.members).toEqual([{ id: 'x', description: { name: 'x' } }]);
    expect(second.seq).toBe(first.seq + 2);
    await until(() => events.length === 3, 'three events');
    expect(events).toEqual([
      { kind: 'peer', seq: first.seq + 1, id: 'x' },
      { kind: 'describe', seq: first.seq + 2, id: 'x', description: { name: 'x' } },
      { kind: 'peer', seq: second.seq + 1, id: 'y' },
    ]);
    expect(byId((await a.members('room')) ?? [])).toEqual([
      { id: 'x', description: { name: 'x' } },
      { id: 'y', description: null },
    ]);
  });

  test('concurrent joins from both processes never exceed maxPeers', async () => {
    const { a, b } = await pair();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).join({ pool: 'race', id: `m${i}`, maxPeers: 7, mustExist: false }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(7);
    expect(outcomes.filter((outcome) => !outcome.ok)).toEqual(
      Array.from({ length: 33 }, () => ({ ok: false, reason: 'pool-full' })),
    );
    expect(await b.members('race')).toHaveLength(7);
    // Every admitted join saw a different sequence number: one order.
    const seqs = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.seq] : []));
    expect(new Set(seqs).size).toBe(7);
  });

  test('a private pool admits only once made, lives on empty, and is gone once stopped', async () => {
    const { a, b } = await pair();
    expect(await b.join({ pool: 'private', id: 'x', maxPeers: 8, mustExist: true })).toEqual({
      ok: false,
      reason: 'pool-not-found',
    });
    expect(await a.pools()).not.toContain('private');
    await a.createPool('private');
    expect(await b.pools()).toContain('private');
    expect(await b.join({ pool: 'private', id: 'x', maxPeers: 8, mustExist: true })).toMatchObject({ ok: true });
    b.leave('private', 'x');
    await eventually(async () => (await a.members('private'))?.length === 0, 'the leave');
    expect(await a.pools()).toContain('private');
    expect(await a.stopPool('private')).toBe(true);
    expect(await b.pools()).not.toContain('private');
    expect(await b.members('private')).toBeUndefined();
    expect(await b.stopPool('private')).toBe(false);
  });

  test('describe, relays and stop reach the other process in the order they were made', async () => {
    const { a, b } = await pair();
    await b.createPool('ordered');
    const events = await listen(b, 'ordered');
    const x = await a.join({ pool: 'ordered', id: 'x', maxPeers: 8, mustExist: true });
    await b.join({ pool: 'ordered', id: 'y', maxPeers: 8, mustExist: true });
    if (!x.ok) throw new Error('join failed');
    const made: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      if (i % 10 === 5) {
        made.push(`describe:${i}`);
        void a.describe('ordered', 'x', { step: i });
      } else {
        made.push(`relay:${i}`);
        a.relay('ordered', { kind: 'relay', to: 'y', type: 'rtc:candidate', data: { from: 'x', candidate: { i } } });
      }
    }
    expect(await a.stopPool('ordered')).toBe(true);
    await until(() => events.some((event) => event.kind === 'stop'), 'the stop');
    const seen = events.flatMap((event) => {
      if (event.kind === 'relay') return [`relay:${(event.data.candidate as { i: number }).i}`];
      if (event.kind === 'describe') return [`describe:${(event.description as { step: number }).step}`];
      return [event.kind];
    });
    expect(seen).toEqual(['peer', 'peer', ...made, 'stop']);
    const seqs = events.flatMap((event) => ('seq' in event ? [event.seq] : []));
    expect(seqs).toEqual(seqs.map((_, i) => x.seq + 1 + i));
    expect(await a.members('ordered')).toBeUndefined();
    expect(await a.describe('ordered', 'x', null)).toBe(false);
  });

  test('the last leave forgets a pool nobody made; describe of a non-member is false', async () => {
    const { a, b } = await pair();
    const events = await listen(b, 'passing');
    await a.join({ pool: 'passing', id: 'x', maxPeers: 8, mustExist: false });
    await b.join({ pool: 'passing', id: 'y', maxPeers: 8, mustExist: false });
    a.leave('passing', 'x');
    a.leave('passing', 'nobody');
    await until(() => events.some((event) => event.kind === 'close'), 'the close');
    expect(byId((await b.members('passing')) ?? [])).toEqual([{ id: 'y', description: null }]);
    expect(await a.describe('passing', 'x', { late: true })).toBe(false);
    b.leave('passing', 'y');
    await until(() => events.filter((event) => event.kind === 'close').length === 2, 'both closes');
    expect(await a.members('passing')).toBeUndefined();
    expect(await b.pools()).not.toContain('passing');
    expect(events.map((event) => event.kind)).toEqual(['peer', 'peer', 'close', 'close']);
    b.unlisten('passing');
    await a.join({ pool: 'passing', id: 'z', maxPeers: 8, mustExist: false });
    expect(events).toHaveLength(4);
  });
});
