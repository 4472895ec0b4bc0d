/**
 * WebSocketTransceiver and `Signalling.websocket` against a real `ws` server
 * on loopback, then the edge cases that need exact timing against a scripted
 * socket (fake-websocket.ts).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { candidateMessage, joinMessage, SignallingError, sdpMessage } from '../../src/protocol/index.js';
import { Signalling, WebSocketTransceiver } from '../../src/signalling/index.js';
import { until } from '../support/wait.js';
import { FakeWebSocket } from './fake-websocket.js';
import { type Sample, version1, version2 } from './frames.js';
import { expectDelivered, record } from './record.js';

/** The server's end of one connection. */
interface ServerEnd {
  socket: WebSocket;
  /** Text frames received, parsed. */
  received: unknown[];
  closed: Promise<unknown>;
}

let server: WebSocketServer;
let url: string;

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const client of server.clients) client.terminate();
  await new Promise((resolve) => server.close(resolve));
});

/** The server's end of the next connection. */
async function accept(): Promise<ServerEnd> {
  const [socket] = (await once(server, 'connection')) as [WebSocket];
  const received: unknown[] = [];
  socket.on('message', (data) => received.push(JSON.parse(String(data))));
  return { socket, received, closed: once(socket, 'close') };
}

/** A client socket, and its server end once the server accepts it. */
function connect(): { client: WebSocket; accepted: Promise<ServerEnd> } {
  const accepted = accept();
  return { client: new WebSocket(url), accepted };
}

const frame = (type: string, data: unknown) => JSON.stringify({ type, data });

async function roundTrip(samples: Sample[]) {
  const { client, accepted } = connect();
  const signalling = new Signalling.websocket(client);
  const recording = record(signalling);
  const { socket } = await accepted;
  for (const sample of samples) socket.send(frame(sample.type, sample.data));
  await expectDelivered(recording, samples);
  signalling.close();
}

describe('WebSocketTransceiver over a real socket', () => {
  test('messages sent while connecting are buffered and arrive in order, then later ones follow', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.websocket(client);
    expect(client.readyState).toBe(WebSocket.CONNECTING);
    const sent = [
      joinMessage('lobby'),
      sdpMessage('ada', { type: 'offer', sdp: 'v=0\r\n' }),
      candidateMessage('ada', { candidate: 'candidate:1 1 udp 1 192.0.2.1 9 typ host', sdpMid: '0' }),
      candidateMessage('ada', null),
    ];
    for (const message of sent) signalling.send(message);
    const end = await accepted;
    await until(() => end.received.length === sent.length, 'the buffered frames');
    signalling.send(joinMessage('second'));
    await until(() => end.received.length === sent.length + 1, 'a frame sent once open');
    expect(end.received).toEqual([...sent, joinMessage('second')]);
    signalling.close();
  });

  test('each version 2 server event becomes a typed message and its events', () => roundTrip(version2));

  test('each version 1 server event is normalized to version 2', () => roundTrip(version1));

  test('bad frames become errors and error events; the next good frame still arrives', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.websocket(client, { maxFrameBytes: 1024 });
    const recording = record(signalling);
    const { socket } = await accepted;
    const bad: [code: SignallingError['code'], send: () => void][] = [
      ['malformed-frame', () => socket.send('{"type": "rtc:peer", "data": ')],
      ['malformed-frame', () => socket.send(Buffer.from(frame('rtc:peer', { id: 'ada' })))],
      ['malformed-frame', () => socket.send('[1, 2, 3]')],
      ['malformed-frame', () => socket.send(frame('rtc:peer', 'ada'))],
      ['frame-too-large', () => socket.send(frame('rtc:peer', { id: 'a'.repeat(1024) }))],
      // 400 characters, but 1200 bytes of UTF-8: the limit is in bytes.
      ['frame-too-large', () => socket.send(frame('rtc:describe', { id: 'ada', description: '€'.repeat(400) }))],
      ['unknown-event', () => socket.send(frame('rtc:nonsense', {}))],
      ['unknown-event', () => socket.send(frame('close', {}))],
      ['unknown-event', () => socket.send(frame('error', { message: 'spoofed' }))],
      ['invalid-field', () => socket.send(frame('rtc:sdp', { peer: 'ada', description: { type: 'pranswer' } }))],
    ];
    for (const [, send] of bad) send();
    socket.send(frame('rtc:peer', { id: 'ada' }));
    await until(() => recording.messages.length === 1, 'the good frame');
    expect(recording.errors.map((error) => error.code)).toEqual(bad.map(([code]) => code));
    expect(recording.errors.every((error) => error instanceof SignallingError)).toBe(true);
    const errorEvents = recording.events.filter(([name]) => name === 'error').map(([, detail]) => detail);
    expect(errorEvents).toEqual(recording.errors);
    expect(recording.messages).toEqual([{ type: 'rtc:peer', data: { id: 'ada' } }]);
    expect(recording.completed).toEqual({ messages: false, errors: false });
    expect(signalling.closed).toBe(false);
    signalling.close();
  });

  test('the default limit is 64 KiB', async () => {
    const { client, accepted } = connect();
    const recording = record(new Signalling.websocket(client));
    const { socket } = await accepted;
    const description = (length: number) => frame('rtc:describe', { id: 'ada', description: 'x'.repeat(length) });
    const overhead = description(0).length;
    socket.send(description(64 * 1024 - overhead)); // exactly 64 KiB
    socket.send(description(64 * 1024 - overhead + 1));
    await until(() => recording.messages.length + recording.errors.length === 2, 'both frames');
    expect(recording.messages).toHaveLength(1);
    expect(recording.errors.map((error) => error.code)).toEqual(['frame-too-large']);
    client.close();
  });

  test('close(): completes the streams, closes the socket, is idempotent; sending afterwards throws', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.websocket(client);
    const recording = record(signalling);
    const end = await accepted;
    await until(() => client.readyState === WebSocket.OPEN, 'the client open');
    signalling.close();
    signalling.close();
    expect(recording.completed).toEqual({ messages: true, errors: true });
    expect(signalling.closed).toBe(true);
    expect(signalling.transceiver.closed).toBe(true);
    expect(() => signalling.send(joinMessage('lobby'))).toThrow(/closed, rtc:join not sent/);
    expect(() => signalling.transceiver.send('rtc:join', { pool: 'lobby' })).toThrow(/closed/);
    await end.closed;
    // A late subscriber sees the completion straight away.
    let late = false;
    signalling.messages.subscribe({ complete: () => (late = true) });
    expect(late).toBe(true);
  });

  test('the server hanging up completes the streams and makes send throw', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.websocket(client);
    const recording = record(signalling);
    const { socket } = await accepted;
    socket.send(frame('rtc:stop', {}));
    socket.close();
    await until(() => recording.completed.messages, 'the stream to complete');
    expect(recording.messages).toEqual([{ type: 'rtc:stop', data: {} }]);
    expect(recording.completed.errors).toBe(true);
    expect(() => signalling.send(joinMessage('lobby'))).toThrow(/closed/);
  });

  test('closing while connecting drops the queue and raises nothing', async () => {
    const client = new WebSocket(url);
    const signalling = new Signalling.websocket(client);
    signalling.send(joinMessage('never'));
    signalling.close();
    expect(signalling.closed).toBe(true);
    await until(() => client.readyState === WebSocket.CLOSED, 'the socket to close');
  });

  test('a refused connection closes the channel (no unhandled socket error)', async () => {
    const refused = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(refused, 'listening');
    const port = (refused.address() as AddressInfo).port;
    await new Promise((resolve) => refused.close(resolve));
    const signalling = new Signalling.websocket(new WebSocket(`ws://127.0.0.1:${port}`));
    const recording = record(signalling);
    signalling.send(joinMessage('lobby'));
    await until(() => recording.completed.messages, 'the channel to close');
    expect(() => signalling.send(joinMessage('lobby'))).toThrow(/closed/);
  });
});

describe('WebSocketTransceiver, exact timing (scripted socket)', () => {
  test("a send made by someone else's open listener, before ours, keeps its place after the queue", () => {
    const socket = new FakeWebSocket();
    // This listener is added before the transceiver's own.
    socket.addEventListener('open', () => transceiver.send('rtc:join', { pool: 'third' }));
    const transceiver = new WebSocketTransceiver(socket);
    transceiver.send('rtc:join', { pool: 'first' });
    transceiver.send('rtc:join', { pool: 'second' });
    expect(socket.sent).toEqual([]);
    socket.open();
    expect(socket.sent.map((text) => JSON.parse(text).data.pool)).toEqual(['first', 'second', 'third']);
  });

  test('a socket already open sends at once; one already closed makes a closed transceiver', () => {
    const open = new FakeWebSocket(1);
    new WebSocketTransceiver(open).send('rtc:join', { pool: 'lobby' });
    expect(open.sent).toEqual(['{"type":"rtc:join","data":{"pool":"lobby"}}']);

    const signalling = new Signalling(new WebSocketTransceiver(new FakeWebSocket(3)));
    const recording = record(signalling);
    expect(signalling.closed).toBe(true);
    expect(recording.completed).toEqual({ messages: true, errors: true });
  });

  test('frames that arrive after close() are ignored; a socket error closes the channel', () => {
    const socket = new FakeWebSocket(1);
    const signalling = new Signalling.websocket(socket);
    const recording = record(signalling);
    signalling.close();
    expect(socket.closeCalls).toBe(1);
    socket.deliver(frame('rtc:peer', { id: 'late' }));
    socket.drop();
    expect(recording.messages).toEqual([]);
    expect(recording.events).toEqual([]);
    expect(socket.closeCalls).toBe(1);

    const failing = new FakeWebSocket(1);
    const failed = new Signalling.websocket(failing);
    failing.drop('error');
    expect(failed.closed).toBe(true);
  });

  test('send refuses a socket that is closing before its close event arrives', () => {
    const socket = new FakeWebSocket(1);
    const transceiver = new WebSocketTransceiver(socket);
    socket.readyState = 2;
    expect(() => transceiver.send('rtc:join', { pool: 'lobby' })).toThrow(/closed, rtc:join not sent/);
  });
});
