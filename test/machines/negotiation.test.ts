import { describe, expect, test } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { negotiationMachine } from '../../machines/negotiation.js';
import {
  createNegotiationActor,
  type NegotiationError,
  type OutgoingSignal,
  type SessionDescription,
} from '../../src/index.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

const offer: SessionDescription = { type: 'offer', sdp: 'v=0\r\n' };
const answer: SessionDescription = { type: 'answer', sdp: 'v=0\r\n' };

describe('the bare machine (no effects provided)', () => {
  test('reports the missing effect and recovers to stable instead of wedging', async () => {
    const actor = createActor(negotiationMachine, { input: { peerId: 'p', polite: true } });
    const errors: NegotiationError[] = [];
    actor.on('negotiation.error', ({ error }) => errors.push(error));
    actor.start();
    actor.send({ type: 'pc.negotiationneeded' });
    await until(() => errors.length > 0 && actor.getSnapshot().matches({ stable: 'idle' }), 'recovery');
    expect(errors.map((e) => e.code)).toEqual(['not-provided']);
    expect(errors[0]?.message).toContain('"makeOffer" actor was not provided');
    actor.stop();
  });
});

describe('signals the machine must not act on', () => {
  const effects = (calls: string[]) =>
    negotiationMachine.provide({
      actors: {
        makeOffer: fromPromise(async (): Promise<SessionDescription | null> => {
          calls.push('makeOffer');
          await new Promise((resolve) => setTimeout(resolve, 20));
          return offer;
        }),
        acceptRemoteDescription: fromPromise(async ({ input }) => {
          calls.push(`accept ${input.description.type}`);
          return { restartsIce: false };
        }),
        makeAnswer: fromPromise(async () => answer),
      },
      actions: {
        addIceCandidates: (_, { candidates }) => {
          for (const candidate of candidates) calls.push(`add ${candidate?.candidate ?? 'end-of-candidates'}`);
        },
      },
    });

  test('an answer with no offer outstanding is dropped', () => {
    const calls: string[] = [];
    const actor = createActor(effects(calls), { input: { peerId: 'p', polite: false } }).start();
    actor.send({ type: 'signal.description', description: answer });
    expect(actor.getSnapshot().value).toEqual({ stable: 'idle' });
    expect(calls).toEqual([]);
    actor.stop();
  });

  test('candidates wait for a remote description, then follow it in order (end-of-candidates included)', async () => {
    const calls: string[] = [];
    const actor = createActor(effects(calls), { input: { peerId: 'p', polite: false } }).start();
    actor.send({ type: 'signal.candidate', candidate: { candidate: 'c1', sdpMid: '0' } });
    actor.send({ type: 'signal.candidate', candidate: null });
    expect(calls).toEqual([]);
    actor.send({ type: 'signal.description', description: offer });
    await until(() => actor.getSnapshot().matches({ stable: 'idle' }), 'answered');
    expect(calls).toEqual(['accept offer', 'add c1', 'add end-of-candidates']);
    actor.stop();
  });

  test('a flood of signals during one operation is cut off and reported', async () => {
    const calls: string[] = [];
    const actor = createActor(effects(calls), { input: { peerId: 'p', polite: true, maxDeferredSignals: 2 } });
    const errors: NegotiationError[] = [];
    actor.on('negotiation.error', ({ error }) => errors.push(error));
    actor.start();
    actor.send({ type: 'pc.negotiationneeded' });
    await until(() => actor.getSnapshot().matches('makingOffer'), 'making an offer');
    for (let i = 0; i < 3; i++) actor.send({ type: 'signal.candidate', candidate: { candidate: `c${i}` } });
    expect(actor.getSnapshot().context.deferred).toHaveLength(2);
    expect(errors.map((e) => e.code)).toEqual(['signal-overflow']);
    actor.stop();
  });
});

describe('createNegotiationActor on a connection', () => {
  test('stopping removes every listener it added and closes the connection', () => {
    const pc = new SimulatedPeerConnection();
    const before = pc.listenerCount();
    const actor = createNegotiationActor({ pc, polite: true, send: () => undefined });
    expect(pc.listenerCount()).toBeGreaterThan(before);
    actor.stop();
    expect(pc.listenerCount()).toBe(before);
    expect(pc.signalingState).toBe('closed');
  });

  test('app.close ends in the final state with the connection closed', () => {
    const pc = new SimulatedPeerConnection();
    const actor = createNegotiationActor({ pc, polite: false, send: () => undefined });
    actor.send({ type: 'app.close' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(pc.signalingState).toBe('closed');
    expect(pc.listenerCount()).toBe(0);
  });

  test('a restart asked before anything was negotiated is dropped, not owed: no offer, no loop', async () => {
    const pc = new SimulatedPeerConnection();
    const sent: OutgoingSignal[] = [];
    let offersCreated = 0;
    const createOffer = pc.createOffer.bind(pc);
    pc.createOffer = (options) => {
      offersCreated += 1;
      return createOffer(options);
    };
    const actor = createNegotiationActor({ pc, polite: false, send: (s) => sent.push(s) });
    actor.send({ type: 'app.restartIce' });
    await until(() => offersCreated === 1 && actor.getSnapshot().matches({ stable: 'idle' }), 'back to stable');
    // An offer with no m-sections has no ICE to restart: owing the restart would create offers forever.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(offersCreated).toBe(1);
    expect(sent).toEqual([]);

    // The first real change is offered as usual.
    pc.createDataChannel('later');
    await until(() => sent.some((s) => s.type === 'description' && s.description.type === 'offer'), 'an offer');
    actor.stop();
  });

  test('a malformed remote description is reported and the connection stays usable', async () => {
    const pc = new SimulatedPeerConnection();
    const sent: OutgoingSignal[] = [];
    const errors: NegotiationError[] = [];
    const actor = createNegotiationActor({
      pc,
      polite: true,
      send: (s) => sent.push(s),
      onError: (e) => errors.push(e),
    });
    actor.send({ type: 'signal.description', description: { type: 'offer', sdp: 'not sdp' } });
    await until(() => errors.length === 1 && actor.getSnapshot().matches({ stable: 'idle' }), 'recovery');
    expect(errors[0]?.code).toBe('remote-offer-rejected');

    pc.createDataChannel('still works');
    await until(() => sent.some((s) => s.type === 'description' && s.description.type === 'offer'), 'an offer');
    actor.stop();
  });

  test('a candidate that fits the remote description but is rejected is reported', async () => {
    const a = new SimulatedPeerConnection({ name: 'a' });
    const b = new SimulatedPeerConnection({ name: 'b' });
    const errors: NegotiationError[] = [];
    const toB: OutgoingSignal[] = [];
    const actorA = createNegotiationActor({ pc: a, polite: true, send: (s) => toB.push(s) });
    const actorB = createNegotiationActor({
      pc: b,
      polite: false,
      send: (s) => s.type === 'description' && actorA.send({ type: 'signal.description', description: s.description }),
      onError: (e) => errors.push(e),
    });
    a.createDataChannel('x');
    await until(() => toB.some((s) => s.type === 'description'), 'an offer');
    const description = toB.find((s) => s.type === 'description');
    if (description?.type !== 'description') throw new Error('no offer');
    actorB.send({ type: 'signal.description', description: description.description });
    await until(() => actorB.getSnapshot().matches({ stable: 'idle' }) && b.remoteDescription !== null, 'answered');
    const ufrag = /a=ice-ufrag:(\S+)/.exec(b.remoteDescription?.sdp ?? '')?.[1] ?? '';
    // Right generation and m-section, but the connection refuses the line.
    b.addIceCandidate = () => Promise.reject(new TypeError('unparsable candidate'));
    actorB.send({
      type: 'signal.candidate',
      candidate: { candidate: 'garbage', sdpMid: '0', usernameFragment: ufrag },
    });
    await until(() => errors.length > 0, 'the rejection');
    expect(errors.map((e) => e.code)).toEqual(['candidate-rejected']);
    actorA.stop();
    actorB.stop();
  });
});
