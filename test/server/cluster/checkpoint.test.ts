/**
 * A session's checkpoint keeps up with its pool's log, at the hub's level
 * (two hubs, each on its own RedisBackplane, one real redis-server). A
 * member that gets no frames while the rest of its pool is busy must still
 * be resumable on another process after the log has been trimmed past its
 * last frame: its acknowledgements move its checkpoint to where the log
 * stands, not only to its last frame.
 */
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import { parseClientEvent } from '../../../src/protocol/index.js';
import { createRedisBackplane } from '../../../src/server/backplane/redis.js';
import type { Hub } from '../../../src/server/hub.js';
import type { Endpoint } from '../../../src/server/sessions.js';
import { redisForFile } from '../../support/redis.js';
import { testHub } from '../../support/server-hub.js';
import { until } from '../../support/wait.js';

const redis = redisForFile();

interface Client {
  endpoint: Endpoint;
  frames: Array<{ type: string; data: Record<string, unknown> }>;
}

function connect(hub: Hub): Client {
  const client: Client = { endpoint: undefined as never, frames: [] };
  client.endpoint = hub.open(
    { send: (type, data) => client.frames.push({ type, data }), close: () => {}, terminate: () => {}, ping: undefined },
    { identity: null, request: { url: '/', headers: {} } as IncomingMessage, transport: 'websocket' },
  );
  return client;
}
const send = (hub: Hub, client: Client, type: string, data: unknown) =>
  hub.receive(client.endpoint, () => parseClientEvent(type, data));
const got = (client: Client, type: string) => client.frames.filter((frame) => frame.type === type);

test('a quiet member of a busy pool is resumable on another process after the log has moved on past its last frame', async () => {
  const RETENTION_MS = 300;
  let clock = 0;
  const hubOn = async () => {
    const backplane = await createRedisBackplane({
      url: redis.url,
      prefix: 'checkpoint:',
      logRetentionMs: RETENTION_MS,
    });
    redis.closing(backplane);
    return testHub({ backplane, resumeWindowMs: 60_000, now: () => clock });
  };
  const [a, b] = [await hubOn(), await hubOn()];
  const quiet = connect(a);
  send(a, quiet, 'rtc:join', { pool: 'busy' });
  await until(() => got(quiet, 'rtc:joined').length === 1, 'joined');
  const [x, y] = [connect(b), connect(b)];
  send(b, x, 'rtc:join', { pool: 'busy' });
  send(b, y, 'rtc:join', { pool: 'busy' });
  await until(() => got(quiet, 'rtc:peer').length === 2 && got(x, 'rtc:peer').length === 1, 'everyone told');
  const xId = got(x, 'rtc:joined')[0]?.data.client_id as string;
  const yId = got(y, 'rtc:joined')[0]?.data.client_id as string;
  // The quiet member has its two frames, and says so.
  send(a, quiet, 'rtc:ping', { received: 2 });
  // The others talk: far more entries than Redis trims at once (it drops whole nodes of about 100), over
  // several retentions, so that the quiet member's last frame leaves the log.
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 100; i++) send(b, x, 'rtc:candidate', { for: yId, candidate: null });
    await new Promise((resolve) => setTimeout(resolve, RETENTION_MS / 2));
  }
  await until(() => got(y, 'rtc:candidate').length === 600, 'the chatter delivered');
  // Later, the quiet member is pinged again: it still has just its two frames; its checkpoint moves to the log's end.
  clock += 60_000;
  send(a, quiet, 'rtc:ping', { received: 2 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  a.disconnect(quiet.endpoint, { why: 'closed', keepSession: true });
  // It comes back on the other process.
  const back = connect(b);
  const joined = got(quiet, 'rtc:joined')[0]?.data as { client_id: string; resume: { token: string } };
  send(b, back, 'rtc:resume', { id: joined.client_id, token: joined.resume.token, received: 2 });
  await until(() => back.frames.length > 0, 'an answer to the resume');
  expect(back.frames.map(({ type }) => type)).toEqual(['rtc:resumed']);
  // And it goes on: a relay from it reaches its peer, who never heard it leave.
  send(b, back, 'rtc:candidate', { for: xId, candidate: null });
  await until(() => got(x, 'rtc:candidate').length === 1, 'its relay');
  expect([...got(x, 'rtc:close'), ...got(y, 'rtc:close')]).toEqual([]);
});
