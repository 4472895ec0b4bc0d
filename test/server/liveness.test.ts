/**
 * The server's heartbeat when the server itself was not running: a process
 * that froze (a long GC pause, a stopped event loop) longer than the
 * heartbeat timeout must not drop every connection the moment it wakes, when
 * their pongs are still waiting to be read; a connection that stays silent
 * afterwards is still dropped. On the hub alone, with its clock in hand.
 */
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import { parseClientEvent } from '../../src/protocol/index.js';
import { HEARTBEAT_SLICES } from '../../src/server/liveness.js';
import { testHub } from '../support/server-hub.js';

test('a sweep that runs late does not count the time the process was frozen as its connections’ silence', () => {
  let clock = 0;
  const heartbeat = { intervalMs: 1_000, timeoutMs: 2_000 };
  const hub = testHub({ heartbeat, now: () => clock, resumeWindowMs: 60_000 });
  let pings = 0;
  let terminated = false;
  const endpoint = hub.open(
    { send: () => {}, close: () => {}, terminate: () => (terminated = true), ping: () => (pings += 1) },
    { identity: null, request: { url: '/', headers: {} } as IncomingMessage, transport: 'websocket' },
  );
  hub.receive(endpoint, () => parseClientEvent('rtc:join', { pool: 'room' }));
  const slice = heartbeat.intervalMs / HEARTBEAT_SLICES;
  const round = () => {
    for (let i = 0; i < HEARTBEAT_SLICES; i++) {
      clock += slice;
      hub.sweep();
    }
  };
  round();
  expect(pings).toBe(1);
  // Frozen for 30 s, fifteen times the timeout: the first sweep after it comes 30 s late.
  clock += 30_000;
  round();
  expect(terminated).toBe(false);
  expect(pings).toBe(2);
  // Its pong never comes: within the timeout (and a round) of the process running again, it is dropped.
  round();
  round();
  round();
  expect(terminated).toBe(true);
});
