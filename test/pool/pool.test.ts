import { firstValueFrom, Subject, toArray } from 'rxjs';
import { afterEach, describe, expect, test } from 'vitest';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { Pool, PoolError, type PoolEventData } from '../../src/pool.js';
import type { ClientMessage, ServerMessage } from '../../src/protocol/index.js';
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

  test('a managed connection only takes track and datachannel listeners', async () => {
    const hub = new MemoryHub();
    const [alice, bob] = [pool(hub), pool(hub)];
    await alice.join('room');
    const bobId = await bob.join('room');
    await until(() => alice.nconnections === 1, 'a connection');
    const connection = alice.getConnection(bobId) as ManagedConnection;
    expect(() => connection.addEventListener('message', () => undefined)).toThrow(
      /only dispatches "track" and "datachannel"/,
    );
    expect(() => connection.addEventListener('track', () => undefined)).not.toThrow();
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
