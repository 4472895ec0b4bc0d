/**
 * The client's heartbeat, against scripted sockets and fake timers: a quiet
 * connection is pinged, an answered one kept, an unanswered one given up and
 * its session resumed on a new socket. Pings and pongs are frames like any
 * other for the resume counts.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { joinMessage } from '../../src/protocol/index.js';
import { Signalling, type SignallingOptions, WebSocketTransceiver } from '../../src/signalling/index.js';
import { FakeWebSocket } from './fake-websocket.js';
import { record } from './record.js';

const frame = (type: string, data: unknown) => JSON.stringify({ type, data });
const grant = { token: 'secret-token', window_ms: 10_000 };
const joined = (extra: Record<string, unknown>) =>
  frame('rtc:joined', { client_id: 'me', peers: [], descriptions: {}, pool: 'p', resume: grant, ...extra });
const heartbeat = { intervalMs: 1000, timeoutMs: 500 };

/** A Signalling over a factory's sockets, joined to a server whose rtc:joined carries `extra`. */
function joinedOver(extra: Record<string, unknown>, options: SignallingOptions = { heartbeat }) {
  const made: FakeWebSocket[] = [];
  const last = () => made.at(-1) as FakeWebSocket;
  const signalling = new Signalling(
    new WebSocketTransceiver(() => {
      made.push(new FakeWebSocket());
      return last();
    }),
    options,
  );
  const recording = record(signalling);
  signalling.send(joinMessage('p'));
  last().open();
  last().deliver(joined(extra));
  const pings = (socket = last()) => socket.frames().filter(({ type }) => type === 'rtc:ping').length;
  return { made, last, signalling, recording, pings };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  vi.spyOn(Math, 'random').mockReturnValue(0); // reconnect at once
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the client heartbeat', () => {
  test('a quiet connection is pinged after intervalMs; frames from the server put the ping off', () => {
    const { last, pings } = joinedOver({ answers_ping: true });
    vi.advanceTimersByTime(999);
    expect(pings()).toBe(0);
    vi.advanceTimersByTime(1);
    // The ping carries the client's count, so the server can let go of what it holds.
    expect(last().frames().at(-1)).toEqual({ type: 'rtc:ping', data: { received: 0 } });
    last().deliver(frame('rtc:pong', {}));
    // The server keeps talking: no ping while frames arrive less than intervalMs apart.
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(900);
      last().deliver(frame('rtc:peer', { id: `peer-${i}` }));
    }
    expect(pings()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(pings()).toBe(2);
  });

  test('an answered ping keeps the connection, however long it stays quiet otherwise', () => {
    const { made, last, signalling, pings } = joinedOver({ answers_ping: true });
    for (let i = 1; i <= 20; i++) {
      vi.advanceTimersByTime(1000);
      expect(pings()).toBe(i);
      vi.advanceTimersByTime(100);
      last().deliver(frame('rtc:pong', {}));
    }
    expect(made).toHaveLength(1);
    expect(signalling.state).toBe('online');
  });

  test('no answer within timeoutMs: the connection is lost and the session resumes on a new socket, ping included', () => {
    const { made, last, signalling, recording, pings } = joinedOver({ answers_ping: true });
    const first = last();
    first.deliver(frame('rtc:peer', { id: 'ada' }));
    vi.advanceTimersByTime(1000);
    expect(pings(first)).toBe(1);
    vi.advanceTimersByTime(499);
    expect(signalling.state).toBe('online');
    vi.advanceTimersByTime(1);
    expect(signalling.state).toBe('offline');
    // The silent socket is left to the server (a close frame could read as a leave); its late frames are dropped.
    expect(first.closeCalls).toBe(0);
    first.deliver(frame('rtc:peer', { id: 'ghost' }));
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(2);
    last().open();
    expect(last().frames()).toEqual([{ type: 'rtc:resume', data: { id: 'me', token: 'secret-token', received: 1 } }]);
    // The server never got the ping: it is sent again, like any frame it missed.
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    expect(last().frames().slice(1)).toEqual([{ type: 'rtc:ping', data: { received: 1 } }]);
    expect(signalling.state).toBe('online');
    expect(recording.messages.map(({ type }) => type)).toEqual(['rtc:joined', 'rtc:peer', 'rtc:resumed']);
    // And the heartbeat goes on over the new socket.
    last().deliver(frame('rtc:pong', {}));
    vi.advanceTimersByTime(1000);
    expect(pings()).toBe(2);
  });

  test('pongs and errors answer the connection: not counted for a resume, where every other frame is', () => {
    const { last, pings } = joinedOver({ answers_ping: true });
    last().deliver(frame('rtc:peer', { id: 'ada' }));
    vi.advanceTimersByTime(1000);
    last().deliver(frame('rtc:pong', {}));
    last().deliver(frame('rtc:error', { reason: 'unknown-peer', message: 'no peer "bob" in your pool' }));
    last().deliver(frame('rtc:close', { id: 'ada' }));
    vi.advanceTimersByTime(1000);
    expect(pings()).toBe(2);
    expect(last().frames().at(-1)).toEqual({ type: 'rtc:ping', data: { received: 2 } });
    last().deliver(frame('rtc:pong', {}));
    last().drop('close', 1006);
    vi.advanceTimersByTime(1);
    last().open();
    expect(last().frames()[0]).toEqual({ type: 'rtc:resume', data: { id: 'me', token: 'secret-token', received: 2 } });
  });

  test.each([
    ['a server that does not answer pings', {}, { heartbeat }],
    ['answers_ping: false', { answers_ping: false }, { heartbeat }],
    ['heartbeat: false', { answers_ping: true }, { heartbeat: false as const }],
  ])('no pings with %s', (_, extra, options) => {
    const { made, pings, signalling } = joinedOver(extra, options);
    vi.advanceTimersByTime(60_000);
    expect(pings()).toBe(0);
    expect(made).toHaveLength(1);
    expect(signalling.state).toBe('online');
  });

  test('no pings over a single socket, which cannot be replaced', () => {
    const socket = new FakeWebSocket();
    const signalling = new Signalling(new WebSocketTransceiver(socket), { heartbeat });
    expect(signalling.transceiver.reconnects).toBe(false);
    signalling.send(joinMessage('p'));
    socket.open();
    socket.deliver(joined({ answers_ping: true }));
    vi.advanceTimersByTime(60_000);
    expect(socket.frames().map(({ type }) => type)).toEqual(['rtc:join']);
  });

  test('closing the channel stops the heartbeat', () => {
    const { made, last, signalling, pings } = joinedOver({ answers_ping: true });
    signalling.close();
    vi.advanceTimersByTime(60_000);
    expect(pings()).toBe(0);
    expect(made).toHaveLength(1);
    expect(last().closeCodes).toEqual([1000]);
  });
});
