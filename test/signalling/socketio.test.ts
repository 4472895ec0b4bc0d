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
