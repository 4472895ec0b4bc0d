/**
 * SocketIoTransceiver and `Signalling.socket.io` against a real socket.io
 * server on loopback, with the real socket.io client.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { candidateMessage, joinMessage, sdpMessage } from '../../src/protocol/index.js';
import { Signalling, SocketIoTransceiver } from '../../src/signalling/index.js';
import { until } from '../support/wait.js';
import { type Sample, version1, version2 } from './frames.js';
import { expectDelivered, record } from './record.js';

interface ServerEnd {
  socket: ServerSocket;
  /** Events received, as `{ type, data }`. */
  received: { type: string; data: unknown }[];
}

const httpServer = createServer();
const ioServer = new Server(httpServer);
let url: string;

beforeAll(async () => {
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  // Disconnects every client and closes the HTTP server.
  await ioServer.close();
});

/** The server's end of the next connection. */
async function accept(): Promise<ServerEnd> {
  const [socket] = (await once(ioServer, 'connection')) as [ServerSocket];
  const received: ServerEnd['received'] = [];
  socket.onAny((type: string, data: unknown) => received.push({ type, data }));
  return { socket, received };
}

/** A client socket (no reconnection: a test's server end is its only one), and its server end. */
function connect(): { client: Socket; accepted: Promise<ServerEnd> } {
  const accepted = accept();
  return { client: io(url, { transports: ['websocket'], reconnection: false, forceNew: true }), accepted };
}

async function roundTrip(samples: Sample[]) {
  const { client, accepted } = connect();
  const signalling = new Signalling.socket.io(client);
  const recording = record(signalling);
  const { socket } = await accepted;
  for (const sample of samples) socket.emit(sample.type, sample.data);
  await expectDelivered(recording, samples);
  signalling.close();
}

describe('SocketIoTransceiver over a real socket.io connection', () => {
  test('messages sent while connecting arrive in order (socket.io buffers them)', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.socket.io(client);
    expect(client.connected).toBe(false);
    const sent = [
      joinMessage('lobby'),
      sdpMessage('ada', { type: 'answer', sdp: 'v=0\r\n' }),
      candidateMessage('ada', null),
    ];
    for (const message of sent) signalling.send(message);
    const end = await accepted;
    await until(() => end.received.length === sent.length, 'the buffered events');
    expect(end.received).toEqual(sent);
    signalling.close();
  });

  test('each version 2 server event becomes a typed message and its events', () => roundTrip(version2));

  test('each version 1 server event is normalized to version 2', () => roundTrip(version1));

  test('unknown and invalid events become errors; the next good event still arrives', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.socket.io(client);
    const recording = record(signalling);
    const { socket } = await accepted;
    socket.emit('rtc:nonsense', {});
    socket.emit('error', { message: 'spoofed' });
    socket.emit('rtc:peer', {});
    socket.emit('rtc:peer', 'ada');
    socket.emit('rtc:peer', { id: 'ada' });
    await until(() => recording.messages.length === 1, 'the good event');
    expect(recording.errors.map((error) => error.code)).toEqual([
      'unknown-event',
      'unknown-event',
      'invalid-field',
      'malformed-frame',
    ]);
    expect(recording.events.filter(([name]) => name === 'error')).toHaveLength(4);
    expect(recording.messages).toEqual([{ type: 'rtc:peer', data: { id: 'ada' } }]);
    signalling.close();
  });

  test('close(): completes the streams and disconnects; sending afterwards throws', async () => {
    const { client, accepted } = connect();
    const signalling = new Signalling.socket.io(client);
    const recording = record(signalling);
    const end = await accepted;
    const gone = once(end.socket, 'disconnect');
    signalling.close();
    signalling.close();
    expect(recording.completed).toEqual({ messages: true, errors: true });
    expect(client.connected).toBe(false);
    expect(() => signalling.send(joinMessage('lobby'))).toThrow(/closed, rtc:join not sent/);
    await gone;
  });

  test('the server disconnecting the socket closes the channel', async () => {
    const { client, accepted } = connect();
    const transceiver = new SocketIoTransceiver(client);
    const signalling = new Signalling(transceiver);
    const recording = record(signalling);
    const { socket } = await accepted;
    socket.emit('rtc:stop', {});
    socket.disconnect(true);
    await until(() => recording.completed.messages, 'the stream to complete');
    expect(recording.messages).toEqual([{ type: 'rtc:stop', data: {} }]);
    expect(transceiver.closed).toBe(true);
    expect(() => transceiver.send('rtc:join', { pool: 'lobby' })).toThrow(/closed/);
  });
});

describe('SocketIoTransceiver when socket.io reconnects by itself', () => {
  /** A socket that reconnects quickly, as socket.io does by default but sooner. */
  const reconnecting = () =>
    io(url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 20, reconnectionDelayMax: 50 });
  const grant = { token: 'secret', window_ms: 10_000 };

  test('a lost transport is offline, the next connect online; Signalling resumes first, then re-sends, once', async () => {
    const client = reconnecting();
    const first = accept();
    const signalling = new Signalling.socket.io(client);
    const recording = record(signalling);
    signalling.send(joinMessage('lobby'));
    const one = await first;
    await until(() => one.received.length === 1, 'rtc:join');
    one.socket.emit('rtc:joined', { client_id: 'me', peers: [], descriptions: {}, pool: 'lobby', resume: grant });
    one.socket.emit('rtc:peer', { id: 'ada' });
    await until(() => recording.messages.length === 2, 'joined and peer');
    signalling.send(sdpMessage('ada', { type: 'offer', sdp: 'v=1\r\n' }));
    await until(() => one.received.length === 2, 'the first offer');

    const second = accept();
    one.socket.conn.close(); // the transport drops: socket.io will reconnect
    await until(() => signalling.state === 'offline', 'offline');
    expect(signalling.transceiver.closed).toBe(false);
    const queued = sdpMessage('ada', { type: 'offer', sdp: 'v=2\r\n' });
    signalling.send(queued);
    const two = await second;
    await until(() => two.received.length === 1, 'rtc:resume');
    expect(two.received).toEqual([{ type: 'rtc:resume', data: { id: 'me', token: 'secret', received: 1 } }]);
    expect(signalling.state).toBe('offline'); // until the server answers
    two.socket.emit('rtc:resumed', { client_id: 'me', received: 1 });
    await until(() => two.received.length === 2 && signalling.state === 'online', 'the queued offer');
    // A buffered copy would come before anything sent later: send something later and look.
    const later = candidateMessage('ada', null);
    signalling.send(later);
    await until(() => two.received.length === 3, 'a later message');
    expect(two.received.slice(1)).toEqual([queued, later]);
    expect(recording.events.map(([name]) => name).filter((name) => name === 'offline' || name === 'online')).toEqual([
      'offline',
      'online',
    ]);
    const gone = once(two.socket, 'disconnect');
    signalling.close();
    expect((await gone)[0]).toBe('client namespace disconnect');
  });

  test('what socket.io buffered to emit on reconnection is dropped on offline (Signalling re-sends it)', () => {
    const listeners = new Map<string, (data: unknown) => void>();
    const socket = {
      sendBuffer: [{ type: 2, data: ['rtc:sdp', {}] }] as unknown[],
      emit: () => undefined,
      on: (type: string, listener: (data: unknown) => void) => listeners.set(type, listener),
      off: () => undefined,
      disconnect: () => undefined,
      io: { reconnection: () => true },
    };
    const transceiver = new SocketIoTransceiver(socket);
    const seen: string[] = [];
    transceiver.onAny((event) => seen.push(event.type));
    listeners.get('disconnect')?.('ping timeout');
    expect(socket.sendBuffer).toEqual([]);
    listeners.get('connect')?.(undefined);
    expect(seen).toEqual(['offline', 'online']);
    socket.io.reconnection = () => false;
    listeners.get('disconnect')?.('transport close');
    expect(seen).toEqual(['offline', 'online', 'close']);
  });

  test.each(['io server disconnect', 'io client disconnect'])('%s closes for good', (reason) => {
    const listeners = new Map<string, (data: unknown) => void>();
    const transceiver = new SocketIoTransceiver({
      emit: () => undefined,
      on: (type: string, listener: (data: unknown) => void) => listeners.set(type, listener),
      off: () => undefined,
      disconnect: () => undefined,
      io: { reconnection: () => true },
    });
    listeners.get('disconnect')?.(reason);
    expect(transceiver.closed).toBe(true);
  });

  test('the server refusing the resume ends the channel and disconnects (no more reconnecting)', async () => {
    const client = reconnecting();
    const first = accept();
    const signalling = new Signalling.socket.io(client);
    signalling.send(joinMessage('lobby'));
    const one = await first;
    await until(() => one.received.length === 1, 'rtc:join');
    one.socket.emit('rtc:joined', { client_id: 'me', peers: [], descriptions: {}, pool: 'lobby', resume: grant });
    await until(() => client.connected, 'connected');
    const second = accept();
    one.socket.conn.close();
    const two = await second;
    await until(() => two.received.length === 1, 'rtc:resume');
    two.socket.emit('rtc:error', { message: 'unknown session', reason: 'resume-refused' });
    await until(() => signalling.closed, 'the channel to end');
    expect(signalling.closeReason?.code).toBe('resume-refused');
    await until(() => !client.connected, 'the socket disconnected');
    expect(client.active).toBe(false);
  });
});
