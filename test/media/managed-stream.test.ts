import { afterEach, describe, expect, test } from 'vitest';
import { media, type TrackLike } from '../../src/media.js';
import { Pool } from '../../src/pool.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

/** A simulated connection that also takes tracks (each becomes a transceiver). */
class TrackConnection extends SimulatedPeerConnection {
  static all: TrackConnection[] = [];
  readonly senders: Array<{ track: TrackLike }> = [];
  readonly removed: unknown[] = [];
  constructor() {
    super();
    TrackConnection.all.push(this);
  }
  addTrack(track: TrackLike): { track: TrackLike } {
    this.addTransceiver(track.kind === 'audio' ? 'audio' : 'video');
    const sender = { track };
    this.senders.push(sender);
    return sender;
  }
  removeTrack(sender: unknown): void {
    this.removed.push(sender);
  }
}

function fakeTrack(kind: 'audio' | 'video'): TrackLike & { end(): void } {
  const listeners = new Set<() => void>();
  const track = {
    id: `${kind}-${Math.random().toString(36).slice(2)}`,
    kind,
    enabled: true,
    readyState: 'live',
    addEventListener: (_: 'ended', listener: () => void) => listeners.add(listener),
    removeEventListener: (_: 'ended', listener: () => void) => listeners.delete(listener),
    end() {
      track.readyState = 'ended';
      for (const listener of listeners) listener();
    },
  };
  return track;
}

const pools: Pool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
  TrackConnection.all = [];
});

function pool(hub: MemoryHub): Pool {
  const created = new Pool({}, hubSignalling(hub), { RTCPeerConnection: TrackConnection as never });
  pools.push(created);
  return created;
}

describe('media.ManagedStream', () => {
  test('sends to present and future peers, mutes without renegotiating, closes by removing its tracks', async () => {
    const hub = new MemoryHub();
    const alice = pool(hub);
    await alice.join('room');
    await pool(hub).join('room');
    await until(() => alice.nconnections === 1, 'bob');

    const audio = fakeTrack('audio');
    const video = fakeTrack('video');
    const shared = new media.ManagedStream({ id: 'camera', getTracks: () => [audio, video] }, alice);
    const [toBob] = alice.connections;
    const bobConnection = TrackConnection.all.find((pc) => pc.senders.length > 0);
    expect(bobConnection?.senders.map((s) => s.track.kind)).toEqual(['audio', 'video']);

    await pool(hub).join('room');
    await until(() => alice.nconnections === 2, 'carol');
    await until(() => TrackConnection.all.filter((pc) => pc.senders.length === 2).length === 2, 'tracks to carol');

    expect(shared.muted()).toBe(false);
    shared.mute('audio');
    expect([audio.enabled, video.enabled]).toEqual([false, true]);
    expect(shared.muted('audio')).toBe(true);
    expect(shared.muted()).toBe(false);
    shared.unmute();
    expect(shared.muted('audio')).toBe(false);

    let closed = 0;
    shared.addEventListener('close', () => closed++);
    shared.close();
    expect(shared.closed).toBe(true);
    expect(closed).toBe(1);
    expect(TrackConnection.all.flatMap((pc) => pc.removed)).toHaveLength(4);
    expect(toBob?.id).toBeTruthy();
  });

  test('ends with the pool, whether it closes or the server stops it, without touching closed connections', async () => {
    for (const end of ['close', 'stop'] as const) {
      const hub = new MemoryHub();
      const alice = pool(hub);
      await alice.join('room');
      await pool(hub).join('room');
      await until(() => alice.nconnections === 1, 'bob');
      const shared = new media.ManagedStream({ id: 's', getTracks: () => [fakeTrack('audio')] }, alice);
      for (const pc of TrackConnection.all) {
        pc.removeTrack = () => {
          throw new Error('removeTrack on a closed connection');
        };
      }
      if (end === 'close') alice.close();
      else hub.stop('room');
      await until(() => shared.closed, `the stream to end on ${end}`);
    }
  });

  test('dispatches close when every track has ended', async () => {
    const hub = new MemoryHub();
    const alice = pool(hub);
    await alice.join('room');
    const track = fakeTrack('video');
    const shared = new media.ManagedStream({ id: 's', getTracks: () => [track] }, alice);
    let closed = false;
    shared.addEventListener('close', () => {
      closed = true;
    });
    track.end();
    expect(closed).toBe(true);
    expect(shared.closed).toBe(true);
  });
});
