import { afterEach, describe, expect, test } from 'vitest';
import { media, type TrackLike } from '../../src/media.js';
import { Pool } from '../../src/pool.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

interface FakeTrack extends TrackLike {
  readyState: string;
  end(): void;
}

interface FakeStream {
  readonly id: string;
  getTracks(): FakeTrack[];
  addTrack(track: FakeTrack): void;
  removeTrack(track: FakeTrack): void;
}

/** A sender as replaceTrack sees it: which track it carries, how many times it was switched. */
interface FakeSender {
  track: FakeTrack | null;
  replaced: number;
  replaceTrack(track: FakeTrack | null): Promise<void>;
}

/** A simulated connection that also takes tracks (each becomes a transceiver): a pool's implementation of its own. */
class TrackConnection extends SimulatedPeerConnection {
  static all: TrackConnection[] = [];
  readonly senders: FakeSender[] = [];
  readonly removed: FakeSender[] = [];
  /** Negotiations this connection asked for: a replaced track must not add one. */
  negotiationsAsked = 0;
  constructor() {
    super();
    TrackConnection.all.push(this);
    this.addEventListener('negotiationneeded', () => this.negotiationsAsked++);
  }
  override createDataChannel(label: string) {
    super.createDataChannel(label);
    return { label, readyState: 'connecting', addEventListener() {}, removeEventListener() {} };
  }
  addTrack(track: FakeTrack, ..._streams: FakeStream[]): FakeSender {
    this.addTransceiver(track.kind === 'audio' ? 'audio' : 'video');
    const sender: FakeSender = {
      track,
      replaced: 0,
      async replaceTrack(next) {
        sender.track = next;
        sender.replaced++;
      },
    };
    this.senders.push(sender);
    return sender;
  }
  removeTrack(sender: FakeSender): void {
    this.removed.push(sender);
  }
  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }
}

function fakeTrack(kind: 'audio' | 'video'): FakeTrack {
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

function fakeStream(id: string, ...initial: FakeTrack[]): FakeStream {
  const tracks = [...initial];
  return {
    id,
    getTracks: () => [...tracks],
    addTrack: (track) => tracks.push(track),
    removeTrack: (track) => tracks.splice(tracks.indexOf(track), 1),
  };
}

const pools: Pool<TrackConnection, object>[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
  TrackConnection.all = [];
});

function pool(hub: MemoryHub): Pool<TrackConnection, object> {
  const created = new Pool({}, hubSignalling(hub), { RTCPeerConnection: TrackConnection });
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
    const shared = new media.ManagedStream(fakeStream('camera', audio, video), alice);
    const [toBob] = alice.connections;
    const bobConnection = TrackConnection.all.find((pc) => pc.senders.length > 0);
    expect(bobConnection?.senders.map((s) => s.track?.kind)).toEqual(['audio', 'video']);

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
      const shared = new media.ManagedStream(fakeStream('s', fakeTrack('audio')), alice);
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
    const shared = new media.ManagedStream(fakeStream('s', track), alice);
    let closed = false;
    shared.addEventListener('close', () => {
      closed = true;
    });
    track.end();
    expect(closed).toBe(true);
    expect(shared.closed).toBe(true);
  });

  test('replaceTrack swaps what every peer receives, present and later, with no renegotiation', async () => {
    const hub = new MemoryHub();
    const alice = pool(hub);
    await alice.join('room');
    await pool(hub).join('room');
    await until(() => alice.nconnections === 1, 'bob');
    const camera = fakeTrack('video');
    const stream = fakeStream('camera', fakeTrack('audio'), camera);
    const shared = new media.ManagedStream(stream, alice);
    const [toBob] = TrackConnection.all.filter((pc) => pc.senders.length > 0);
    await until(() => JSON.stringify(alice.connections[0]?.negotiationState) === '{"stable":"idle"}', 'negotiated');
    const asked = toBob?.negotiationsAsked ?? -1;

    shared.mute('video');
    const screen = fakeTrack('video');
    await shared.replaceTrack('video', screen);
    expect(toBob?.senders.map((sender) => sender.track)).toEqual([expect.objectContaining({ kind: 'audio' }), screen]);
    expect(toBob?.senders[1]?.replaced).toBe(1);
    expect(toBob?.negotiationsAsked).toBe(asked);
    expect(screen.enabled).toBe(false); // the muted state goes with the kind
    expect(shared.tracks).toContain(screen);
    expect(shared.tracks).not.toContain(camera);
    expect(stream.getTracks()).toContain(screen);
    // Ending the old track no longer concerns the stream.
    camera.end();
    expect(shared.closed).toBe(false);

    // A later peer receives the new track.
    await pool(hub).join('room');
    await until(() => alice.nconnections === 2, 'carol');
    const toCarol = TrackConnection.all.find((pc) => pc !== toBob && pc.senders.length === 2);
    expect(toCarol?.senders.map((sender) => sender.track)).toContain(screen);

    await expect(shared.replaceTrack('audio', fakeTrack('video'))).rejects.toThrow(TypeError);
    shared.close();
  });

  test('addTrack and removeTrack reach every peer now and every later one', async () => {
    const hub = new MemoryHub();
    const alice = pool(hub);
    await alice.join('room');
    await pool(hub).join('room');
    await until(() => alice.nconnections === 1, 'bob');
    const shared = new media.ManagedStream(fakeStream('camera', fakeTrack('audio')), alice);
    const video = fakeTrack('video');
    shared.addTrack(video);
    const toBob = TrackConnection.all.find((pc) => pc.senders.length > 0);
    expect(toBob?.senders.map((sender) => sender.track?.kind)).toEqual(['audio', 'video']);

    await pool(hub).join('room');
    await until(() => alice.nconnections === 2, 'carol');
    const toCarol = TrackConnection.all.find((pc) => pc !== toBob && pc.senders.length > 0);
    expect(toCarol?.senders.map((sender) => sender.track?.kind)).toEqual(['audio', 'video']);

    shared.removeTrack(video);
    expect(TrackConnection.all.flatMap((pc) => pc.removed.map((sender) => sender.track))).toEqual([video, video]);
    await pool(hub).join('room');
    await until(() => alice.nconnections === 3, 'dan');
    const toDan = TrackConnection.all.find((pc) => pc !== toBob && pc !== toCarol && pc.senders.length > 0);
    expect(toDan?.senders.map((sender) => sender.track?.kind)).toEqual(['audio']);
    shared.close();
  });
});
