import { afterEach, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { Pool } from '../../src/pool.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

const pools: Pool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
});

/**
 * The first value inside `value` that is not plain data (a class instance, a
 * function), with its path. One function is expected: the negotiation's
 * `lookup`, through which its effects find their connection. Serialization
 * leaves a function out, so it cannot freeze an inspector the way a live
 * connection would; any other function is a leak.
 */
function firstLiveObject(value: unknown, path = 'context'): string | null {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' && !path.endsWith('.lookup') ? path : null;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null) {
    return `${path} (${prototype?.constructor?.name ?? 'unknown'})`;
  }
  for (const [key, inner] of Object.entries(value)) {
    const found = firstLiveObject(inner, `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

test("an inspector sees the pool's and every peer's snapshots, and no live object in any context", async () => {
  const hub = new MemoryHub();
  const inspected: InspectionEvent[] = [];
  const watched = new Pool({}, hubSignalling(hub), {
    RTCPeerConnection: SimulatedPeerConnection as never,
    inspect: (event) => inspected.push(event),
  });
  const other = new Pool({}, hubSignalling(hub), { RTCPeerConnection: SimulatedPeerConnection as never });
  pools.push(watched, other);
  await watched.join('room');
  const otherId = await other.join('room');
  await until(() => JSON.stringify(watched.getConnection(otherId)?.negotiationState) === '{"stable":"idle"}', 'stable');

  const snapshots = inspected.filter((event) => event.type === '@xstate.snapshot');
  const bySource = (id: string) => snapshots.filter((event) => (event.actorRef as { id?: string }).id === id);
  const poolSnapshots = snapshots.filter((event) => event.actorRef === watched.actor);
  expect(poolSnapshots.length).toBeGreaterThan(0);
  expect(bySource(otherId).length).toBeGreaterThan(0);
  expect(bySource(otherId).at(-1)?.snapshot).toMatchObject({ value: { stable: 'idle' } });

  for (const event of snapshots) {
    const context = (event.snapshot as { context?: unknown }).context;
    expect(firstLiveObject(context)).toBeNull();
    expect(() => JSON.stringify(context)).not.toThrow();
    expect(JSON.stringify(context) ?? '').not.toContain('lookup');
  }
});

test('the pool and its peers stream to a Stately WebSocket inspector', async () => {
  const { WebSocketServer } = await import('ws');
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const received: string[] = [];
  server.on('connection', (socket) => socket.on('message', (data) => received.push(String(data))));
  const { port } = server.address() as { port: number };
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  try {
    const hub = new MemoryHub();
    const watched = new Pool({}, hubSignalling(hub), {
      RTCPeerConnection: SimulatedPeerConnection as never,
      inspect: inspector.inspect,
    });
    const other = new Pool({}, hubSignalling(hub), { RTCPeerConnection: SimulatedPeerConnection as never });
    pools.push(watched, other);
    await watched.join('room');
    const otherId = await other.join('room');
    await until(
      () => received.some((frame) => frame.includes(otherId) && frame.includes('@xstate.snapshot')),
      'frames',
    );
    const snapshots = received
      .map((frame) => JSON.parse(frame) as { type: string })
      .filter((e) => e.type === '@xstate.snapshot');
    expect(snapshots.length).toBeGreaterThan(1);
  } finally {
    inspector.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
