import { firstValueFrom, Subject, toArray } from 'rxjs';
import { afterEach, describe, expect, test } from 'vitest';
import { NegotiationError } from '../../machines/errors.js';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { Pool } from '../../src/pool.js';
import { PoolError, type PoolEventData } from '../../src/pool-events.js';
import type { ClientMessage, ServerMessage } from '../../src/protocol/index.js';
import { RtcpoolError } from '../../src/shared/errors.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

const pools: Pool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
});

function pool(hub: MemoryHub): Pool & { seen: PoolEventData[] } {
  const created = new Pool({ iceServers: [] }, hubSignalling(hub), {
    RTCPeerConnection: SimulatedPeerConnection as never,
  }) as Pool & { seen: PoolEventData[] };
  created.seen = [];
  created.events$.subscribe((event) => created.seen.push(event));
  pools.push(created);
  return created;
}

describe('Pool', () => {
  test('a negotiation error reaches the application: an error event naming the connection, and a warn line', async () => {
    // The peer's connection refuses every remote description, as a stack does with SDP it cannot accept.
    class Refusing extends SimulatedPeerConnection {
      override setRemoteDescription(): Promise<void> {
        return Promise.reject(new DOMException('Failed to parse SessionDescription', 'OperationError'));
      }
    }
    const messages = new Subject<ServerMessage>();
    const logged: Array<{ level: string; area: string; message: string }> = [];
    const refusing = new Pool(
      { iceServers: [] },
      { messages, send: () => undefined, close: () => messages.complete() },
      {
        RTCPeerConnection: Refusing as never,
        logger: { log: (level, area, message) => logged.push({ level, area, message }) },
      },
    );
    pools.push(refusing);
    const errors: PoolEventData[] = [];
    refusing.events$.subscribe((event) => event.type === 'error' && errors.push(event));
    const listened: Event[] = [];
    refusing.events.addEventListener('error', (event) => listened.push(event));

    const joined = refusing.join('room');
    messages.next({ type: 'rtc:joined', data: { client_id: 'me', peers: ['ada'], descriptions: {}, pool: 'room' } });
    await joined;
    messages.next({ type: 'rtc:sdp', data: { peer: 'ada', description: { type: 'offer', sdp: 'v=0\r\n' } } });
    await until(() => errors.length > 0, 'the error event');

    const [event] = errors;
    expect(event?.type === 'error' && event.connection).toBe(refusing.getConnection('ada'));
    expect(event?.type === 'error' && event.error).toBeInstanceOf(NegotiationError);
    expect(event?.type === 'error' && event.error).toBeInstanceOf(RtcpoolError);
    expect(event?.type === 'error' && event.error.code).toBe('remote-offer-rejected');
    expect(listened).toHaveLength(1);
    expect(logged).toContainEqual({
      level: 'warn',
      area: 'negotiation',
      message: expect.stringContaining('remote-offer-rejected'),
    });
    // The machine recovered: the connection is still there, ready for the next offer.
    await until(
      () => JSON.stringify(refusing.getConnection('ada')?.negotiationState) === '{"stable":"idle"}',
      'stable',
    );
    // And each state it went through was logged at debug, with the peer's id.
    expect(logged.filter(({ level, message }) => level === 'debug' && message.startsWith('ada: '))).not.toEqual([]);
  });

  test('a refused join rejects with join-refused and leaves the pool idle to join again', async () => {
    const messages = new Subject<ServerMessage>();
    const sent: ClientMessage[] = [];
    const replies: ServerMessage[] = [
      { type: 'rtc:error', data: { message: 'pool "full" has 2 members', reason: 'pool-full' } },
      { type: 'rtc:joined', data: { client_id: 'me', peers: [], descriptions: {}, pool: 'other' } },
    ];
    const refusing = new Pool(
      { iceServers: [] },
      {
        messages,
        send: (message) => {
          sent.push(message);
          const reply = replies.shift();
          if (reply) setImmediate(() => messages.next(reply));
        },
        close: () => messages.complete(),
      },
      { RTCPeerConnection: SimulatedPeerConnection as never },
    );
    pools.push(refusing);
    const errors: PoolEventData[] = [];
    refusing.events$.subscribe((event) => event.type === 'error' && errors.push(event));

    const refusal = await refusing.join('full').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PoolError);
    expect(refusal).toMatchObject({ code: 'join-refused', message: expect.stringContaining('pool-full') });
    expect(errors).toHaveLength(1);
    expect(refusing.id).toBeNull();

    await expect(refusing.join('other')).resolves.toBe('me');
    expect(sent.map((message) => message.type)).toEqual(['rtc:join', 'rtc:join']);
  });

  test('a server error that is not a refusal does not end the join', async () => {
    const messages = new Subject<ServerMessage>();
    const waiting = new Pool(
      { iceServers: [] },
      {
        messages,
        send: () => {
          setImmediate(() => {
            messages.next({ type: 'rtc:error', data: { message: 'slow down', reason: 'rate-limited' } });
            messages.next({ type: 'rtc:joined', data: { client_id: 'me', peers: [], descriptions: {}, pool: 'p' } });
          });
        },
        close: () => messages.complete(),
      },
      { RTCPeerConnection: SimulatedPeerConnection as never },
    );
    pools.push(waiting);
    await expect(waiting.join('p')).resolves.toBe('me');
  });

  test('join resolves with the id; peers, events and on* handlers follow the original API', async () => {
    const hub = new MemoryHub();
    const alice = pool(hub);
    const bob = pool(hub);
    const onpeer: ManagedConnection[] = [];
    alice.events.onpeer = ({ detail }) => onpeer.push(detail.connection);
    let joinedVia = '';
    bob.events.addEventListener('join', (event) => {
      joinedVia = (event as CustomEvent<{ id: string }>).detail.id;
    });

    const aliceId = await alice.join('room');
    const bobId = await bob.join('room');
    expect(alice.id).toBe(aliceId);
    expect(joinedVia).toBe(bobId);
    expect(() => alice.join('room')).toThrow(/already/);

    await until(() => alice.nconnections === 1 && bob.nconnections === 1, 'both connections');
    expect(onpeer.map((c) => c.id)).toEqual([bobId]);
    expect(alice.getConnection(bobId)?.id).toBe(bobId);
    expect(bob.connections.map((c) => c.id)).toEqual([aliceId]);
    await until(() => JSON.stringify(alice.getConnection(bobId)?.negotiationState) === '{"stable":"idle"}', 'stable');

    hub.describe('room', bobId, { name: 'Bob' });
    await until(() => alice.getDescription(bobId) !== null, 'the description');
    expect(alice.get_description(bobId)).toEqual({ name: 'Bob' });
    expect(alice.getConnection(bobId)?.description).toEqual({ name: 'Bob' });
    expect(alice.seen.map((e) => e.type)).toEqual(['join', 'peer', 'describe']);
  });

  test('a managed connection only takes track, datachannel and connectionstatechange listeners', async () => {
    const hub = new MemoryHub();
    const [alice, bob] = [pool(hub), pool(hub)];
    await alice.join('room');
    const bobId = await bob.join('room');
    await until(() => alice.nconnections === 1, 'a connection');
    const connection = alice.getConnection(bobId) as ManagedConnection;
    expect(() => connection.addEventListener('message', () => undefined)).toThrow(
      /dispatches "track", "datachannel", "connectionstatechange", not "message"/,
    );
    expect(() => connection.addEventListener('track', () => undefined)).not.toThrow();
    expect(() => connection.addEventListener('connectionstatechange', () => undefined)).not.toThrow();
  });

  test("a connection shows the peer's media and restarts ICE through the negotiation machine", async () => {
    const hub = new MemoryHub();
    const [alice, bob] = [pool(hub), pool(hub)];
    await alice.join('room');
    const bobId = await bob.join('room');
    await until(() => alice.nconnections === 1, 'a connection');
    const connection = alice.getConnection(bobId) as ManagedConnection;
    const stable = () => JSON.stringify(connection.negotiationState) === '{"stable":"idle"}';
    await until(() => stable() && connection.remoteMedia.length === 1, 'negotiated');
    // Alice offered the control channel; bob's answer is her remote description.
    expect(connection.remoteMedia).toEqual([
      { kind: 'application', mid: expect.any(String), direction: 'sendrecv', codecs: [], stopped: false },
    ]);
    const ufrag = () => /a=ice-ufrag:(\S+)/.exec(connection.peerConnection.localDescription?.sdp ?? '')?.[1];
    const before = ufrag();
    const sdpBefore = hub.sdpMessages;
    connection.restartIce();
    await until(() => hub.sdpMessages === sdpBefore + 2 && stable(), 'the restart negotiated');
    expect(ufrag()).not.toBe(before);
  });

  test('negotiate() offers what no negotiationneeded announced, and costs nothing when nothing changed', async () => {
    const hub = new MemoryHub();
    const [alice, bob] = [pool(hub), pool(hub)];
    await alice.join('room');
    const bobId = await bob.join('room');
    await until(() => alice.nconnections === 1, 'a connection');
    const connection = alice.getConnection(bobId) as ManagedConnection;
    const stable = () => JSON.stringify(connection.negotiationState) === '{"stable":"idle"}';
    await until(() => stable() && connection.remoteMedia.length === 1, 'negotiated');

    const pc = connection.peerConnection as unknown as SimulatedPeerConnection;
    let offersCreated = 0;
    const createOffer = pc.createOffer.bind(pc);
    pc.createOffer = (options) => {
      offersCreated += 1;
      return createOffer(options);
    };
    const idle = hub.sdpMessages;
    connection.negotiate();
    await until(() => offersCreated === 1 && stable(), 'an offer created, and back to stable');
    // The offer would change nothing, so it was dropped, not sent.
    expect(hub.sdpMessages).toBe(idle);

    // A change the connection does not announce (as setCodecPreferences is not, anywhere): only negotiate() sends it.
    pc.addTransceiverUnannounced('audio');
    connection.negotiate();
    await until(() => hub.sdpMessages === idle + 2 && stable(), 'the change negotiated');
    expect(connection.remoteMedia.map(({ kind }) => kind)).toEqual(['application', 'audio']);
  });

  test('close() ends everything: close event with null, streams complete, connections closed', async () => {
    const hub = new MemoryHub();
    const [alice, bob] = [pool(hub), pool(hub)];
    await alice.join('room');
    const bobId = await bob.join('room');
    await until(() => alice.nconnections === 1 && bob.nconnections === 1, 'a connection');
    const peers = firstValueFrom(bob.peers$.pipe(toArray()));
    let closedWith: unknown = 'not yet';
    alice.events.onclose = ({ detail }) => {
      closedWith = detail;
    };
    const aliceSaw = firstValueFrom(alice.events$.pipe(toArray()));

    alice.close();
    expect(closedWith).toBeNull();
    expect(alice.nconnections).toBe(0);
    expect((await aliceSaw).map((e) => e.type)).toEqual(['close']);

    await until(() => bob.nconnections === 0, 'bob to see the leave');
    expect(bob.seen.at(-1)).toMatchObject({ type: 'close', connection: { id: alice.id } });
    bob.close();
    expect(await peers).toEqual([[alice.id], []]);
    expect(bobId).toBeTruthy();
  });
});
