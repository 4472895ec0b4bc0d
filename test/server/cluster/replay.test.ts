/**
 * Pool events replay: a process whose Redis connections are cut (a TCP proxy
 * between it and a real redis-server) misses nothing. While it is cut off for
 * 2 s its pools get joins, leaves, describes and relays from another process;
 * once it is back it reads what it missed from the pools' logs, so it applies
 * every event exactly once, in the order every other process saw.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { createRedisBackplane, type RedisBackplane } from '../../../src/server/backplane/redis.js';
import type { PoolEvent } from '../../../src/server/backplane/types.js';
import { type RedisProcess, startRedis } from '../../support/redis.js';
import { type RawClient, serverHarness } from '../../support/server-client.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { until } from '../../support/wait.js';

let redis: RedisProcess;
const proxies: TcpProxy[] = [];
const open: RedisBackplane[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((backplane) => backplane.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});
afterAll(async () => {
  await redis?.stop();
});

const OUTAGE_MS = 2000;
let prefixes = 0;

async function proxy(): Promise<TcpProxy> {
  const started = await TcpProxy.start(redis.port);
  proxies.push(started);
  return started;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a process cut off from Redis for 2 s applies every event of its pools once, in order, when it is back', async () => {
  const prefix = `replay${++prefixes}:`;
  const path = await proxy();
  const logged: string[] = [];
  // The default presence TTL (10 s) outlasts the outage: the process is not taken for dead.
  const cutOff = await createRedisBackplane({
    url: `redis://127.0.0.1:${path.port}`,
    prefix,
    logger: { log: (_level, _area, message, fields) => logged.push(`${message} ${JSON.stringify(fields ?? {})}`) },
  });
  const other = await createRedisBackplane({ url: redis.url, prefix });
  open.push(cutOff, other);
  const heard = new Map<string, PoolEvent[]>();
  const reference = new Map<string, PoolEvent[]>();
  for (const pool of ['room1', 'room2']) {
    heard.set(pool, []);
    reference.set(pool, []);
    await cutOff.listen(pool, (event) => heard.get(pool)?.push(event));
    await other.listen(pool, (event) => reference.get(pool)?.push(event));
    await cutOff.join({ pool, id: `c-${pool}`, maxPeers: 16, mustExist: false });
  }
  await until(() => reference.get('room2')?.length === 1, 'both joins heard');

  path.cut();
  const cutAt = Date.now();
  // Everything a pool can get, from the other process, spread over the outage.
  let step = 0;
  while (Date.now() - cutAt < OUTAGE_MS - 200) {
    const pool = step % 2 === 0 ? 'room1' : 'room2';
    const id = `o${step}`;
    await other.join({ pool, id, maxPeers: 16, mustExist: false });
    await other.describe(pool, id, { step });
    for (let i = 0; i < 3; i++) {
      other.relay(pool, { kind: 'relay', to: `c-${pool}`, type: 'rtc:candidate', data: { from: id, candidate: i } });
    }
    if (step % 3 === 2) other.leave(pool, `o${step - 2}`);
    step += 1;
    await sleep(100);
  }
  // The cut-off process relays too: its relay waits for Redis and goes out after it is back.
  cutOff.relay('room1', {
    kind: 'relay',
    to: 'o0',
    type: 'rtc:candidate',
    data: { from: 'c-room1', candidate: 'late' },
  });
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
  const during = reference.get('room1')?.length ?? 0;
  path.restore();

  const expected = (pool: string) => (reference.get(pool) ?? []).length;
  await until(
    () => ['room1', 'room2'].every((pool) => heard.get(pool)?.length === expected(pool) && expected(pool) > during / 2),
    'the cut-off process caught up',
    15_000,
  );
  // The late relay is in both, after everything the outage brought.
  await until(() => reference.get('room1')?.at(-1)?.kind === 'relay', 'the late relay');
  await until(() => heard.get('room1')?.length === expected('room1'), 'the late relay heard');
  for (const pool of ['room1', 'room2']) {
    const events = heard.get(pool) ?? [];
    // Same events, same log ids, same order: each exactly once.
    expect(events).toEqual(reference.get(pool));
    expect(new Set(events.map(({ at }) => at)).size).toBe(events.length);
  }
  expect(step).toBeGreaterThanOrEqual(10);
  const caughtUp = logged.find((line) => line.startsWith('backplane: caught up on pool events'));
  expect(caughtUp).toBeDefined();
  // What the outage brought was read from the logs, not heard live.
  expect(JSON.parse(caughtUp?.slice(caughtUp.indexOf('{')) ?? '{}').missed).toBeGreaterThan(10 * 4);
});

const harness = serverHarness();

test('members on a server cut off from Redis for 2 s see every event of their pool once, in order', async () => {
  const path = await proxy();
  const far = await harness.start({ redis: { url: `redis://127.0.0.1:${path.port}`, logRetentionMs: 30_000 } });
  const near = await harness.start({ redis: redis.url });
  const pool = `members${++prefixes}`;
  const watcher = await harness.raw(far.url);
  const watcherId = (await watcher.join(pool)).client_id;
  const witness = await harness.raw(near.url);
  await witness.join(pool);
  await watcher.next('rtc:peer');

  path.cut();
  const cutAt = Date.now();
  const comers: Array<{ comer: RawClient; id: string }> = [];
  for (let i = 0; i < 6; i++) {
    const comer = await harness.raw(near.url);
    const id = (await comer.join(pool)).client_id;
    near.describe(id, { name: `comer ${i}` });
    comer.send('rtc:candidate', {
      for: watcherId,
      candidate: { candidate: `candidate:${i} 1 udp 1 198.18.0.1 9 typ host`, sdpMid: '0' },
    });
    comers.push({ comer, id });
    if (i % 2 === 1) comers[i - 1]?.comer.socket.close(1000); // a clean close: a leave
    await sleep(250);
  }
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
  path.restore();

  // What the witness (on a process that was never cut off) was told about the comers is the order of the pool.
  const story = (frames: Array<{ type: string; data: Record<string, unknown> }>) =>
    frames
      .filter(({ type }) => ['rtc:peer', 'rtc:describe', 'rtc:close'].includes(type))
      .map(({ type, data }) => `${type} ${String(data.id)}`)
      .filter((line) => comers.some(({ id }) => line.endsWith(id)));
  await until(() => story(watcher.frames).length === story(witness.frames).length, 'the watcher caught up', 15_000);
  await until(() => watcher.all('rtc:candidate').length === 6, 'every relay to the watcher', 15_000);
  expect(story(witness.frames)).toHaveLength(6 + 6 + 3);
  expect(story(watcher.frames)).toEqual(story(witness.frames));
  expect(watcher.all('rtc:candidate').map(({ data }) => data.from)).toEqual(comers.map(({ id }) => id));
  expect(watcher.closed).toBe(false);
});
