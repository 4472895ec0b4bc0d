import { afterEach, describe, expect, test } from 'vitest';
import { createNegotiationActor, type NegotiationActor, type NegotiationError } from '../../src/index.js';
import {
  type ChannelLike,
  collectMessages,
  iceUfrag,
  type RealPeerConnection,
  type StackName,
  stacks,
} from '../support/real-stacks.js';
import { SignalPipe } from '../support/signal-pipe.js';
import { until } from '../support/wait.js';

interface Side {
  name: string;
  stack: StackName;
  pc: RealPeerConnection;
  actor: NegotiationActor;
  errors: NegotiationError[];
  out: SignalPipe;
  /** Channels the remote side opened, by label. */
  remoteChannels: Map<string, ChannelLike>;
}

const running: Side[] = [];

afterEach(() => {
  for (const side of running.splice(0)) side.actor.stop();
});

function side(name: string, stack: StackName, polite: boolean): Side {
  const pc = stacks[stack]();
  const out = new SignalPipe();
  const errors: NegotiationError[] = [];
  const actor = createNegotiationActor({ pc, polite, send: out.send, peerId: name, onError: (e) => errors.push(e) });
  const remoteChannels = new Map<string, ChannelLike>();
  pc.addEventListener('datachannel', (event) => {
    const { channel } = event as { channel: ChannelLike };
    remoteChannels.set(channel.label, channel);
  });
  const created: Side = { name, stack, pc, actor, errors, out, remoteChannels };
  running.push(created);
  return created;
}

function link(a: Side, b: Side): void {
  a.out.connect(b.actor);
  b.out.connect(a.actor);
}

/**
 * What identifies a negotiated session in an SDP: session id and version,
 * ICE credentials, DTLS fingerprint, media sections. Stacks re-serialize a
 * remote description (and gathering adds candidates), so the raw text differs.
 */
function sessionOf(sdp: string | undefined): string[] {
  const lines = (sdp ?? '').split(/\r?\n/);
  const pick = (pattern: RegExp) => lines.flatMap((line) => pattern.exec(line)?.slice(1) ?? []);
  return [
    ...pick(/^o=\S+ (\S+ \S+)/),
    ...pick(/^a=ice-ufrag:(\S+)/),
    ...pick(/^a=fingerprint:(.+)$/).map((f) => f.toUpperCase()),
    ...pick(/^m=(\S+)/),
    ...pick(/^a=mid:(\S+)/),
  ];
}

const isSettled = (s: Side) => s.actor.getSnapshot().matches({ stable: 'idle' }) && s.pc.signalingState === 'stable';
const isConnected = (s: Side) => ['connected', 'completed'].includes(s.pc.iceConnectionState);

async function exchange(from: ChannelLike, to: string[], text: string): Promise<void> {
  from.send(text);
  await until(() => to.includes(text), `"${text}" to arrive`);
}

/**
 * werift 0.25 completes the restart negotiation (new credentials on both
 * sides, ICE reported connected) but its data path does not reliably come
 * back: two werift peers lose every message after any restart, even one
 * negotiated by hand without rtcpool, and werift→wrtc loses them when both
 * sides restart at once. Data after a restart is asserted where the stack can
 * deliver it; the negotiation itself is asserted for every pair.
 */
/**
 * werift picks the parity of its SCTP stream ids from its ICE role, not its
 * DTLS role (RFC 8832 says DTLS). When libwebrtc rolls back an offer it keeps
 * the controlling ICE role, the role conflict is settled by the random
 * tie-breaker, and in about one run in four werift takes stream 0, which the
 * DTLS client (libwebrtc) also takes: no channel opens on either side. Only
 * the pair where libwebrtc is the polite (rolling back) side against werift is
 * affected; rtcpool cannot choose the stacks' stream ids, so for that pair the
 * test asserts what negotiation controls.
 */
function sctpSurvivesRollback(a: Side, b: Side): boolean {
  const [polite, impolite] = a.actor.getSnapshot().context.polite ? [a, b] : [b, a];
  return !(polite.stack === 'wrtc' && impolite.stack === 'werift');
}

function restartKeepsDataFlowing(a: StackName, b: StackName): boolean {
  return a === 'wrtc' && b === 'wrtc';
}

const pairs: Array<[StackName, StackName]> = [
  ['wrtc', 'wrtc'],
  ['wrtc', 'werift'],
  ['werift', 'wrtc'],
  ['werift', 'werift'],
];

describe.each(pairs)('%s offers against %s', (stackA, stackB) => {
  test.each([true, false])(
    'glare on data channels, then a simultaneous ICE restart (A polite: %s)',
    async (aPolite) => {
      const a = side('A', stackA, aPolite);
      const b = side('B', stackB, !aPolite);
      link(a, b);

      // Both sides change in the same tick: a guaranteed offer collision.
      const fromA = a.pc.createDataChannel('from-a');
      const fromB = b.pc.createDataChannel('from-b');

      const dataFlows = sctpSurvivesRollback(a, b);
      // Negotiation must settle with one application section, ICE and DTLS up.
      await until(() => isSettled(a) && isSettled(b), 'both sides stable');
      await until(() => a.pc.connectionState === 'connected' && b.pc.connectionState === 'connected', 'DTLS up');
      expect(a.pc.localDescription?.sdp.match(/^m=application/gm)).toHaveLength(1);
      expect(sessionOf(b.pc.remoteDescription?.sdp)).toEqual(sessionOf(a.pc.localDescription?.sdp));
      expect(sessionOf(a.pc.remoteDescription?.sdp)).toEqual(sessionOf(b.pc.localDescription?.sdp));

      const remoteOf = async (side: Side, label: string) => {
        await until(() => side.remoteChannels.has(label), `channel ${label} at ${side.name}`);
        return side.remoteChannels.get(label) as ChannelLike;
      };
      const [atB, atA] = dataFlows ? await Promise.all([remoteOf(b, 'from-a'), remoteOf(a, 'from-b')]) : [];
      const receivedByB = atB ? collectMessages(atB) : [];
      const receivedByA = atA ? collectMessages(atA) : [];
      if (atA && atB) {
        await until(() => [fromA, fromB, atA, atB].every((c) => c.readyState === 'open'), 'every channel open');
        await exchange(fromA, receivedByB, 'a→b before restart');
        await exchange(fromB, receivedByA, 'b→a before restart');
      }
      await until(() => isSettled(a) && isSettled(b), 'both sides stable');

      const before = [a, b].map((s) => iceUfrag(s.pc.localDescription?.sdp));
      const descriptionsBefore = a.out.descriptions + b.out.descriptions;

      a.actor.send({ type: 'app.restartIce' });
      b.actor.send({ type: 'app.restartIce' });
      await until(
        () =>
          [a, b].every((s, i) => isSettled(s) && iceUfrag(s.pc.localDescription?.sdp) !== before[i]) &&
          isConnected(a) &&
          isConnected(b),
        'new ICE credentials on both sides and ICE connected',
      );

      if (atB && restartKeepsDataFlowing(stackA, stackB)) {
        await exchange(fromA, receivedByB, 'a→b after restart');
        await exchange(fromB, receivedByA, 'b→a after restart');
        await exchange(atB, collectMessages(fromA), 'b→a over the channel a opened');
      }

      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
      // Both restarts collide: the winning offer, the yielded one, the answer
      // (which restarts the polite side too). werift asks to renegotiate after
      // answering a restart: one more round per werift peer.
      const restartDescriptions = a.out.descriptions + b.out.descriptions - descriptionsBefore;
      const weriftPeers = [stackA, stackB].filter((stack) => stack === 'werift').length;
      expect(restartDescriptions).toBeGreaterThanOrEqual(2);
      expect(restartDescriptions).toBeLessThanOrEqual(3 + 2 * weriftPeers);
    },
  );
});

describe('stopping', () => {
  test('stopping the actor closes the connection and ends negotiation', async () => {
    const a = side('A', 'wrtc', true);
    const b = side('B', 'wrtc', false);
    link(a, b);
    a.pc.createDataChannel('x');
    await until(() => isSettled(a) && isSettled(b) && b.remoteChannels.has('x'), 'a negotiated channel');
    a.actor.stop();
    expect(a.pc.signalingState).toBe('closed');
    expect(a.actor.getSnapshot().status).toBe('stopped');
  });
});
