/**
 * The controls a WebRTC application reaches for, on real stacks: two Pools
 * on @roamhq/wrtc meshed through the in-memory hub (which counts every SDP
 * message it relays). `ManagedStream.replaceTrack` swaps the picture without
 * a single SDP message; `ManagedConnection.restartIce` from both sides at once,
 * in the middle of a burst of track adds, settles with new ICE credentials and
 * a working channel; `getStats` names the selected candidate pair;
 * `connectionState$` follows the connection and completes when the peer leaves.
 */
import wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, test } from 'vitest';
import type { PeerConnectionState } from '../../machines/types.js';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { media } from '../../src/media.js';
import { Pool } from '../../src/pool.js';
import type { PoolEventError } from '../../src/pool-events.js';
import { type HubTransceiver, hubTransceiverSignalling } from '../support/hub-transceiver.js';
import { MemoryHub } from '../support/memory-hub.js';
import { HalvesProbe, PatternVideo } from '../support/pattern-video.js';
import { type ChannelLike, collectMessages, iceUfrag } from '../support/real-stacks.js';
import { eventually, until } from '../support/wait.js';

/** wrtc's types are the DOM's. */
type PeerConnectionClass = new (configuration?: RTCConfiguration) => RTCPeerConnection;

/** One of the two pools, and what it has seen. */
interface Side {
  name: string;
  /** Set once joined. */
  id: string;
  pool: Pool;
  transceiver: HubTransceiver;
  /** Every connection the pool made (one here). */
  pcs: RTCPeerConnection[];
  /** The pool's `track` events. */
  tracks: Array<{ from: string; track: MediaStreamTrack; streams: readonly MediaStream[] }>;
  /** The pool's `datachannel` events. */
  incoming: Array<{ from: string; channel: ChannelLike }>;
  errors: PoolEventError[];
  /** The connection each `peer` event brought. */
  peers: ManagedConnection[];
  /** What `connectionState$` emitted, subscribed to in the `peer` event (so from the connection's first moment). */
  states: PeerConnectionState[];
  /** Whether that subscription completed. */
  statesComplete: boolean;
  /** The pool's `connectionstatechange` events. */
  stateEvents: Array<{ connection: ManagedConnection; state: PeerConnectionState }>;
  /** The pool's `close` events naming a connection (a peer left). */
  left: ManagedConnection[];
}

/** Run last-registered first: probes and sources end before their pools close. */
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step();
});

function side(name: string, hub: MemoryHub): Side {
  const pcs: RTCPeerConnection[] = [];
  const Base = wrtc.RTCPeerConnection as unknown as PeerConnectionClass;
  const signalling = hubTransceiverSignalling(hub);
  const pool: Pool = new Pool({ iceServers: [] }, signalling, {
    RTCPeerConnection: class extends Base {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        pcs.push(this);
      }
    },
  });
  cleanup.push(() => pool.close());
  const member: Side = {
    name,
    id: '',
    pool,
    transceiver: signalling.transceiver,
    pcs,
    tracks: [],
    incoming: [],
    errors: [],
    peers: [],
    states: [],
    statesComplete: false,
    stateEvents: [],
    left: [],
  };
  pool.events.onpeer = ({ detail: { connection } }) => {
    member.peers.push(connection);
    const subscription = connection.connectionState$.subscribe({
      next: (state) => member.states.push(state),
      complete: () => {
        member.statesComplete = true;
      },
    });
    cleanup.push(() => subscription.unsubscribe());
  };
  pool.events.ontrack = ({ detail }) =>
    member.tracks.push({ from: detail.connection.id, track: detail.track, streams: [...detail.streams] });
  pool.events.ondatachannel = ({ detail }) =>
    member.incoming.push({ from: detail.connection.id, channel: detail.channel as unknown as ChannelLike });
  pool.events.onerror = ({ detail }) => member.errors.push(detail.error);
  pool.events.onconnectionstatechange = ({ detail }) => member.stateEvents.push(detail);
  pool.events.onclose = ({ detail }) => {
    if (detail) member.left.push(detail);
  };
  return member;
}

const isIdle = (connection: ManagedConnection) =>
  JSON.stringify(connection.negotiationState) === JSON.stringify({ stable: 'idle' });

/** Both settled: negotiation idle, signaling stable, connected. */
const settled = (...connections: ManagedConnection[]) =>
  connections.every(
    (connection) =>
      isIdle(connection) &&
      connection.peerConnection.signalingState === 'stable' &&
      connection.connectionState === 'connected',
  );

/**
 * A joins, then B: A offers, B (the newcomer, polite) answers. Resolves once
 * both connections are connected and idle; `ab` is A's connection to B.
 */
async function pair(): Promise<{ hub: MemoryHub; a: Side; b: Side; ab: ManagedConnection; ba: ManagedConnection }> {
  const hub = new MemoryHub();
  const a = side('A', hub);
  a.id = await a.pool.join('controls');
  const b = side('B', hub);
  b.id = await b.pool.join('controls');
  await until(() => a.pool.nconnections === 1 && b.pool.nconnections === 1, 'a connection on each side');
  const ab = a.pool.getConnection(b.id) as ManagedConnection;
  const ba = b.pool.getConnection(a.id) as ManagedConnection;
  await until(() => settled(ab, ba), 'both sides connected and idle');
  return { hub, a, b, ab, ba };
}

/**
 * What negotiation agreed, whatever trickled when: the SDP without what
 * libwebrtc rewrites as candidates come and go (candidate lines, the default
 * candidate's address in `c=`, `a=rtcp:` and each m-line's port).
 */
const negotiated = (sdp: string | undefined) =>
  sdp
    ?.split('\r\n')
    .filter((line) => !/^(a=candidate:|a=end-of-candidates|c=|a=rtcp:)/.test(line))
    .map((line) => line.replace(/^(m=\S+) \d+ /, '$1 * '))
    .join('\r\n');

/** The UDP candidates in an SDP (address, port, generation), sorted. */
const candidatesIn = (sdp: string | undefined) =>
  [...(sdp ?? '').matchAll(/^a=candidate:\S+ \d+ udp \d+ (\S+ \d+) typ \S+ (?:.* )?generation (\d+)/gm)]
    .map(([, where, generation]) => `${where} gen ${generation}`)
    .sort();

type Stat = { readonly id: string; readonly type: string } & Readonly<Record<string, unknown>>;

/** A stats report's entries by id, typed as plain records (the DOM types them `any`). */
function statsById(report: RTCStatsReport): Map<string, Stat> {
  const all = new Map<string, Stat>();
  report.forEach((value: unknown, id: string) => {
    all.set(id, value as Stat);
  });
  return all;
}

/** The parts of an `RTCIceCandidateStats` (not in TypeScript's DOM types) asserted here. */
interface CandidateStats {
  id: string;
  type: 'local-candidate' | 'remote-candidate';
  transportId: string;
  candidateType: string;
  protocol: string;
  address?: string;
  ip?: string;
  port: number;
}

/** The transport, its selected pair and the pair's two candidates, from one side's report. */
function selectedPath(report: RTCStatsReport) {
  const all = statsById(report);
  const transports = [...all.values()].filter((stat) => stat.type === 'transport') as unknown as RTCTransportStats[];
  const [transport] = transports;
  const pairId = transport?.selectedCandidatePairId;
  const pair = pairId === undefined ? undefined : (all.get(pairId) as unknown as RTCIceCandidatePairStats | undefined);
  const candidate = (id: string | undefined) =>
    id === undefined ? undefined : (all.get(id) as unknown as CandidateStats | undefined);
  return {
    transports,
    transport,
    pair,
    local: candidate(pair?.localCandidateId),
    remote: candidate(pair?.remoteCandidateId),
    pairs: [...all.values()].filter((stat) => stat.type === 'candidate-pair').length,
  };
}

describe('controls on two wrtc pools, meshed through an in-memory hub', () => {
  test('replaceTrack changes the picture the far side decodes, with no SDP message and no new track', async () => {
    const { hub, a, b, ab, ba } = await pair();
    const first = new PatternVideo({ top: 200, bottom: 200 });
    const second = new PatternVideo({ top: 40, bottom: 220 });
    cleanup.push(() => first.stop());
    cleanup.push(() => second.stop());
    const local = new wrtc.MediaStream([first.track]);
    const shared = new media.ManagedStream(local, a.pool);
    cleanup.push(() => shared.close());

    await until(() => b.tracks.length === 1, "A's video track at B");
    const [received] = b.tracks;
    expect(received?.track.kind).toBe('video');
    expect(received?.streams.map(({ id }) => id)).toEqual([local.id]);
    const probe = new HalvesProbe(received?.track as MediaStreamTrack);
    cleanup.push(() => probe.stop());
    await until(() => probe.shows(first.halves, 5) && settled(ab, ba), 'the first picture at B, both sides idle');

    const sdpBefore = hub.sdpMessages;
    const sentBefore = [a.transceiver.descriptions.length, b.transceiver.descriptions.length];
    const descriptionsBefore = [ab, ba].map(({ peerConnection: pc }) => [
      negotiated(pc.localDescription?.sdp),
      negotiated(pc.remoteDescription?.sdp),
    ]);
    const [receiver] = b.pcs[0]?.getReceivers() ?? [];

    const mark = probe.frames.count;
    const startedAt = performance.now();
    await shared.replaceTrack('video', second.track);
    const switchedAt = performance.now() - startedAt;
    await until(() => probe.shows(second.halves, 1, mark), 'the first frame of the second picture at B');
    const firstFrameAt = performance.now() - startedAt;
    // Ten in a row: B now decodes only the second source.
    await until(() => probe.shows(second.halves, 10, mark), 'ten frames of the second picture at B');
    const steadyAt = performance.now() - startedAt;
    console.log(
      `replaceTrack: resolved +${switchedAt.toFixed(1)} ms, first new frame at B +${firstFrameAt.toFixed(0)} ms, ` +
        `10 in a row +${steadyAt.toFixed(0)} ms; ${sdpBefore} SDP messages before (first negotiation and sharing), ` +
        `${hub.sdpMessages - sdpBefore} after; luma at B first ${JSON.stringify(probe.earliest)}, last ${JSON.stringify(probe.latest)}`,
    );

    // Not a single description either way, and nothing about to be negotiated.
    expect(hub.sdpMessages - sdpBefore).toBe(0);
    expect([a.transceiver.descriptions.length, b.transceiver.descriptions.length]).toEqual(sentBefore);
    expect(settled(ab, ba)).toBe(true);
    expect(
      [ab, ba].map(({ peerConnection: pc }) => [
        negotiated(pc.localDescription?.sdp),
        negotiated(pc.remoteDescription?.sdp),
      ]),
    ).toEqual(descriptionsBefore);
    // B: the same track object, no second track event; the new picture came through it.
    expect(b.tracks).toHaveLength(1);
    expect(b.pcs[0]?.getReceivers()[0]).toBe(receiver);
    expect(receiver?.track).toBe(received?.track);
    // A: its one sender now carries the second track; the first is left running (the application owns it).
    expect(a.pcs[0]?.getSenders().map(({ track }) => track)).toEqual([second.track]);
    expect(shared.tracks).toEqual([second.track]);
    expect(local.getVideoTracks()).toEqual([second.track]);
    expect(first.track.readyState).toBe('live');
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  test('restartIce from both sides at once, during a burst of track adds, settles with new ICE credentials', async () => {
    const { hub, a, b, ab, ba } = await pair();
    const chat = (await ab.dataChannel('chat')) as unknown as ChannelLike;
    await until(() => b.incoming[0]?.channel.readyState === 'open', 'the channel open at B');
    const atB = b.incoming[0]?.channel as ChannelLike;
    const heardByB = collectMessages(atB);
    const heardByA = collectMessages(chat);
    chat.send('a→b before');
    atB.send('b→a before');
    await until(() => heardByB.length === 1 && heardByA.length === 1, 'a message each way before the restart');

    const ufrags = (connection: ManagedConnection) => ({
      local: iceUfrag(connection.peerConnection.localDescription?.sdp),
      remote: iceUfrag(connection.peerConnection.remoteDescription?.sdp),
    });
    const before = { a: ufrags(ab), b: ufrags(ba) };
    expect(before.a).toEqual({ local: before.b.remote, remote: before.b.local });
    const sdpBefore = hub.sdpMessages;
    const sentBefore = [a.transceiver.descriptions.length, b.transceiver.descriptions.length];

    // Three audio tracks per side, from sources never fed: a track event needs only the negotiation.
    const audio = () =>
      Array.from({ length: 3 }, () => {
        const track = new wrtc.nonstandard.RTCAudioSource().createTrack();
        cleanup.push(() => track.stop());
        return { track };
      });
    const fromA = audio();
    const fromB = audio();
    const streamA = new wrtc.MediaStream(fromA.map(({ track }) => track));
    const streamB = new wrtc.MediaStream(fromB.map(({ track }) => track));

    // One task: both restart ICE and each adds three tracks.
    const startedAt = performance.now();
    ab.restartIce();
    ba.restartIce();
    for (const { track } of fromA) ab.addTrack(track, streamA);
    for (const { track } of fromB) ba.addTrack(track, streamB);

    const restarted = () => {
      const now = { a: ufrags(ab), b: ufrags(ba) };
      return (
        now.a.local !== before.a.local &&
        now.a.remote !== before.a.remote &&
        now.b.local !== before.b.local &&
        now.b.remote !== before.b.remote
      );
    };
    const agree = () =>
      negotiated(ab.peerConnection.localDescription?.sdp) === negotiated(ba.peerConnection.remoteDescription?.sdp) &&
      negotiated(ba.peerConnection.localDescription?.sdp) === negotiated(ab.peerConnection.remoteDescription?.sdp);
    // A timeout says where each side stood, not just what it waited for.
    const where = () => {
      const sides: Array<[Side, ManagedConnection]> = [
        [a, ab],
        [b, ba],
      ];
      const each = sides.map(
        ([one, connection]) =>
          `${one.name}: ${JSON.stringify(connection.negotiationState)} ${connection.peerConnection.signalingState} ` +
          `${connection.connectionState}, ufrags ${JSON.stringify(ufrags(connection))}, ${one.tracks.length} tracks in, ` +
          `sent ${one.transceiver.descriptions.map(({ type }) => type)}, errors [${one.errors.map(({ message }) => message)}]`,
      );
      return `${each.join('; ')}; descriptions agree: ${agree()}`;
    };
    await until(
      () => settled(ab, ba) && restarted() && agree() && a.tracks.length === 3 && b.tracks.length === 3,
      'both idle and connected, new credentials, descriptions agreeing, every track arrived',
    ).catch((error: Error) => {
      throw new Error(`${error.message} (${where()})`);
    });
    const settledAt = performance.now() - startedAt;
    const sent = (one: Side, from: number) =>
      one.transceiver.descriptions
        .slice(from)
        .map(({ type }) => type)
        .join(', ');
    console.log(
      `restartIce ×2 + 3 tracks each: settled in ${settledAt.toFixed(0)} ms with ${hub.sdpMessages - sdpBefore} SDP messages ` +
        `(A sent: ${sent(a, sentBefore[0] ?? 0)}; B sent: ${sent(b, sentBefore[1] ?? 0)}); ` +
        `ufrags A ${before.a.local}→${ufrags(ab).local}, B ${before.b.local}→${ufrags(ba).local}`,
    );

    // Each side's description is the other's remote description, with new credentials throughout.
    const after = { a: ufrags(ab), b: ufrags(ba) };
    expect(after.a).toEqual({ local: after.b.remote, remote: after.b.local });
    expect([after.a.local, after.b.local]).not.toContain(undefined);
    expect(after.a.local).not.toBe(before.a.local);
    expect(after.b.local).not.toBe(before.b.local);
    expect(hub.sdpMessages - sdpBefore).toBeGreaterThanOrEqual(2);
    // ICE itself runs on the new credentials.
    const [statsA, statsB] = await Promise.all([ab.getStats(), ba.getStats()]);
    expect(selectedPath(statsA).transport?.iceLocalUsernameFragment).toBe(after.a.local);
    expect(selectedPath(statsB).transport?.iceLocalUsernameFragment).toBe(after.b.local);

    // Every track arrived once, with its stream, and the description each side holds announces the other's
    // three tracks (libwebrtc gives received tracks ids of their own; the sender's are in a=msid).
    const announced = (sdp: string | undefined) =>
      [...(sdp ?? '').matchAll(/^a=msid:(\S+) (\S+)$/gm)].map(([, stream, track]) => `${stream} ${track}`).sort();
    const msids = (stream: MediaStream, tracks: Array<{ track: MediaStreamTrack }>) =>
      tracks.map(({ track }) => `${stream.id} ${track.id}`).sort();
    expect(announced(ba.peerConnection.remoteDescription?.sdp)).toEqual(msids(streamA, fromA));
    expect(announced(ab.peerConnection.remoteDescription?.sdp)).toEqual(msids(streamB, fromB));
    expect(b.tracks.flatMap(({ streams }) => streams.map(({ id }) => id))).toEqual(fromA.map(() => streamA.id));
    expect(a.tracks.flatMap(({ streams }) => streams.map(({ id }) => id))).toEqual(fromB.map(() => streamB.id));
    expect(new Set([...a.tracks, ...b.tracks].map(({ track }) => track.id)).size).toBe(6);
    expect([...a.tracks, ...b.tracks].every(({ track }) => track.kind === 'audio')).toBe(true);

    // The same channel still carries a message both ways.
    chat.send('a→b after');
    atB.send('b→a after');
    await until(() => heardByB.length === 2 && heardByA.length === 2, 'a message each way after the restart');
    expect(heardByB).toEqual(['a→b before', 'a→b after']);
    expect(heardByA).toEqual(['b→a before', 'b→a after']);
    expect(b.incoming).toHaveLength(1);
    expect([...a.errors, ...b.errors]).toEqual([]);

    // Every candidate each side gathered reaches the other, and nothing else does: none held while the
    // machine probed for an offer that changed nothing is lost, and none of the polite side's rolled-back
    // restart offer lands in the remote description of its answer.
    const trickle = (from: ManagedConnection, to: ManagedConnection) => {
      const gathered = candidatesIn(from.peerConnection.localDescription?.sdp);
      const known = candidatesIn(to.peerConnection.remoteDescription?.sdp);
      const missing = gathered.filter((one) => !known.includes(one)).length;
      const stale = known.filter((one) => !gathered.includes(one)).length;
      return { gathered: gathered.length, missing, stale };
    };
    const exact = (counts: ReturnType<typeof trickle>) => counts.gathered > 0 && counts.missing + counts.stale === 0;
    await until(() => exact(trickle(ab, ba)) && exact(trickle(ba, ab)), 'every candidate across once', 5000).catch(
      (error: Error) => {
        throw new Error(
          `${error.message}: A→B ${JSON.stringify(trickle(ab, ba))}, B→A ${JSON.stringify(trickle(ba, ab))}`,
        );
      },
    );
  });

  test('getStats names the selected candidate pair, succeeded and nominated, between two host candidates', async () => {
    const { ab, ba } = await pair();
    // Polled: right after `connected` the controlled side may not have seen the nomination yet, and a side
    // whose checks arrived before the other's trickled candidates knows that candidate as peer-reflexive
    // (`prflx`, address hidden) until the candidate itself arrives and libwebrtc relabels it `host`.
    let paths: Array<ReturnType<typeof selectedPath>> = [];
    const seen = new Set<string>();
    const startedAt = performance.now();
    let polls = 0;
    await eventually(
      async () => {
        polls += 1;
        paths = (await Promise.all([ab.getStats(), ba.getStats()])).map(selectedPath);
        const [fromA, fromB] = paths;
        for (const path of paths) seen.add(`${path.local?.candidateType}/${path.remote?.candidateType}`);
        return (
          fromA?.pair?.nominated === true &&
          fromB?.pair?.nominated === true &&
          fromA.remote?.candidateType === 'host' &&
          fromB.remote?.candidateType === 'host' &&
          fromA.local?.port === fromB.remote?.port &&
          fromB.local?.port === fromA.remote?.port
        );
      },
      'both sides agreeing on a nominated pair of host candidates',
      10_000,
      20,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (selected local/remote types seen: ${[...seen]}; ${JSON.stringify(paths)})`);
    });
    const tookMs = performance.now() - startedAt;
    const [fromA, fromB] = paths as [ReturnType<typeof selectedPath>, ReturnType<typeof selectedPath>];
    const fields = (stat: object | undefined) => Object.keys(stat ?? {}).join(' ');
    console.log(
      `getStats: settled after ${polls} polls, ${tookMs.toFixed(0)} ms (local/remote types seen: ${[...seen].join(', ')}); ` +
        `${fromA.transports.length} transport, ${fromA.pairs} candidate pairs at A; selected ` +
        `${fromA.local?.address}:${fromA.local?.port} → ${fromA.remote?.address}:${fromA.remote?.port} ` +
        `(${fromA.local?.candidateType}/${fromA.remote?.candidateType}, state ${fromA.pair?.state}, nominated ${fromA.pair?.nominated}); ` +
        `fields: transport [${fields(fromA.transport)}]; candidate-pair [${fields(fromA.pair)}]; ` +
        `local-candidate [${fields(fromA.local)}]; remote-candidate [${fields(fromA.remote)}]`,
    );

    for (const [path, connection] of [
      [fromA, ab],
      [fromB, ba],
    ] as const) {
      // One transport (everything bundled), connected, on this side's current credentials.
      expect(path.transports).toHaveLength(1);
      expect(path.transport).toMatchObject({
        type: 'transport',
        dtlsState: 'connected',
        iceState: 'connected',
        iceLocalUsernameFragment: iceUfrag(connection.peerConnection.localDescription?.sdp),
        selectedCandidatePairId: expect.any(String),
      });
      expect(path.pair).toMatchObject({
        type: 'candidate-pair',
        id: path.transport?.selectedCandidatePairId,
        transportId: path.transport?.id,
        state: 'succeeded',
        nominated: true,
      });
      for (const [candidate, type] of [
        [path.local, 'local-candidate'],
        [path.remote, 'remote-candidate'],
      ] as const) {
        expect(candidate).toMatchObject({
          type,
          transportId: path.transport?.id,
          candidateType: 'host',
          protocol: 'udp',
          port: expect.any(Number),
        });
        expect(candidate?.address).toBe(candidate?.ip);
      }
      expect(path.pair?.bytesSent).toBeGreaterThan(0);
    }
    // The two sides describe the same path: each one's local candidate is the other's remote one.
    expect([fromA.local?.address, fromA.local?.port]).toEqual([fromB.remote?.address, fromB.remote?.port]);
    expect([fromB.local?.address, fromB.local?.port]).toEqual([fromA.remote?.address, fromA.remote?.port]);
  });

  test('connectionState$ follows the connection to connected, the pool reports each change, and it completes when the peer leaves', async () => {
    const { a, b, ab, ba } = await pair();
    // wrtc's connectionState getter reads the native state, whose event is still queued: wait for the event.
    await until(() => a.states.at(-1) === 'connected' && b.states.at(-1) === 'connected', 'connected on both streams');
    // The `peer` event brought the very connections the pool keeps; each was new then.
    expect(a.peers).toEqual([ab]);
    expect(b.peers).toEqual([ba]);
    console.log(
      `connectionState$: A saw ${a.states.join(' → ')}, B saw ${b.states.join(' → ')}; ` +
        `pool events A ${a.stateEvents.map(({ state }) => state).join(', ')}, B ${b.stateEvents.map(({ state }) => state).join(', ')}`,
    );
    for (const [one, connection] of [
      [a, ab],
      [b, ba],
    ] as const) {
      expect(one.states[0]).toBe('new');
      expect(one.states.at(-1)).toBe('connected');
      expect(connection.connectionState).toBe('connected');
      // In order, no repeats, nothing but the way up. wrtc may skip `connecting`: its events carry no
      // state, and by the time the first one is handled the connection may already read `connected`.
      const order = ['new', 'connecting', 'connected'];
      expect(
        one.states.every((state, i) => i === 0 || order.indexOf(state) > order.indexOf(one.states[i - 1] ?? '')),
      ).toBe(true);
      // The pool's events are the observable's changes, each naming the connection.
      expect(one.stateEvents.map(({ state }) => state)).toEqual(one.states.slice(1));
      expect(one.stateEvents.every((event) => event.connection === connection)).toBe(true);
      expect(one.statesComplete).toBe(false);
    }

    // B leaves: A hears `close` for its connection, and both observables complete.
    const seenBefore = [a.states.length, b.states.length] as const;
    b.pool.close();
    await until(() => a.left.length === 1 && a.statesComplete && b.statesComplete, 'the observables complete');
    expect(a.left).toEqual([ab]);
    await until(() => ab.connectionState === 'closed', "A's connection closed");
    // `closed` once, between leaving and completion (wrtc fires no event on close(): the pool says it).
    const last = [a.states.slice(seenBefore[0]), b.states.slice(seenBefore[1])];
    for (const emitted of last) expect(emitted).toEqual(['closed']);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});
