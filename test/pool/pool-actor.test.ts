import { afterEach, describe, expect, test } from 'vitest';
import type { PoolEmitted } from '../../machines/pool.js';
import { createPoolActor, type PoolActor } from '../../src/pool-actor.js';
import { type HubClient, MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

interface Endpoint {
  actor: PoolActor;
  client: HubClient;
  connections: Map<string, SimulatedPeerConnection>;
  emitted: PoolEmitted[];
}

const running: Endpoint[] = [];
afterEach(() => {
  for (const endpoint of running.splice(0)) endpoint.actor.stop();
});

function endpoint(hub: MemoryHub): Endpoint {
  const client = hub.connect();
  const connections = new Map<string, SimulatedPeerConnection>();
  const emitted: PoolEmitted[] = [];
  const actor = createPoolActor({
    messages: client.messages,
    send: client.send,
    closeSignalling: client.leave,
    createPeerConnection: (peerId) => {
      const pc = new SimulatedPeerConnection({ name: peerId });
      connections.set(peerId, pc);
      return pc;
    },
  });
  for (const type of [
    'pool.joined',
    'pool.peer',
    'pool.peerleft',
    'pool.describe',
    'pool.stop',
    'pool.closed',
    'pool.problem',
  ] as const) {
    actor.on(type, (event) => emitted.push(event));
  }
  const created = { actor, client, connections, emitted };
  running.push(created);
  return created;
}

/** Every endpoint knows every other one and each pair negotiated its control channel. */
function meshed(endpoints: Endpoint[]): boolean {
  return endpoints.every((e) => {
    const { peers } = e.actor.getSnapshot().context;
    if (peers.length !== endpoints.length - 1) return false;
    return peers.every((peerId) => {
      const child = e.actor.getSnapshot().children[peerId];
      const pc = e.connections.get(peerId);
      return child?.getSnapshot().matches({ stable: 'idle' }) && pc !== undefined && pc.negotiatedMids().length > 0;
    });
  });
}

describe('the pool actor over an in-memory signalling hub', () => {
  test('endpoints joining one after another form a full mesh, one offer and answer per pair', async () => {
    const hub = new MemoryHub();
    const endpoints = [endpoint(hub), endpoint(hub), endpoint(hub), endpoint(hub)];
    for (const e of endpoints) e.actor.send({ type: 'app.join', pool: 'room' });
    await until(() => meshed(endpoints), 'a full mesh');
    // Six pairs; the side already present offers, the newcomer answers: no collisions.
    expect(hub.sdpMessages).toBe(12);

    for (const e of endpoints) {
      const selfId = e.actor.getSnapshot().context.selfId;
      expect(selfId).toBe(e.client.id);
      expect(e.emitted.filter((x) => x.type === 'pool.problem')).toEqual([]);
      for (const [peerId, pc] of e.connections) {
        const other = endpoints.find((o) => o.client.id === peerId);
        expect(other?.connections.get(selfId as string)?.currentRemoteDescription?.sdp).toBe(
          pc.currentLocalDescription?.sdp,
        );
      }
    }
  });

  test('a leaving endpoint is removed everywhere and its connections are closed', async () => {
    const hub = new MemoryHub();
    const endpoints = [endpoint(hub), endpoint(hub), endpoint(hub)];
    for (const e of endpoints) e.actor.send({ type: 'app.join', pool: 'room' });
    await until(() => meshed(endpoints), 'a full mesh');

    const [leaving, ...staying] = endpoints as [Endpoint, Endpoint, Endpoint];
    const leavingId = leaving.client.id as string;
    leaving.actor.send({ type: 'app.close' });
    expect(leaving.actor.getSnapshot().status).toBe('done');
    for (const pc of leaving.connections.values()) {
      expect(pc.signalingState).toBe('closed');
      expect(pc.listenerCount()).toBe(0);
    }
    expect(Object.keys(leaving.actor.getSnapshot().children)).toEqual([]);

    await until(() => staying.every((e) => !e.actor.getSnapshot().context.peers.includes(leavingId)), 'the leave');
    for (const e of staying) {
      expect(e.actor.getSnapshot().children[leavingId]).toBeUndefined();
      expect(e.connections.get(leavingId)?.signalingState).toBe('closed');
      expect(e.emitted).toContainEqual({ type: 'pool.peerleft', id: leavingId });
    }
    expect(meshed(staying)).toBe(true);
  });

  test('signals about unknown peers are refused without disturbing the pool; descriptions come from the server', async () => {
    const hub = new MemoryHub();
    const endpoints = [endpoint(hub), endpoint(hub)];
    for (const e of endpoints) e.actor.send({ type: 'app.join', pool: 'room' });
    await until(() => meshed(endpoints), 'a mesh');
    const [a, b] = endpoints as [Endpoint, Endpoint];

    a.actor.send({ type: 'signal.sdp', peer: 'nobody', description: { type: 'offer', sdp: 'v=0\r\n' } });
    a.actor.send({ type: 'signal.candidate', from: 'nobody', candidate: null });
    expect(
      a.emitted.filter((x) => x.type === 'pool.problem').map((x) => x.type === 'pool.problem' && x.problem),
    ).toEqual(['unknown-peer', 'unknown-peer']);

    hub.describe('room', b.client.id as string, { name: 'bob' });
    await until(
      () => a.actor.getSnapshot().context.descriptions[b.client.id as string] !== undefined,
      'the description',
    );
    expect(a.actor.getSnapshot().context.descriptions[b.client.id as string]).toEqual({ name: 'bob' });
    expect(meshed(endpoints)).toBe(true);
  });

  test('stopping the actor directly also closes every connection and removes every listener', async () => {
    const hub = new MemoryHub();
    const endpoints = [endpoint(hub), endpoint(hub)];
    for (const e of endpoints) e.actor.send({ type: 'app.join', pool: 'room' });
    await until(() => meshed(endpoints), 'a mesh');
    const [first] = endpoints as [Endpoint, Endpoint];
    first.actor.stop();
    for (const pc of first.connections.values()) {
      expect(pc.signalingState).toBe('closed');
      expect(pc.listenerCount()).toBe(0);
    }
  });

  test('signals before joining are refused', () => {
    const e = endpoint(new MemoryHub());
    e.actor.send({ type: 'signal.sdp', peer: 'someone', description: { type: 'offer', sdp: 'v=0\r\n' } });
    e.actor.send({ type: 'signal.peer', id: 'someone' });
    expect(e.emitted.map((x) => x.type === 'pool.problem' && x.problem)).toEqual(['not-joined', 'not-joined']);
    expect(e.actor.getSnapshot().value).toBe('idle');
    expect(e.connections.size).toBe(0);
  });

  test('the server stopping the pool closes every connection', async () => {
    const hub = new MemoryHub();
    const endpoints = [endpoint(hub), endpoint(hub), endpoint(hub)];
    for (const e of endpoints) e.actor.send({ type: 'app.join', pool: 'room' });
    await until(() => meshed(endpoints), 'a full mesh');
    hub.stop('room');
    await until(() => endpoints.every((e) => e.actor.getSnapshot().status === 'done'), 'every pool stopped');
    for (const e of endpoints) {
      expect(e.emitted).toContainEqual({ type: 'pool.stop' });
      for (const pc of e.connections.values()) expect(pc.signalingState).toBe('closed');
    }
  });
});

describe('iceDisconnectedRestartMs reaches every negotiation child', () => {
  /** Two endpoints meshed through the hub, A's children given the option (or not). */
  async function pair(iceDisconnectedRestartMs: number | undefined) {
    const hub = new MemoryHub();
    const made: Endpoint[] = [];
    for (const name of ['a', 'b']) {
      const client = hub.connect();
      const connections = new Map<string, SimulatedPeerConnection>();
      const actor = createPoolActor({
        messages: client.messages,
        send: client.send,
        closeSignalling: client.leave,
        createPeerConnection: (peerId) => {
          const pc = new SimulatedPeerConnection({ name: `${name}->${peerId}` });
          connections.set(peerId, pc);
          return pc;
        },
        ...(name === 'a' && iceDisconnectedRestartMs !== undefined ? { iceDisconnectedRestartMs } : {}),
      });
      const created = { actor, client, connections, emitted: [] };
      running.push(created);
      made.push(created);
      actor.send({ type: 'app.join', pool: 'room' });
      await until(() => actor.getSnapshot().context.peers.length === made.length - 1, `${name} joined`);
    }
    await until(() => meshed(made), 'a meshed pair');
    const [a] = made;
    const pc = a?.connections.values().next().value;
    if (!a || !pc) throw new Error('a connection from a');
    return { a, pc };
  }

  test('with it, a lasting disconnected restarts ICE; without it, nothing happens before failed', async () => {
    for (const option of [300, undefined]) {
      const { pc } = await pair(option);
      let restarts = 0;
      const restartIce = pc.restartIce.bind(pc);
      pc.restartIce = () => {
        restarts += 1;
        restartIce();
      };
      pc.simulateIceState('connected');
      pc.simulateIceState('disconnected');
      if (option === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 600));
        expect(restarts).toBe(0);
      } else await until(() => restarts === 1, 'the ICE restart after the delay');
    }
  });
});
