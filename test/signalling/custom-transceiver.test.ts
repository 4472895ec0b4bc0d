/**
 * Writing your own transceiver, by example: signalling over anything that
 * can carry `{ type, data }` both ways. Here the "server" is a few lines in
 * the same process, and two endpoints meet through it.
 *
 * A transceiver does three things:
 *   - `send(type, data)` hands one event to the server;
 *   - for each event from the server it calls `this.receive(type, data)`;
 *   - `close()` closes the transport, then calls `super.close()`.
 * Everything else (parsing both protocol versions, typed messages, the
 * events of the original rtcpool, errors) is Signalling's job.
 */
import { describe, expect, test } from 'vitest';
import { joinMessage, type ServerMessage, SignallingError, sdpMessage } from '../../src/protocol/index.js';
import { Signalling, signalling, Transceiver, transceiver } from '../../src/signalling/index.js';
import { record } from './record.js';

/** A toy signalling server: one pool, relays descriptions, announces who joins and leaves. */
class InMemoryServer {
  readonly #endpoints = new Map<string, InMemoryTransceiver>();
  readonly #pool = new Set<string>();
  #nextId = 1;

  connect(endpoint: InMemoryTransceiver): string {
    const id = `endpoint-${this.#nextId++}`;
    this.#endpoints.set(id, endpoint);
    return id;
  }

  handle(from: string, type: string, data: { pool?: string; to?: string; description?: unknown }): void {
    if (type === 'rtc:join') {
      const peers = [...this.#pool];
      this.#pool.add(from);
      this.#to(from, 'rtc:joined', { client_id: from, peers, descriptions: {}, pool: data.pool });
      for (const id of peers) this.#to(id, 'rtc:peer', { id: from });
    } else if (type === 'rtc:sdp' && data.to) {
      this.#to(data.to, 'rtc:sdp', { peer: from, description: data.description });
    }
  }

  disconnect(id: string): void {
    this.#endpoints.delete(id);
    this.#pool.delete(id);
    for (const other of this.#pool) this.#to(other, 'rtc:close', { id });
  }

  /** Each delivery is its own task, as over a network. */
  #to(id: string, type: string, data: unknown): void {
    setTimeout(() => this.#endpoints.get(id)?.deliver(type, data));
  }
}

/** The custom transceiver: the whole of it. */
class InMemoryTransceiver extends Transceiver {
  readonly #server: InMemoryServer;
  readonly #id: string;

  constructor(server: InMemoryServer) {
    super();
    this.#server = server;
    this.#id = server.connect(this);
  }

  override send(type: string, data: unknown): void {
    if (this.closed) throw new Error(`InMemoryTransceiver: closed, ${type} not sent`);
    setTimeout(() => this.#server.handle(this.#id, type, data as Record<string, string>));
  }

  override close(): void {
    this.#server.disconnect(this.#id);
    super.close();
  }

  /** Called by the server for each event it sends this endpoint. */
  deliver(type: string, data: unknown): void {
    this.receive(type, data);
  }
}

/** The next message of a given type. */
function next<T extends ServerMessage['type']>(channel: Signalling, type: T) {
  return new Promise<Extract<ServerMessage, { type: T }>>((resolve) => {
    const subscription = channel.messages.subscribe((message) => {
      if (message.type !== type) return;
      subscription.unsubscribe();
      resolve(message as Extract<ServerMessage, { type: T }>);
    });
  });
}

describe('a custom transceiver', () => {
  test('two endpoints join through an in-memory server and exchange an offer', async () => {
    const server = new InMemoryServer();
    const ada = new Signalling(new InMemoryTransceiver(server));
    const bob = new Signalling(new InMemoryTransceiver(server));

    ada.send(joinMessage('lobby'));
    expect((await next(ada, 'rtc:joined')).data).toEqual({
      client_id: 'endpoint-1',
      peers: [],
      descriptions: {},
      pool: 'lobby',
    });

    // Events in the style of the original rtcpool work too.
    const adaHearsOfBob = new Promise<CustomEvent<{ id: string }>>((resolve) => ada.addEventListener('peer', resolve));
    bob.send(joinMessage('lobby'));
    const bobJoined = await next(bob, 'rtc:joined');
    expect(bobJoined.data.peers).toEqual(['endpoint-1']);
    expect(bobJoined.data.descriptions).toEqual({ 'endpoint-1': null });
    expect((await adaHearsOfBob).detail).toEqual({ id: 'endpoint-2' });

    // The side already present makes the offer.
    const offerEvent = new Promise<CustomEvent>((resolve) => bob.addEventListener('offer', resolve));
    ada.send(sdpMessage('endpoint-2', { type: 'offer', sdp: 'v=0\r\n' }));
    expect((await offerEvent).detail).toEqual({ peer: 'endpoint-1', description: { type: 'offer', sdp: 'v=0\r\n' } });

    const left = next(ada, 'rtc:close');
    bob.close();
    expect((await left).data).toEqual({ id: 'endpoint-2' });
    ada.close();
  });

  test('in the style of the original: extend `transceiver`, dispatch CustomEvents, wrap with `new signalling(...)`', () => {
    class Loopback extends transceiver {
      readonly sent: unknown[] = [];
      override send(type: string, data: unknown): void {
        this.sent.push({ type, data });
      }
      /** What the original's transceivers did for each server event. */
      fromServer(type: string, data: unknown): void {
        this.dispatchEvent(new CustomEvent(type, { detail: data }));
      }
    }
    const loopback = new Loopback();
    const channel = new signalling(loopback);
    expect(channel).toBeInstanceOf(Signalling);
    const recording = record(channel);

    loopback.fromServer('rtc:request_offers', { for: 'ada' });
    loopback.fromServer('rtc:answer', { for: 'ada', answer: { type: 'answer', sdp: 'v=0\r\n' } });
    channel.send(joinMessage('lobby'));

    expect(recording.events.map(([name]) => name)).toEqual(['peer', 'request', 'sdp', 'answer']);
    expect(loopback.sent).toEqual([joinMessage('lobby')]);
    expect(signalling.websocket).toBe(Signalling.websocket);
    expect(signalling.socket.io).toBe(Signalling.socket.io);
  });
});

describe('Signalling over any transceiver', () => {
  test('a transceiver that forgot to override send says so', () => {
    class Forgetful extends Transceiver {}
    expect(() => new Signalling(new Forgetful()).send(joinMessage('lobby'))).toThrow(
      /Forgetful cannot send rtc:join: override Transceiver.send/,
    );
  });

  test('an error event whose detail is not a SignallingError is wrapped, and the channel carries on', () => {
    const transport = new Transceiver();
    const channel = new Signalling(transport);
    const recording = record(channel);
    const cause = new Error('socket hiccup');
    transport.dispatchEvent(new CustomEvent('error', { detail: cause }));
    transport.dispatchEvent(new CustomEvent('error', { detail: Object.create(null) }));
    transport.dispatchEvent(new Event('rtc:stop'));
    transport.dispatchEvent(new CustomEvent('rtc:stop', { detail: {} }));
    expect(recording.errors).toHaveLength(3);
    expect(recording.errors[0]).toBeInstanceOf(SignallingError);
    expect(recording.errors[0]?.cause).toBe(cause);
    // A plain Event carries no data: the protocol wants an object.
    expect(recording.errors[2]?.code).toBe('malformed-frame');
    expect(recording.messages).toEqual([{ type: 'rtc:stop', data: {} }]);
  });

  test("the transport closing completes the streams; nothing is dispatched after the transceiver's close", () => {
    const transport = new Transceiver();
    const channel = new Signalling(transport);
    const recording = record(channel);
    let closes = 0;
    transport.addEventListener('close', () => closes++);
    transport.close();
    transport.close();
    transport.dispatchEvent(new CustomEvent('rtc:stop', { detail: {} }));
    expect(closes).toBe(1);
    expect(recording.completed).toEqual({ messages: true, errors: true });
    expect(recording.messages).toEqual([]);
    expect(channel.closed).toBe(true);
  });

  test('close() completes the streams even if the transceiver never reports its close', () => {
    class Silent extends Transceiver {
      override close(): void {}
    }
    const channel = new Signalling(new Silent());
    const recording = record(channel);
    channel.close();
    expect(recording.completed).toEqual({ messages: true, errors: true });
  });

  test('a throwing subscriber does not stop the others or the stream', async () => {
    const transport = new InMemoryTransceiverStub();
    const channel = new Signalling(transport);
    const seen: string[] = [];
    const reported: unknown[] = [];
    const onUncaught = (error: unknown) => reported.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      channel.messages.subscribe(() => {
        throw new Error('subscriber bug');
      });
      channel.messages.subscribe((message) => seen.push(message.type));
      transport.push('rtc:peer', { id: 'ada' });
      transport.push('rtc:stop', {});
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(seen).toEqual(['rtc:peer', 'rtc:stop']);
    expect(reported).toHaveLength(2);
  });
});

/** The smallest transceiver a test needs: events pushed by hand, sends dropped. */
class InMemoryTransceiverStub extends Transceiver {
  override send(): void {}
  push(type: string, data: unknown): void {
    this.receive(type, data);
  }
}
