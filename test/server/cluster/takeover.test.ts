/**
 * A process dies under live calls and costs none. Three real server processes
 * share a real redis-server; clients are rtcpool's own `Signalling` (and
 * `Pool` on @roamhq/wrtc) given the list of every process's URL. One process
 * is killed with SIGKILL while its clients relay numbered frames and hold
 * peer connections: each client reconnects to another process and resumes
 * its session there, with the same id; nothing is lost or repeated either
 * way, the other members never hear a leave, and the peer connections are
 * the same ones, still connected, still negotiating.
 */
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Signalling } from '../../../src/signalling/index.js';
import type { ChannelLike } from '../../support/real-stacks.js';
import { collectMessages } from '../../support/real-stacks.js';
import { type RedisProcess, startRedis } from '../../support/redis.js';
import { kill, serverProcesses } from '../../support/server-processes.js';
import { oneToN, talkers, wsUrl } from '../../support/talker.js';
import { until } from '../../support/wait.js';
import { type WrtcMember, wrtcMember } from '../../support/wrtc-member.js';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
  // A list of URLs is opened with the global WebSocket, which Node 20 does not have: `ws`'s fits.
  vi.stubGlobal('WebSocket', WebSocket);
});
afterAll(async () => {
  vi.unstubAllGlobals();
  await redis?.stop();
});
const startServer = serverProcesses(() => redis.url);

const closing: Array<{ close(): void }> = [];
afterEach(() => {
  for (const one of closing.splice(0)) one.close();
});
const { talker, pump } = talkers();

test('SIGKILL under live signalling: each client resumes on another process, nothing lost or repeated, no leave', async () => {
  const [a, b, c] = await Promise.all([startServer(), startServer(), startServer()]);
  if (!a || !b || !c) throw new Error('servers did not start');
  const pool = 'frames';
  // The doomed process is first in one client's list; the other client is on a process that lives.
  const heartbeat = { intervalMs: 1000, timeoutMs: 1000 };
  const moving = await talker([c.url, b.url, a.url], pool, { heartbeat });
  const staying = await talker([a.url], pool, { heartbeat });
  await until(() => moving.signalling.state === 'online', 'online');
  // 40 frames/s each way: under the server's sustained limit, however long the test runs.
  const frames = pump(moving, staying, 25);
  await until(() => staying.heard.length >= 20 && moving.heard.length >= 20, 'frames flowing');
  const states: string[] = [];
  moving.signalling.state$.subscribe((state) => states.push(state));
  const killedAt = Date.now();
  await kill(c);
  await until(() => states.includes('offline'), 'the connection lost');
  await until(() => moving.signalling.state === 'online', 'resumed on another process', 15_000);
  const resumedMs = Date.now() - killedAt;
  console.info(`SIGKILL → resumed on another process in ${resumedMs} ms`);
  expect(resumedMs).toBeLessThan(5000);
  const after = staying.heard.length;
  await until(() => staying.heard.length >= after + 20, 'frames flowing after the move');
  await frames.stop();
  expect(staying.heard).toEqual(oneToN(frames.sent.byOne));
  expect(moving.heard).toEqual(oneToN(frames.sent.byOther));
  expect(moving.joins).toBe(1);
  expect(staying.closes).toEqual([]);
  expect(moving.signalling.closed).toBe(false);
});

test('SIGKILL under a live call: the same peer connections stay up and renegotiate through the new process', async () => {
  const [a, b, c] = await Promise.all([startServer(), startServer(), startServer()]);
  if (!a || !b || !c) throw new Error('servers did not start');
  const member = (name: string, urls: string[]): WrtcMember => {
    const joined = wrtcMember(name, new Signalling.websocket(urls.map(wsUrl)));
    closing.push(joined.pool);
    return joined;
  };
  const ada = member('ada', [a.url]);
  const bob = member('bob', [c.url, b.url]);
  const adaId = await ada.pool.join('call');
  const bobId = await bob.pool.join('call');
  await until(
    () => [ada, bob].every(({ pcs }) => pcs.length === 1 && pcs[0]?.connectionState === 'connected'),
    'the call connected',
    30_000,
  );
  const [bobPc] = bob.pcs;
  await kill(c);
  await until(() => bob.signalling.state === 'offline', 'bob offline');
  await until(() => bob.signalling.state === 'online', 'bob resumed elsewhere', 15_000);
  // A change that needs a new offer and answer, through the process bob has moved to.
  const channel = (await bob.pool.getConnection(adaId)?.dataChannel('after-the-move')) as unknown as ChannelLike;
  await until(
    () => ada.incoming.some(({ channel: far }) => far.label === 'after-the-move' && far.readyState === 'open'),
    'a channel negotiated after the move',
    15_000,
  );
  const far = ada.incoming.find(({ channel: one }) => one.label === 'after-the-move')?.channel as ChannelLike;
  const heard = collectMessages(far);
  channel.send('still the same call');
  await until(() => heard.length === 1, 'the message');
  expect(bob.pcs).toEqual([bobPc]);
  expect(bobPc?.connectionState).toBe('connected');
  expect(ada.pcs).toHaveLength(1);
  expect(bob.pool.id).toBe(bobId);
  expect(ada.events.filter((event) => event.type === 'close')).toEqual([]);
  expect(bob.events.filter((event) => event.type === 'close' || event.type === 'error')).toEqual([]);
});
