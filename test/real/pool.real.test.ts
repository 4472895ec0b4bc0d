import wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, test } from 'vitest';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { type ManagedStream, media } from '../../src/media.js';
import { Pool } from '../../src/pool.js';
import type { PoolEventError } from '../../src/pool-events.js';
import {
  AudioProbe,
  GeneratedMedia,
  isBlack,
  isPicture,
  RtpProbe,
  VideoProbe,
  type WeriftTrackLike,
} from '../support/generated-media.js';
import { type HubTransceiver, hubTransceiverSignalling } from '../support/hub-transceiver.js';
import { MemoryHub } from '../support/memory-hub.js';
import { type ChannelLike, collectMessages, type StackName } from '../support/real-stacks.js';
import { until } from '../support/wait.js';

/** wrtc's types are the DOM's; werift's class stands in for them here (it interoperates at run time). */
type PeerConnectionClass = new (configuration?: RTCConfiguration) => RTCPeerConnection;

/** werift skips loopback interfaces unless told (as in real-stacks.ts); keep its traffic on 127.0.0.1. */
class WeriftLoopbackPeerConnection extends WeriftPeerConnection {
  constructor(configuration: object = {}) {
    super({
      ...configuration,
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
    });
  }
}

const peerConnections: Record<StackName, PeerConnectionClass> = {
  wrtc: wrtc.RTCPeerConnection as unknown as PeerConnectionClass,
  werift: WeriftLoopbackPeerConnection as unknown as PeerConnectionClass,
};

/** One endpoint of the mesh: a pool on one stack, and what it has seen. */
interface Member {
  name: string;
  stack: StackName;
  id: string;
  pool: Pool;
  transceiver: HubTransceiver;
  /** Every connection the pool made (test-side only: the pool does not expose them). */
  pcs: RTCPeerConnection[];
  /** The pool's `datachannel` events: channels a peer opened. */
  incoming: Array<{ from: string; channel: ChannelLike }>;
  /** The pool's `track` events. */
  tracks: Array<{ from: string; track: { kind: string }; streams: Array<{ id: string }> }>;
  errors: PoolEventError[];
}

/**
 * Run last-registered first: probes, media and managed streams end before
 * their pools close. (A ManagedStream still open when its pool closes calls
 * removeTrack on the closed connections, which throws InvalidStateError from
 * the pool's `close` listener: an uncaught exception.)
 */
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step();
});

const isConnected = (member: Member, size: number) =>
  member.pcs.length === size - 1 && member.pcs.every((pc) => pc.connectionState === 'connected');

/** Pools on the given stacks join one pool through one in-memory hub, in this order. */
async function mesh(stacks: StackName[]): Promise<{ hub: MemoryHub; members: Member[] }> {
  const hub = new MemoryHub();
  const members = stacks.map((stack, index): Omit<Member, 'id'> => {
    const pcs: RTCPeerConnection[] = [];
    const Base = peerConnections[stack];
    const signalling = hubTransceiverSignalling(hub);
    const pool = new Pool({ iceServers: [] }, signalling, {
      RTCPeerConnection: class extends Base {
        constructor(configuration?: RTCConfiguration) {
          super(configuration);
          pcs.push(this);
        }
      },
    });
    cleanup.push(() => pool.close());
    const member: Omit<Member, 'id'> = {
      name: `${stack}#${index}`,
      stack,
      pool,
      transceiver: signalling.transceiver,
      pcs,
      incoming: [],
      tracks: [],
      errors: [],
    };
    pool.events.ondatachannel = ({ detail }) =>
      member.incoming.push({ from: detail.connection.id, channel: detail.channel as unknown as ChannelLike });
    pool.events.ontrack = ({ detail }) =>
      member.tracks.push({
        from: detail.connection.id,
        track: detail.track,
        streams: [...detail.streams],
      });
    pool.events.onerror = ({ detail }) => member.errors.push(detail.error);
    return member;
  });
  const ids = await Promise.all(members.map(({ pool }) => pool.join('mesh')));
  const joined = members.map((member, index) => ({ ...member, id: ids[index] as string }));
  await until(
    () => joined.every(({ pool }) => pool.nconnections === stacks.length - 1),
    'a connection to every other pool',
  );
  return { hub, members: joined };
}

interface Run {
  stacks: StackName[];
  /** The pool that shares generated media (a wrtc one: werift has no sources to generate from). */
  sender: number;
  /**
   * Open the data channels as soon as every pool has its connections, while
   * the pool is still negotiating them, instead of once every connection is up.
   *
   * The pool avoids glare by itself: the endpoint already present offers, the
   * newcomer answers. A channel opened on the newcomer before that first offer
   * arrives makes the newcomer offer too, and the polite newcomer rolls its
   * offer back. libwebrtc settles that with anyone; with libwebrtc polite and
   * werift impolite it is the werift SCTP stream-id defect of
   * docs/negotiation.md ("Known stack defects"): werift takes its stream-id
   * parity from its ICE role, which the tie-breaker settles after the
   * rollback, and in some runs (4 of 10 when tried, always the pair
   * endpoint-2 werift present / endpoint-3 wrtc newcomer) both ends pick even
   * ids and no channel of that pair opens. So the mixed run lets the join
   * flow finish first, as an application waiting for its peers would.
   */
  channelsAtOnce: boolean;
}

const runs: Array<[string, Run]> = [
  ['4 pools on wrtc', { stacks: ['wrtc', 'wrtc', 'wrtc', 'wrtc'], sender: 2, channelsAtOnce: true }],
  ['2 pools on wrtc, 2 on werift', { stacks: ['wrtc', 'werift', 'wrtc', 'werift'], sender: 2, channelsAtOnce: false }],
];

describe.each(runs)('%s, meshed through an in-memory hub', (_, { stacks, sender: senderIndex, channelsAtOnce }) => {
  /** Waits until every connection is up, then checks that the join flow alone got them there. */
  async function everyConnectionUp(members: Member[]): Promise<void> {
    await until(() => members.every((member) => isConnected(member, stacks.length)), 'every connection up');
    // No glare: each endpoint offered to those that joined after it and answered those already there, once each.
    for (const [index, member] of members.entries()) {
      const expected = members
        .filter((other) => other !== member)
        .map((other) => `${members.indexOf(other) < index ? 'answer' : 'offer'} → ${other.id}`);
      const sent = member.transceiver.descriptions.map(({ type, to }) => `${type} → ${to}`);
      expect(sent.sort(), `descriptions ${member.name} sent`).toEqual(expected.sort());
    }
  }

  test('every pool opens a data channel to every other; each arrives as a datachannel event and carries messages both ways', async () => {
    const { members } = await mesh(stacks);
    if (!channelsAtOnce) await everyConnectionUp(members);
    const byId = new Map(members.map((member) => [member.id, member]));

    // Both ends of every pair open "chat" at once: every stack opens and answers.
    const opened = await Promise.all(
      members.flatMap((member) =>
        member.pool.connections.map(async (connection) => ({
          from: member,
          to: byId.get(connection.id) as Member,
          channel: (await connection.dataChannel('chat')) as unknown as ChannelLike,
        })),
      ),
    );
    expect(opened).toHaveLength(members.length * (members.length - 1));

    await until(
      () => members.every((member) => member.incoming.length === members.length - 1),
      'a datachannel event at every pool from every peer',
    );
    for (const member of members) {
      const others = members.filter((other) => other !== member).map((other) => other.id);
      expect(member.incoming.map(({ from }) => from).sort()).toEqual(others.sort());
      expect(member.incoming.map(({ channel }) => channel.label)).toEqual(others.map(() => 'chat'));
    }
    await until(
      () => members.every((member) => member.incoming.every(({ channel }) => channel.readyState === 'open')),
      'every received channel open',
    );

    const exchanges = opened.map(({ from, to, channel }) => {
      const far = to.incoming.find((incoming) => incoming.from === from.id)?.channel as ChannelLike;
      return {
        there: `${from.name} → ${to.name}`,
        back: `${to.name} → ${from.name}`,
        atFar: collectMessages(far),
        atNear: collectMessages(channel),
        send: () => {
          channel.send(`${from.name} → ${to.name}`);
          far.send(`${to.name} → ${from.name}`);
        },
      };
    });
    for (const exchange of exchanges) exchange.send();
    await until(
      () => exchanges.every(({ there, back, atFar, atNear }) => atFar.includes(there) && atNear.includes(back)),
      'every message at the other end',
    );
    for (const { there, back, atFar, atNear } of exchanges) {
      expect(atFar).toEqual([there]);
      expect(atNear).toEqual([back]);
    }
    for (const member of members) expect(member.errors).toEqual([]);
  });

  test('a ManagedStream of generated tracks reaches every peer once per track; muting is seen and heard at the far end', async () => {
    const { hub, members } = await mesh(stacks);
    await everyConnectionUp(members);
    const sender = members[senderIndex] as Member;
    const receivers = members.filter((member) => member !== sender);

    // A receiver shares nothing; its ManagedStream keeps the stream each peer sends.
    const kept = new Map<Member, ManagedStream>();
    for (const receiver of receivers) {
      const nothing = new media.ManagedStream(new wrtc.MediaStream(), receiver.pool);
      cleanup.push(() => nothing.close());
      kept.set(receiver, nothing);
    }
    const generated = new GeneratedMedia();
    cleanup.push(() => generated.stop());
    const shared = new media.ManagedStream(generated.stream, sender.pool);
    cleanup.push(() => shared.close());

    await until(
      () => receivers.every((receiver) => receiver.tracks.length === 2),
      'an audio and a video track at every other pool',
    );
    for (const receiver of receivers) {
      expect(receiver.tracks.map(({ from }) => from)).toEqual([sender.id, sender.id]);
      expect(receiver.tracks.map(({ track }) => track.kind).sort()).toEqual(['audio', 'video']);
      for (const { streams } of receiver.tracks) expect(streams.map(({ id }) => id)).toEqual([generated.stream.id]);
      const lookups = kept.get(receiver) as ManagedStream;
      expect(lookups.getStream(sender.id)?.id).toBe(generated.stream.id);
      expect(lookups.hasStream(generated.stream.id)).toBe(true);
      expect(lookups.getConnection(generated.stream.id)?.id).toBe(sender.id);
    }

    // What each receiver perceives: wrtc decodes (sinks); werift only hands over RTP payloads.
    const ears = receivers.map((receiver) => {
      const track = (kind: string) => receiver.tracks.find(({ track }) => track.kind === kind)?.track;
      if (receiver.stack === 'wrtc') {
        const video = new VideoProbe(track('video') as unknown as MediaStreamTrack);
        const audio = new AudioProbe(track('audio') as unknown as MediaStreamTrack);
        cleanup.push(() => video.stop());
        cleanup.push(() => audio.stop());
        return {
          name: receiver.name,
          marks: () => ({ video: video.frames.count, audio: audio.peaks.count }),
          picture: (since = 0) => video.frames.lastAll(3, isPicture, since),
          black: (since = 0) => video.frames.lastAll(3, isBlack, since),
          tone: (since = 0) => audio.peaks.lastAll(10, (peak) => peak > 1_000, since),
          silence: (since = 0) => audio.peaks.lastAll(20, (peak) => peak === 0, since),
        };
      }
      const video = new RtpProbe(track('video') as unknown as WeriftTrackLike);
      const audio = new RtpProbe(track('audio') as unknown as WeriftTrackLike);
      cleanup.push(() => video.stop());
      cleanup.push(() => audio.stop());
      return {
        name: receiver.name,
        marks: () => ({ video: video.payloads.count, audio: audio.payloads.count }),
        // A frame of noise spans several ~1 KB packets (its last one may be short); a black frame is one small packet.
        picture: (since = 0) => video.payloads.lastSome(4, (bytes) => bytes > 500, since),
        black: (since = 0) => video.payloads.lastAll(10, (bytes) => bytes < 100, since),
        tone: (since = 0) => audio.payloads.lastAll(10, (bytes) => bytes > 40, since),
        silence: (since = 0) => audio.payloads.lastAll(20, (bytes) => bytes <= 8, since),
      };
    });
    await until(() => ears.every((ear) => ear.picture() && ear.tone()), 'picture and sound at every peer');
    const descriptionsBefore = hub.sdpMessages;

    let marks = ears.map((ear) => ear.marks());
    shared.mute('video');
    expect([shared.muted('video'), shared.muted('audio'), shared.muted()]).toEqual([true, false, false]);
    await until(
      () => ears.every((ear, i) => ear.black(marks[i]?.video)),
      'black frames at every peer after mute("video")',
    );
    // Muting the picture left the sound alone.
    expect(ears.filter((ear) => !ear.tone()).map(({ name }) => name)).toEqual([]);

    marks = ears.map((ear) => ear.marks());
    shared.mute('audio');
    expect(shared.muted()).toBe(true);
    await until(
      () => ears.every((ear, i) => ear.silence(marks[i]?.audio)),
      'silence at every peer after mute("audio")',
    );

    marks = ears.map((ear) => ear.marks());
    shared.unmute('video');
    await until(
      () => ears.every((ear, i) => ear.picture(marks[i]?.video)),
      'the picture back at every peer after unmute("video")',
    );
    expect(ears.filter((ear) => !ear.silence()).map(({ name }) => name)).toEqual([]);

    marks = ears.map((ear) => ear.marks());
    shared.unmute('audio');
    expect([shared.muted('video'), shared.muted('audio')]).toEqual([false, false]);
    await until(
      () => ears.every((ear, i) => ear.tone(marks[i]?.audio)),
      'the sound back at every peer after unmute("audio")',
    );
    // Muting is track.enabled: nothing was renegotiated.
    expect(hub.sdpMessages).toBe(descriptionsBefore);

    // Closing removes the tracks: one more offer and answer per peer, and no
    // track reported again (werift repeats track events on renegotiation).
    shared.close();
    expect(shared.closed).toBe(true);
    const settled = (member: Member, peer: Member) =>
      JSON.stringify(member.pool.getConnection(peer.id)?.negotiationState) === '{"stable":"idle"}';
    await until(
      () =>
        hub.sdpMessages >= descriptionsBefore + 2 * receivers.length &&
        receivers.every((receiver) => settled(sender, receiver) && settled(receiver, sender)),
      'the renegotiation that removes the tracks',
    );
    for (const receiver of receivers) expect(receiver.tracks).toHaveLength(2);
    for (const member of members) expect(member.errors).toEqual([]);
  });
});
