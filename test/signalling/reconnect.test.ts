/**
 * A signalling channel that survives a blip, against scripted sockets
 * (fake-websocket.ts) and fake timers: the transceiver's reconnect schedule,
 * and Signalling's session (resume handshake, outbox replay, refusal, expiry).
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type ClientMessage, candidateMessage, joinMessage, sdpMessage } from '../../src/protocol/index.js';
import { Signalling, WebSocketTransceiver } from '../../src/signalling/index.js';
import { FakeWebSocket } from './fake-websocket.js';
import { record } from './record.js';

/** Every socket a factory made, newest last. */
function sockets() {
  const made: FakeWebSocket[] = [];
  const factory = () => {
    const socket = new FakeWebSocket();
    made.push(socket);
    return socket;
  };
  return { made, factory, last: () => made.at(-1) as FakeWebSocket };
}

const frame = (type: string, data: unknown) => JSON.stringify({ type, data });
const joined = (resume?: { token: string; window_ms: number }) =>
  frame('rtc:joined', { client_id: 'me', peers: [], descriptions: {}, pool: 'p', ...(resume ? { resume } : {}) });
const grant = { token: 'secret-token', window_ms: 10_000 };
const sdp = (n: number) => sdpMessage('ada', { type: 'offer', sdp: `v=${n}\r\n` });

/** What a transceiver reported on its control channel, in order. */
function transceiverEvents(transceiver: WebSocketTransceiver): string[] {
  const seen: string[] = [];
  transceiver.onTransport((event) => seen.push(event));
  return seen;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('WebSocketTransceiver from a factory: reconnecting', () => {
  test('backoff: bounds 250, 500, 1000, 2000, 4000, then 5000 ms; full jitter; gives up after maxAttempts', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // the delay is the bound itself
    const { made, factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory, { reconnect: { maxAttempts: 7 } });
    const seen = transceiverEvents(transceiver);
    last().open();
    last().drop('close', 1006);
    expect(seen).toEqual(['open', 'offline']);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const before = made.length;
      const started = Date.now();
      vi.advanceTimersByTime(1);
      while (made.length === before) vi.advanceTimersByTime(1);
      delays.push(Date.now() - started);
      last().drop('close', 1006); // the new socket fails before it opens
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(seen).toEqual(['open', 'offline', 'closed']); // failures before open are silent; then it gives up
    expect(transceiver.closed).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(8);
  });

  test('jitter draws each delay uniformly below the bound', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { made, factory, last } = sockets();
    new WebSocketTransceiver(factory, { reconnect: { initialDelayMs: 100, factor: 3, maxDelayMs: 10_000 } });
    last().open();
    last().drop('error');
    vi.advanceTimersByTime(49);
    expect(made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(2);
    last().drop('close', 1006);
    vi.advanceTimersByTime(149);
    expect(made).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(3);
  });

  test('a new socket that opens is `online`, resets the attempts, and sends what was queued meanwhile', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory);
    const seen = transceiverEvents(transceiver);
    last().open();
    last().drop('close', 1006);
    transceiver.send('rtc:join', { pool: 'queued' });
    vi.advanceTimersByTime(250);
    last().drop('close', 1006);
    vi.advanceTimersByTime(500);
    last().open();
    expect(seen).toEqual(['open', 'offline', 'online']);
    expect(last().frames()).toEqual([{ type: 'rtc:join', data: { pool: 'queued' } }]);
    // The attempts start again from the first bound.
    last().drop('close', 1011);
    vi.advanceTimersByTime(250);
    last().open();
    expect(seen).toEqual(['open', 'offline', 'online', 'offline', 'online']);
  });

  test("a socket's error and then its close (as ws and browsers report a failure) make one new socket, not two", () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { made, factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory);
    const seen = transceiverEvents(transceiver);
    last().open();
    last().drop('error');
    last().drop('close', 1006);
    vi.advanceTimersByTime(250);
    expect(made).toHaveLength(2);
    last().drop('error');
    last().drop('close', 1006);
    vi.advanceTimersByTime(500);
    expect(made).toHaveLength(3);
    vi.advanceTimersByTime(9_999);
    expect(made).toHaveLength(3); // the third is still connecting: nothing else is tried before its 10 s are up
    made[1]?.open(); // a stale socket opening late changes nothing
    expect(seen).toEqual(['open', 'offline']);
  });

  test('a socket that never opened is retried without offline; the queue survives it', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory);
    const seen = transceiverEvents(transceiver);
    transceiver.send('rtc:join', { pool: 'lobby' });
    last().drop('error');
    vi.advanceTimersByTime(250);
    last().open();
    expect(seen).toEqual(['open']);
    expect(last().frames()).toEqual([{ type: 'rtc:join', data: { pool: 'lobby' } }]);
  });

  test.each([1000, 1001, 1005, 4000, 4001, 4029])('close code %i is deliberate: closed, no new socket', (code) => {
    const { made, factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory);
    const seen = transceiverEvents(transceiver);
    last().open();
    last().drop('close', code);
    vi.advanceTimersByTime(60_000);
    expect(seen).toEqual(['open', 'closed']);
    expect(made).toHaveLength(1);
    expect(() => transceiver.send('rtc:join', { pool: 'p' })).toThrow(/closed/);
  });

  test('reconnect: false, or a single socket: a broken connection is final, as before', () => {
    const { made, factory, last } = sockets();
    const off = new WebSocketTransceiver(factory, { reconnect: false });
    last().open();
    last().drop('close', 1006);
    expect(off.closed).toBe(true);
    const single = new WebSocketTransceiver(new FakeWebSocket(1));
    expect(single.closed).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(1);
  });

  test('close() while reconnecting stops it, closes with 1000 and dispatches close once', () => {
    const { made, factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory);
    const seen = transceiverEvents(transceiver);
    last().open();
    last().drop('close', 1006);
    transceiver.close();
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(1);
    expect(seen).toEqual(['open', 'offline', 'closed']);

    const open = sockets();
    new WebSocketTransceiver(open.factory).close();
    expect(open.last().closeCodes).toEqual([1000]);
  });

  test('a URL is opened with the global WebSocket, again after each lost connection', () => {
    const { opened, made } = stubGlobalWebSocket();
    try {
      const transceiver = new WebSocketTransceiver('wss://example.org/ws');
      made.at(-1)?.open();
      made.at(-1)?.drop('close', 1006);
      vi.advanceTimersByTime(250);
      expect(opened).toEqual(['wss://example.org/ws', 'wss://example.org/ws']);
      transceiver.close();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  test('a list of URLs: a lost connection comes back to the same URL; a socket that fails to open moves on to the next', () => {
    const { opened, made } = stubGlobalWebSocket();
    try {
      vi.spyOn(Math, 'random').mockReturnValue(1);
      const urls = ['wss://a.example.org/ws', 'wss://b.example.org/ws', 'wss://c.example.org/ws'];
      const transceiver = new WebSocketTransceiver(urls);
      expect(transceiver.reconnects).toBe(true);
      made.at(-1)?.open();
      made.at(-1)?.drop('close', 1006); // a was open, then lost: a again (its session is there)
      vi.advanceTimersByTime(250);
      made.at(-1)?.drop('close', 1006); // a refuses (its server died): b
      vi.advanceTimersByTime(500);
      made.at(-1)?.drop('error'); // b fails too: c
      vi.advanceTimersByTime(1000);
      made.at(-1)?.open();
      made.at(-1)?.drop('close', 1006); // c was open, then lost: c again
      vi.advanceTimersByTime(250);
      made.at(-1)?.drop('close', 1006); // c refuses: round to a
      vi.advanceTimersByTime(500);
      const [a, b, c] = urls;
      expect(opened).toEqual([a, a, b, c, c, a]);
      transceiver.close();
      expect(() => new WebSocketTransceiver([])).toThrow(TypeError);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  test('a socket that does not open within connectTimeoutMs is closed and the next attempt follows (Infinity: none)', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { made, factory, last } = sockets();
    const transceiver = new WebSocketTransceiver(factory, { reconnect: { connectTimeoutMs: 3000 } });
    const seen = transceiverEvents(transceiver);
    vi.advanceTimersByTime(2999);
    expect(made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(made[0]?.closeCalls).toBe(1);
    vi.advanceTimersByTime(250);
    expect(made).toHaveLength(2);
    last().open();
    // An open socket is not timed; one that opened in time was not closed.
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(2);
    expect(made[1]?.closeCalls).toBe(0);
    expect(seen).toEqual(['open']); // the first never opened: nothing was lost
    transceiver.close();

    const patient = sockets();
    new WebSocketTransceiver(patient.factory, { reconnect: { connectTimeoutMs: Number.POSITIVE_INFINITY } });
    vi.advanceTimersByTime(600_000);
    expect(patient.made).toHaveLength(1);
    expect(patient.last().closeCalls).toBe(0);
  });

  test('frames from a replaced socket are dropped', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { made, factory, last } = sockets();
    const signalling = new Signalling(new WebSocketTransceiver(factory));
    const recording = record(signalling);
    last().open();
    last().deliver(joined(grant));
    last().drop('close', 1006);
    vi.advanceTimersByTime(250);
    made[0]?.deliver(frame('rtc:peer', { id: 'ghost' }));
    expect(recording.messages.map((message) => message.type)).toEqual(['rtc:joined']);
  });
});

/** Replaces the global WebSocket with scripted sockets; returns the URLs opened and the sockets made. */
function stubGlobalWebSocket() {
  const opened: string[] = [];
  const made: FakeWebSocket[] = [];
  vi.stubGlobal(
    'WebSocket',
    class extends FakeWebSocket {
      constructor(url: string) {
        super();
        opened.push(url);
        made.push(this);
      }
    },
  );
  return { opened, made };
}

/** A Signalling joined with a resume grant over a factory's first socket. */
function joinedSignalling(options: { maxOutbox?: number; resume?: typeof grant | undefined } = {}) {
  vi.spyOn(Math, 'random').mockReturnValue(1);
  const made = sockets();
  const signalling = new Signalling(new WebSocketTransceiver(made.factory), {
    ...(options.maxOutbox ? { maxOutbox: options.maxOutbox } : {}),
  });
  const recording = record(signalling);
  const states: string[] = [];
  signalling.state$.subscribe((state) => states.push(state));
  signalling.send(joinMessage('p'));
  made.last().open();
  made.last().deliver(joined('resume' in options ? options.resume : grant));
  /** The connection breaks and the next socket opens. */
  const blip = () => {
    made.last().drop('close', 1006);
    vi.advanceTimersByTime(250);
    made.last().open();
  };
  return { ...made, signalling, recording, states, blip };
}

describe('Signalling resumes its session', () => {
  test('rtc:resume first, with the count of server frames (refused ones too, not rtc:joined); nothing else until rtc:resumed', () => {
    const { last, signalling, recording, states, blip } = joinedSignalling();
    last().deliver(frame('rtc:peer', { id: 'ada' }));
    last().deliver('not json'); // refused, but it was a frame: it counts
    last().deliver(frame('rtc:peer', {})); // invalid: counts too
    expect(recording.errors).toHaveLength(2);
    last().drop('close', 1006);
    expect(signalling.state).toBe('offline');
    expect(states).toEqual(['online', 'offline']);
    signalling.send(sdp(1)); // queued, no throw
    vi.advanceTimersByTime(250);
    last().open();
    expect(last().frames()).toEqual([{ type: 'rtc:resume', data: { id: 'me', token: 'secret-token', received: 3 } }]);
    signalling.send(sdp(2)); // still held: the server has not answered
    expect(last().frames()).toHaveLength(1);
    expect(recording.events.filter(([name]) => name === 'offline')).toHaveLength(1);

    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    expect(last().frames().slice(1)).toEqual([sdp(1), sdp(2)]);
    expect(signalling.state).toBe('online');
    expect(states).toEqual(['online', 'offline', 'online']);
    expect(recording.events.map(([name]) => name)).toContain('online');
    expect(recording.messages.at(-1)).toEqual({ type: 'rtc:resumed', data: { client_id: 'me', received: 0 } });

    // What the server sends again after rtc:resumed counts; rtc:resumed itself does not.
    last().deliver(frame('rtc:peer', { id: 'bob' }));
    blip();
    expect(last().frames()[0]).toEqual({
      type: 'rtc:resume',
      data: { id: 'me', token: 'secret-token', received: 4 },
    });
    expect(signalling.closed).toBe(false);
  });

  test('what comes before rtc:resumed on the new connection is not a session frame: not counted', () => {
    const { last, signalling, recording, blip } = joinedSignalling();
    blip();
    last().deliver(frame('rtc:error', { message: 'slow down', reason: 'rate-limited' }));
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    expect(recording.messages.at(-2)).toMatchObject({ type: 'rtc:error' }); // still delivered
    blip();
    expect(last().frames()[0]).toMatchObject({ type: 'rtc:resume', data: { received: 0 } });
    expect(signalling.closed).toBe(false);
  });

  test('only the frames the server did not get are sent again, in order, before anything new', () => {
    const { last, made, signalling, blip } = joinedSignalling();
    const sent: ClientMessage[] = [sdp(1), sdp(2), candidateMessage('ada', null), sdp(3)];
    for (const message of sent) signalling.send(message);
    expect(made[0]?.frames().slice(1)).toEqual(sent); // after rtc:join
    blip();
    // The server got the first two: the last two were lost in flight.
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 2 }));
    signalling.send(sdp(4));
    expect(last().frames()).toEqual([
      { type: 'rtc:resume', data: { id: 'me', token: 'secret-token', received: 0 } },
      candidateMessage('ada', null),
      sdp(3),
      sdp(4),
    ]);
    // Acknowledged frames are forgotten: the next resume starts from 2 + 3 = 5.
    blip();
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 5 }));
    expect(last().frames().slice(1)).toEqual([]);
  });

  test('the server has everything: nothing is sent twice', () => {
    const { last, signalling, blip } = joinedSignalling();
    signalling.send(sdp(1));
    blip();
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 1 }));
    expect(
      last()
        .frames()
        .map(({ type }) => type),
    ).toEqual(['rtc:resume']);
  });

  test('a resume refused: the channel ends with resume-refused, closes its socket with 1000 and stops reconnecting', () => {
    const { last, made, signalling, recording, blip } = joinedSignalling();
    blip();
    last().deliver(frame('rtc:error', { message: 'no such session', reason: 'resume-refused' }));
    expect(signalling.closed).toBe(true);
    expect(signalling.closeReason).toEqual({
      code: 'resume-refused',
      message: expect.stringContaining('no such session'),
    });
    expect(recording.completed).toEqual({ messages: true, errors: true });
    expect(recording.messages.map(({ type }) => type)).toEqual(['rtc:joined']); // the refusal is not a pool message
    expect(last().closeCodes).toEqual([1000]);
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(2);
    expect(() => signalling.send(sdp(1))).toThrow(/closed/);
  });

  test('the window passes while the server is unreachable: resume-expired, nothing more is tried', () => {
    const { last, made, signalling, recording } = joinedSignalling({ resume: { token: 't', window_ms: 2000 } });
    let completedAt = 0;
    signalling.messages.subscribe({ complete: () => (completedAt = Date.now()) });
    const lostAt = Date.now();
    last().drop('close', 1006);
    // Every new socket fails.
    while (!signalling.closed) {
      const count = made.length;
      vi.advanceTimersByTime(10);
      if (made.length > count) last().drop('error');
    }
    expect(completedAt - lostAt).toBe(2000);
    expect(signalling.closeReason?.code).toBe('resume-expired');
    expect(recording.completed.messages).toBe(true);
    const count = made.length;
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(count);
  });

  test('a resumed session stops the window: a later outage has a full window again', () => {
    const { last, signalling, blip } = joinedSignalling({ resume: { token: 't', window_ms: 2000 } });
    blip();
    vi.advanceTimersByTime(1500);
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    vi.advanceTimersByTime(1000);
    expect(signalling.closed).toBe(false);
    last().drop('close', 1006);
    vi.advanceTimersByTime(1999);
    expect(signalling.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signalling.closeReason?.code).toBe('resume-expired');
  });

  test('no grant in rtc:joined (resumption off, a version 1 server): a lost connection ends the channel', () => {
    const { last, made, signalling } = joinedSignalling({ resume: undefined });
    last().drop('close', 1006);
    expect(signalling.closeReason?.code).toBe('connection-lost');
    vi.advanceTimersByTime(60_000);
    expect(made).toHaveLength(1);
  });

  test('a deliberate close by the server ends the channel with connection-lost; close() gives no reason', () => {
    const server = joinedSignalling();
    server.last().drop('close', 4000);
    expect(server.signalling.closeReason?.code).toBe('connection-lost');
    const app = joinedSignalling();
    app.signalling.close();
    expect(app.signalling.closed).toBe(true);
    expect(app.signalling.closeReason).toBeUndefined();
    expect(app.last().closeCodes).toEqual([1000]);
  });

  test('the outbox is bounded: a resume that needs a forgotten frame ends with outbox-overflow', () => {
    const ok = joinedSignalling({ maxOutbox: 3 });
    for (let n = 1; n <= 5; n++) ok.signalling.send(sdp(n));
    ok.blip();
    // Frames 0 and 1 are forgotten; the server has them, so nothing is missing.
    ok.last().deliver(frame('rtc:resumed', { client_id: 'me', received: 2 }));
    expect(ok.last().frames().slice(1)).toEqual([sdp(3), sdp(4), sdp(5)]);
    expect(ok.signalling.closed).toBe(false);

    const overflow = joinedSignalling({ maxOutbox: 3 });
    for (let n = 1; n <= 5; n++) overflow.signalling.send(sdp(n));
    overflow.blip();
    overflow.last().deliver(frame('rtc:resumed', { client_id: 'me', received: 1 }));
    expect(overflow.signalling.closeReason?.code).toBe('outbox-overflow');
    expect(
      overflow
        .last()
        .frames()
        .map(({ type }) => type),
    ).toEqual(['rtc:resume']);
  });

  test('a frame sent into a socket already closing is lost like one in flight, and sent again on resume', () => {
    const { last, signalling, blip } = joinedSignalling();
    last().readyState = 2; // closing; its close event has not come yet
    expect(() => signalling.send(sdp(1))).not.toThrow();
    blip();
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    expect(last().frames().slice(1)).toEqual([sdp(1)]);
  });

  test('the connection breaks again before rtc:resumed: the next socket resumes with the same count', () => {
    const { last, signalling, blip } = joinedSignalling();
    last().deliver(frame('rtc:peer', { id: 'ada' }));
    signalling.send(sdp(1));
    blip();
    blip();
    expect(last().frames()).toEqual([{ type: 'rtc:resume', data: { id: 'me', token: 'secret-token', received: 1 } }]);
    last().deliver(frame('rtc:resumed', { client_id: 'me', received: 0 }));
    expect(last().frames().slice(1)).toEqual([sdp(1)]);
    expect(signalling.state).toBe('online');
  });
});
