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

test('while reading is paused (backpressure), every connection is paused, new ones too, none dropped as silent or unjoined', () => {
  let clock = 0;
  const heartbeat = { intervalMs: 1_000, timeoutMs: 2_000 };
  const hub = testHub({ heartbeat, now: () => clock, resumeWindowMs: 60_000, joinTimeoutMs: 1_000 });
  const open = (join = true) => {
    const link = { paused: 0, resumed: 0, terminated: false, closed: 0, pings: 0 };
    const endpoint = hub.open(
      {
        send: () => {},
        close: (code) => (link.closed = code),
        terminate: () => (link.terminated = true),
        ping: () => (link.pings += 1),
        pause: () => (link.paused += 1),
        resume: () => (link.resumed += 1),
      },
      { identity: null, request: { url: '/', headers: {} } as IncomingMessage, transport: 'websocket' },
    );
    if (join) hub.receive(endpoint, () => parseClientEvent('rtc:join', { pool: 'room' }));
    return link;
  };
  const slice = heartbeat.intervalMs / HEARTBEAT_SLICES;
  const rounds = (n: number) => {
    for (let i = 0; i < n * HEARTBEAT_SLICES; i++) {
      clock += slice;
      hub.sweep();
    }
  };
  const early = open();
  hub.hold(true);
  hub.hold(true); // said twice: paused once
  const late = open();
  const unjoined = open(false); // its rtc:join waits unread in its socket
  expect([early.paused, late.paused, unjoined.paused]).toEqual([1, 1, 1]);
  // Paused for five timeouts, the sweeps running on time: their pongs cannot be read, so nobody is dropped.
  rounds(10);
  expect([early.terminated, late.terminated, unjoined.terminated, unjoined.closed]).toEqual([false, false, false, 0]);
  hub.hold(false);
  expect([early.resumed, late.resumed, unjoined.resumed]).toEqual([1, 1, 1]);
  expect(hub.stats()).toMatchObject({ pauses: 1, pausedMs: 10 * heartbeat.intervalMs });
  // Credited the time paused: not dropped at the first sweep after it; still silent afterwards, dropped.
  rounds(1);
  expect([early.terminated, late.terminated, unjoined.closed]).toEqual([false, false, 0]);
  rounds(3);
  expect([early.terminated, late.terminated]).toEqual([true, true]);
  expect(unjoined.closed).toBe(4008); // the join timeout, counted from when it could be read
});
