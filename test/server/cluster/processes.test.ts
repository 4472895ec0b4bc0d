/**
 * Three real server processes sharing one pool through a real redis-server;
 * real Pools on @roamhq/wrtc, one per process, mesh across them. One process
 * is killed (SIGKILL: no goodbye) and its client, which knows no other
 * process, does not come back: the others' peers get `rtc:close` for its
 * endpoint within presenceTtlMs + reapIntervalMs (10 s + 1 s by default) plus
 * the resume window (shortened to 1 s here) plus one more reap, and the pool
 * carries on: a newcomer on a surviving process meshes with the rest.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ChannelLike, collectMessages } from '../../support/real-stacks.js';
import { type RedisProcess, startRedis } from '../../support/redis.js';
import { kill, serverProcesses } from '../../support/server-processes.js';
import { until } from '../../support/wait.js';
import { type WrtcMember, wrtcMembersOverWebSocket } from '../../support/wrtc-member.js';

/** The defaults of createRedisBackplane, which `redis: url` uses. */
const PRESENCE_TTL_MS = 10_000;
const REAP_INTERVAL_MS = 1000;
/** The servers' resumeWindowMs here: a dead process's member is kept this long for a resume elsewhere. */
const RESUME_WINDOW_MS = 1000;

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
// After hooks run last-registered first: the servers stop before Redis does.
const startServer = serverProcesses(() => redis.url, { RESUME_WINDOW_MS: String(RESUME_WINDOW_MS) });

type Member = WrtcMember;

const member = wrtcMembersOverWebSocket();

const connected = (one: Member) => one.pcs.filter((pc) => pc.connectionState === 'connected').length;
const closedIds = (one: Member) =>
  one.events.flatMap((event) => (event.type === 'close' && event.connection ? [event.connection.id] : []));

test('peers on three processes mesh; a killed process is closed for the others in time and the pool carries on', async () => {
  const [a, b, c] = await Promise.all([startServer(), startServer(), startServer()]);
  if (!a || !b || !c) throw new Error('servers did not start');
  const ada = member('ada', a.url);
  const bob = member('bob', b.url);
  const cid = member('cid', c.url);
  const adaId = await ada.pool.join('mesh');
  const bobId = await bob.pool.join('mesh');
  const cidId = await cid.pool.join('mesh');
  const all = [ada, bob, cid];
  await until(
    () => all.every(({ pcs }) => pcs.length === 2 && pcs.every((pc) => pc.connectionState === 'connected')),
    'the three-process mesh connected',
    30_000,
  );
  expect(ada.pool.connections.map(({ id }) => id).sort()).toEqual([bobId, cidId].sort());

  const killedAt = Date.now();
  await kill(c);
  await until(
    () => closedIds(ada).includes(cidId) && closedIds(bob).includes(cidId),
    'rtc:close for the killed process its endpoint',
    PRESENCE_TTL_MS + REAP_INTERVAL_MS + RESUME_WINDOW_MS + REAP_INTERVAL_MS + 5000,
  );
  const delay = Date.now() - killedAt;
  console.info(`SIGKILLed process reaped: its endpoint closed at its peers after ${delay} ms`);
  // The last heartbeat was at most one refresh (1 s) before the kill; then the member waited out its window.
  expect(delay).toBeGreaterThanOrEqual(PRESENCE_TTL_MS - 1000 - 200 + RESUME_WINDOW_MS);
  // Slack for a loaded 2-core CI machine: timers, the hub and the Pool all run late there.
  expect(delay).toBeLessThanOrEqual(PRESENCE_TTL_MS + REAP_INTERVAL_MS + RESUME_WINDOW_MS + REAP_INTERVAL_MS + 2500);
  expect(ada.pool.connections.map(({ id }) => id)).toEqual([bobId]);
  expect(bob.pool.connections.map(({ id }) => id)).toEqual([adaId]);

  // The pool carries on: a newcomer on a surviving process sees exactly the survivors and meshes with them.
  const eve = member('eve', a.url);
  await eve.pool.join('mesh');
  expect(eve.pool.connections.map(({ id }) => id).sort()).toEqual([adaId, bobId].sort());
  await until(
    () => eve.pcs.length === 2 && eve.pcs.every((pc) => pc.connectionState === 'connected'),
    'the newcomer connected to both survivors',
    30_000,
  );
  const channel = (await eve.pool.getConnection(bobId)?.dataChannel('after')) as unknown as ChannelLike;
  await until(
    () => bob.incoming.some(({ channel: far }) => far.label === 'after' && far.readyState === 'open'),
    'the channel',
  );
  const far = bob.incoming.find(({ channel: one }) => one.label === 'after')?.channel as ChannelLike;
  const heard = collectMessages(far);
  channel.send('still here');
  await until(() => heard.length === 1, 'the message');
  expect(heard).toEqual(['still here']);
  for (const one of [ada, bob, eve]) expect(one.events.filter((event) => event.type === 'error')).toEqual([]);
  // Every survivor's connections to the others are up: the kill cost nothing but the killed one's endpoint.
  await until(() => [ada, bob, eve].every((one) => connected(one) === 2), 'two live connections at every survivor');
  expect(a.stderr.join('') + b.stderr.join('')).toMatch(/reaped a dead process/);
});
