/**
 * Candidates around descriptions that were never set or never kept, on a
 * scripted connection whose timing a real stack (`@roamhq/wrtc`) was seen to
 * produce: none gathered for the applied description is lost, and none of
 * another ICE generation reaches the connection.
 */
import { afterEach, expect, test } from 'vitest';
import { createNegotiationActor, type NegotiationActor, type OutgoingSignal } from '../../src/index.js';
import type { PeerConnectionLike } from '../../src/peer-connection.js';
import { until } from '../support/wait.js';

const sdp = (ufrag: string, setup = 'actpass') =>
  [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`,
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 00:00',
    `a=setup:${setup}`,
    'a=mid:0',
    'a=sctp-port:5000',
    '',
  ].join('\r\n');

const candidate = (ufrag: string, port: number) => ({
  candidate: `candidate:1 1 udp 2122260223 192.0.2.1 ${port} typ host generation 0 ufrag ${ufrag}`,
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: ufrag,
});

/** A connection scripted step by step: descriptions are stored, candidates recorded, events dispatched by the test. */
class ScriptedConnection extends EventTarget implements PeerConnectionLike {
  signalingState = 'stable';
  iceConnectionState = 'new';
  connectionState = 'new';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  /** `ufrag of the candidate -> ufrag of the remote description` for every addIceCandidate. */
  readonly added: string[] = [];
  /** The port of every candidate added (end-of-candidates is not one). */
  readonly addedPorts: number[] = [];
  /** Called inside createOffer, before it resolves. */
  duringOffer: () => void = () => undefined;
  offerUfrag = 'aaaa';

  async createOffer() {
    this.duringOffer();
    return { type: 'offer', sdp: sdp(this.offerUfrag) };
  }
  async createAnswer() {
    return { type: 'answer', sdp: sdp(this.offerUfrag, 'active') };
  }
  async setLocalDescription(description: { type: string; sdp?: string }) {
    if (description.type === 'rollback') {
      this.signalingState = 'stable';
      return;
    }
    this.localDescription = { type: description.type, sdp: description.sdp ?? '' };
    this.signalingState = description.type === 'offer' ? 'have-local-offer' : 'stable';
  }
  async setRemoteDescription(description: { type: string; sdp: string }) {
    this.remoteDescription = description;
    this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
  }
  async addIceCandidate(added?: { candidate?: string; usernameFragment?: string | null }) {
    const remote = /a=ice-ufrag:(\S+)/.exec(this.remoteDescription?.sdp ?? '')?.[1];
    this.added.push(`${added?.usernameFragment} -> ${remote}`);
    if (added?.candidate) this.addedPorts.push(Number(added.candidate.split(' ')[5]));
  }
  gather(ufrag: string, port: number) {
    this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: candidate(ufrag, port) }));
  }
  close() {}
}

const actors: NegotiationActor[] = [];
afterEach(() => {
  for (const actor of actors.splice(0)) actor.stop();
});

test('candidates gathered while an offer that changes nothing is probed are sent, not dropped', async () => {
  // Stable after answering, ICE still gathering for that answer: wrtc then fires a negotiationneeded
  // for a change the answer already covered, and gathers more while the machine probes for an offer.
  const pc = new ScriptedConnection();
  pc.localDescription = { type: 'answer', sdp: sdp('aaaa', 'active') };
  pc.remoteDescription = { type: 'offer', sdp: sdp('rrrr') };
  pc.duringOffer = () => pc.gather('aaaa', 5001);
  const sent: OutgoingSignal[] = [];
  const actor = createNegotiationActor({ pc, polite: true, send: (signal) => sent.push(signal) });
  actors.push(actor);
  const visited: string[] = [];
  actor.subscribe((snapshot) => visited.push(JSON.stringify(snapshot.value)));
  pc.gather('aaaa', 5000);
  pc.dispatchEvent(new Event('negotiationneeded'));
  await until(() => visited.includes('"makingOffer"') && actor.getSnapshot().matches({ stable: 'idle' }), 'probed');
  expect(sent.filter(({ type }) => type === 'description')).toEqual([]); // nothing to offer
  expect(
    sent.map((signal) => (signal.type === 'candidate' ? signal.candidate?.candidate.split(' ')[5] : 'sdp')),
  ).toEqual(['5000', '5001']);
});

test('a candidate of an ignored offer never reaches the connection, not even after the answer', async () => {
  const pc = new ScriptedConnection();
  const actor = createNegotiationActor({ pc, polite: false, send: () => undefined });
  actors.push(actor);
  pc.dispatchEvent(new Event('negotiationneeded'));
  await until(() => actor.getSnapshot().matches('haveLocalOffer'), 'our offer out');
  // Glare: the polite side's offer (ufrag bbbb) and its candidate; we are impolite and ignore both.
  actor.send({ type: 'signal.description', description: { type: 'offer', sdp: sdp('bbbb') } });
  actor.send({ type: 'signal.candidate', candidate: candidate('bbbb', 5000) });
  // The polite side rolls back and answers our offer with ufrag cccc, then trickles for it.
  actor.send({ type: 'signal.description', description: { type: 'answer', sdp: sdp('cccc', 'active') } });
  actor.send({ type: 'signal.candidate', candidate: candidate('cccc', 5002) });
  await until(() => actor.getSnapshot().matches({ stable: 'idle' }) && pc.added.length > 0, 'the answer applied');
  expect(pc.added).toEqual(['cccc -> cccc']);
});

test("an ignored offer's candidates are dropped even when the answer reuses its ICE credentials (Firefox)", async () => {
  const pc = new ScriptedConnection();
  const actor = createNegotiationActor({ pc, polite: false, send: () => undefined });
  actors.push(actor);
  pc.dispatchEvent(new Event('negotiationneeded'));
  await until(() => actor.getSnapshot().matches('haveLocalOffer'), 'our offer out');
  // Glare with a Firefox polite side: its offer and the candidates gathered for it (ufrag bbbb, port 5000) ...
  actor.send({ type: 'signal.description', description: { type: 'offer', sdp: sdp('bbbb') } });
  actor.send({ type: 'signal.candidate', candidate: candidate('bbbb', 5000) });
  actor.send({ type: 'signal.candidate', candidate: null });
  // ... then, rolled back, it answers with the same credentials but gathers again on new sockets (port 5002).
  actor.send({ type: 'signal.description', description: { type: 'answer', sdp: sdp('bbbb', 'active') } });
  actor.send({ type: 'signal.candidate', candidate: candidate('bbbb', 5002) });
  await until(() => actor.getSnapshot().matches({ stable: 'idle' }) && pc.added.length > 0, 'the answer applied');
  // Only the answer's candidate: the rolled-back offer's socket answers STUN but carries no DTLS.
  expect(pc.addedPorts).toEqual([5002]);
});
