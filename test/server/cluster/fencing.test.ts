/**
 * A process that is merely slow (its event loop frozen: here SIGSTOP, then
 * SIGCONT) must neither have its members taken over twice nor evicted while
 * it is alive. Two real server processes on a real redis-server; clients on
 * rtcpool's own `Signalling` relay numbered frames both ways.
 *
 * - Paused briefly, its client moved on: the client resumes on the other
 *   process; when the paused one wakes and reads the frames still waiting on
 *   the old connection, the backplane refuses them (the session is another
 *   generation now), so none arrives twice; nobody hears a leave.
 * - Paused longer than the presence TTL, its client staying: the reaper keeps
 *   its member for the resume window instead of removing it; when the process
 *   wakes it takes the member back; the connection, the id and every frame
 *   carry on, and nobody hears a leave.
 */
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { WebSocket } from 'ws';
import { type RedisProcess, startRedis } from '../../support/redis.js';
import { kill, serverProcesses } from '../../support/server-processes.js';
import { oneToN, talkers } from '../../support/talker.js';
import { until } from '../../support/wait.js';

/** The defaults of createRedisBackplane, which `redis: url` uses. */
const PRESENCE_TTL_MS = 10_000;
const REAP_INTERVAL_MS = 1000;

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
  vi.stubGlobal('WebSocket', WebSocket); // a list of URLs is opened with the global WebSocket (Node 20 has none)
});
afterAll(async () => {
  vi.unstubAllGlobals();
  await redis?.stop();
});
const startServer = serverProcesses(() => redis.url);
const { talker, pump } = talkers();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** 20 frames/s each way: what piles up during an 8 s pause (160) stays within the server's burst (200). */
const EVERY_MS = 50;

test('paused while its client moves on: the late frames it reads are refused, none arrives twice, no leave', async () => {
  const [slow, live] = await Promise.all([startServer(), startServer()]);
  if (!slow || !live) throw new Error('servers did not start');
  const moving = await talker([slow.url, live.url], 'paused', {
    heartbeat: { intervalMs: 300, timeoutMs: 300 },
    reconnect: { connectTimeoutMs: 1000 },
  });
  const staying = await talker([live.url], 'paused');
  const frames = pump(moving, staying, EVERY_MS);
  await until(() => staying.heard.length >= 20, 'frames flowing');
  const states: string[] = [];
  moving.signalling.state$.subscribe((state) => states.push(state));
  slow.child.kill('SIGSTOP');
  try {
    await until(() => states.includes('offline'), 'the silence noticed');
    await until(() => moving.signalling.state === 'online', 'resumed on the live process', 15_000);
    const after = staying.heard.length;
    await until(() => staying.heard.length >= after + 20, 'frames flowing after the move');
  } finally {
    slow.child.kill('SIGCONT');
  }
  // The woken process reads what waited on the old connection, and hears that the session moved.
  await until(() => slow.stderr.join('').includes('relay refused'), 'the late frames refused', 10_000);
  await frames.stop();
  expect(staying.heard).toEqual(oneToN(frames.sent.byOne));
  expect(moving.heard).toEqual(oneToN(frames.sent.byOther));
  expect([moving.joins, staying.joins]).toEqual([1, 1]);
  expect([...moving.closes, ...staying.closes]).toEqual([]);
  // Gone before the next test, whose reaping must be the next test's processes' own.
  await Promise.all([kill(slow, 'SIGTERM'), kill(live, 'SIGTERM')]);
});

test('paused longer than the presence TTL: its member is kept, taken back when it wakes; nothing lost, no leave', async () => {
  const [slow, live] = await Promise.all([startServer(), startServer()]);
  if (!slow || !live) throw new Error('servers did not start');
  // No client heartbeat: the client keeps its connection to the paused process, as a client would through a GC pause.
  const sleeper = await talker([slow.url], 'asleep', { heartbeat: false });
  const waking = await talker([live.url], 'asleep', { heartbeat: false });
  // Slower: what the client sends over a pause of the TTL and two reaps (about 13 s) reaches the woken process at
  // once, and must stay under the server's burst of 200.
  const frames = pump(sleeper, waking, 2 * EVERY_MS);
  await until(() => waking.heard.length >= 20, 'frames flowing');
  slow.child.kill('SIGSTOP');
  try {
    await until(
      () => live.stderr.join('').includes('reaped a dead process'),
      'the paused process reaped',
      PRESENCE_TTL_MS + 2 * REAP_INTERVAL_MS + 5000,
    );
    await sleep(REAP_INTERVAL_MS); // and a reap more: the kept member is not removed while its window lasts
  } finally {
    slow.child.kill('SIGCONT');
  }
  await until(() => slow.stderr.join('').includes('took back what was still its own'), 'the member taken back', 10_000);
  await frames.stop();
  expect(waking.heard).toEqual(oneToN(frames.sent.byOne));
  expect(sleeper.heard).toEqual(oneToN(frames.sent.byOther));
  expect([sleeper.joins, waking.joins]).toEqual([1, 1]);
  expect([...sleeper.closes, ...waking.closes]).toEqual([]);
  expect(sleeper.signalling.state).toBe('online');
  expect(slow.stderr.join('')).toMatch(/took back what was still its own \{ moved: 0, gone: 0,/);
});
