import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, test } from 'vitest';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { Pool, type PoolEventData } from '../../src/pool.js';
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
