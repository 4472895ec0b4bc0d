import wrtc from '@roamhq/wrtc';
import { afterEach, expect, test } from 'vitest';
import { createNegotiationActor, type NegotiationActor, type NegotiationError } from '../../src/index.js';
import { GeneratedMedia } from '../support/generated-media.js';
import { SignalPipe } from '../support/signal-pipe.js';
import { eventually, until } from '../support/wait.js';

/**
 * A change of codec preferences alone must be negotiated. wrtc's transceiver
 * has `setCodecPreferences`, but neither wrtc nor Chromium fires
 * `negotiationneeded` for it (the specification's setCodecPreferences does
 * not touch the negotiation-needed flag): the application asks, here by
 * sending the actor `pc.negotiationneeded`, which is what a real event would
 * deliver. The offer that follows differs from the current description only
 * in its codec list, which `sameMedia` once took for "nothing changed" and
 * dropped.
 */

interface Side {
  name: string;
  pc: RTCPeerConnection;
  actor: NegotiationActor;
  out: SignalPipe;
  /** Types of the descriptions this side sent, in order. */
  sent: string[];
  errors: NegotiationError[];
  /** How many times the actor entered `makingOffer` (each offer it considered, sent or not). */
  offersConsidered: number;
}

const running: Array<{ stop(): void }> = [];

afterEach(() => {
  for (const resource of running.splice(0)) resource.stop();
});

function side(name: string, polite: boolean): Side {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const out = new SignalPipe();
  const sent: string[] = [];
  const errors: NegotiationError[] = [];
  const actor = createNegotiationActor({
    pc,
    polite,
    peerId: name,
    send: (signal) => {
      if (signal.type === 'description') sent.push(signal.description.type);
      out.send(signal);
    },
    onError: (error) => errors.push(error),
  });
  running.push(actor);
  const created: Side = { name, pc, actor, out, sent, errors, offersConsidered: 0 };
  let wasMaking = false;
  actor.subscribe((snapshot) => {
    const making = snapshot.matches('makingOffer');
    if (making && !wasMaking) created.offersConsidered += 1;
    wasMaking = making;
  });
  return created;
}

const isSettled = (s: Side) => s.actor.getSnapshot().matches({ stable: 'idle' }) && s.pc.signalingState === 'stable';

/** The encoding (`name/clock[/channels]`) of the first payload type of the audio m-line. */
function firstAudioCodec(sdp: string | undefined): string | undefined {
  const payloadType = /^m=audio \S+ \S+ (\d+)/m.exec(sdp ?? '')?.[1];
  return new RegExp(`^a=rtpmap:${payloadType} (\\S+)`, 'm').exec(sdp ?? '')?.[1];
}

/** The mime type of the codec the audio sender is sending with, as getStats reports it. */
async function sendingCodec(pc: RTCPeerConnection): Promise<string | undefined> {
  const stats = await pc.getStats();
  for (const report of stats.values()) {
    if (report.type === 'outbound-rtp' && report.kind === 'audio') return stats.get(report.codecId)?.mimeType;
  }
  return undefined;
}

/**
 * Delivers `negotiationneeded` to each of `asked` and waits until each has
 * made (or dropped) its offer and every side in `pair` has settled again.
 */
async function negotiate(asked: Side[], pair: Side[]): Promise<void> {
  const before = asked.map((s) => s.offersConsidered);
  for (const s of asked) s.actor.send({ type: 'pc.negotiationneeded' });
  await until(
    () => asked.every((s, i) => s.offersConsidered > (before[i] ?? 0)) && pair.every(isSettled),
    `${asked.map((s) => s.name).join(' and ')} to consider an offer, and both sides to settle`,
  );
}

test.each([
  ['answer', 'A'],
  ['offer', 'B'],
] as const)(
  'codec preferences changed on the side whose local description is its %s: offered, answered, used',
  async (_, changerName) => {
    const [mediaA, mediaB] = [new GeneratedMedia(), new GeneratedMedia()];
    running.push(mediaA, mediaB);
    const a = side('A', true);
    const b = side('B', false);
    a.out.connect(b.actor);
    b.out.connect(a.actor);
    const changer = changerName === 'A' ? a : b;
    const other = changer === a ? b : a;

    // Audio both ways on one transceiver: A offers it, B answers, then B sends
    // on the transceiver A's offer created (wrtc fires negotiationneeded for
    // that), so B offers and A answers. Audio both ways keeps both directions
    // sendrecv (see sameMedia on directions after answering).
    a.pc.addTrack(mediaA.audioTrack, mediaA.stream);
    await until(() => isSettled(a) && isSettled(b) && a.pc.connectionState === 'connected', 'A sending audio');
    const [atB] = b.pc.getTransceivers();
    await atB?.sender.replaceTrack(mediaB.audioTrack);
    if (atB) atB.direction = 'sendrecv';
    await until(() => b.sent.length === 2 && isSettled(a) && isSettled(b), 'B sending audio too');
    expect([a.sent, b.sent]).toEqual([
      ['offer', 'answer'],
      ['answer', 'offer'],
    ]);
    expect(changer.pc.localDescription?.type).toBe(changer === a ? 'answer' : 'offer');
    for (const s of [a, b]) {
      expect(firstAudioCodec(s.pc.localDescription?.sdp)).toBe('opus/48000/2');
      await eventually(async () => (await sendingCodec(s.pc)) === 'audio/opus', `${s.name} sending opus`);
    }

    // Only the codec order changes: PCMU first, everything else kept.
    const [transceiver] = changer.pc.getTransceivers();
    const codecs = wrtc.RTCRtpReceiver.getCapabilities('audio')?.codecs ?? [];
    const pcmu = codecs.filter((codec) => codec.mimeType === 'audio/PCMU');
    expect(pcmu).toHaveLength(1);
    transceiver?.setCodecPreferences([...pcmu, ...codecs.filter((codec) => !pcmu.includes(codec))]);
    const sentBefore = [changer.sent.length, other.sent.length];
    await negotiate([changer], [a, b]);

    expect(changer.sent.slice(sentBefore[0])).toEqual(['offer']);
    expect(other.sent.slice(sentBefore[1])).toEqual(['answer']);
    expect(firstAudioCodec(changer.pc.localDescription?.sdp)).toBe('PCMU/8000');
    expect(firstAudioCodec(other.pc.remoteDescription?.sdp)).toBe('PCMU/8000');
    // The answerer has no preferences of its own and keeps the offer's order.
    expect(firstAudioCodec(other.pc.localDescription?.sdp)).toBe('PCMU/8000');
    for (const s of [a, b]) {
      await eventually(async () => (await sendingCodec(s.pc)) === 'audio/PCMU', `${s.name} sending PCMU`);
    }

    // A negotiationneeded now, on either side, has nothing to offer: the
    // changer's current description is its offer (and its fresh offers list
    // red twice, a wrtc quirk), the other's is its answer.
    const settledCounts = [a.sent.length, b.sent.length];
    await negotiate([a, b], [a, b]);
    expect([a.sent.length, b.sent.length]).toEqual(settledCounts);
    expect([...a.errors, ...b.errors]).toEqual([]);
  },
);
