/**
 * The hand-written negotiator's steps as the smallest XState v5 machine that
 * does them: the floor XState itself sets under any machine-driven
 * negotiation. It answers what share of the machine's cost is XState's (an
 * actor per negotiator, one per operation, a snapshot per step) and what
 * share is rtcpool's own.
 *
 * One state per W3C step, one `fromPromise` actor per chain of WebRTC calls
 * (offer: createOffer + setLocalDescription; answer: rollback if needed +
 * setRemoteDescription + createAnswer + setLocalDescription; the remote
 * answer), every connection event and remote signal an event, the W3C flags
 * in context. Nothing else: no deferral bound, no error codes, no ICE restart
 * bookkeeping, no coalescing, no inspector-friendly context. It is not a
 * negotiator anyone should ship: it exists to be measured.
 */
import { assign, createActor, fromPromise, setup } from 'xstate';
import type { OutgoingSignal } from '../../src/negotiation.js';
import { type PeerConnectionLike, toIceCandidate, toSessionDescription } from '../../src/peer-connection.js';
import type { IceCandidate, SessionDescription } from '../../src/types.js';
import { addRemoteCandidate } from './hand-written.js';

export interface FloorNegotiatorOptions {
  pc: PeerConnectionLike;
  polite: boolean;
  send: (signal: OutgoingSignal) => void;
  onError: (error: unknown) => void;
}

interface FloorContext extends FloorNegotiatorOptions {
  ignoreOffer: boolean;
  /** A colliding offer the polite side takes once its own offer is done. */
  remoteOffer: SessionDescription | null;
  /** Remote candidates of that offer, added right after it is applied. */
  waiting: Array<IceCandidate | null>;
}

type FloorEvent =
  | { type: 'negotiationneeded' }
  | { type: 'icecandidate'; candidate: IceCandidate | null }
  | { type: 'iceconnectionstatechange' }
  | { type: 'description'; description: SessionDescription }
  | { type: 'candidate'; candidate: IceCandidate | null };

interface AnswerInput {
  pc: PeerConnectionLike;
  send: FloorContext['send'];
  offer: SessionDescription;
  candidates: Array<IceCandidate | null>;
  addCandidate: (candidate: IceCandidate | null) => void;
}

function addCandidate(context: FloorContext, candidate: IceCandidate | null): void {
  addRemoteCandidate(context.pc, candidate, context.ignoreOffer, context.onError);
}

const floorMachine = setup({
  types: { context: {} as FloorContext, events: {} as FloorEvent, input: {} as FloorNegotiatorOptions },
  actors: {
    offer: fromPromise<void, Pick<FloorContext, 'pc' | 'send'>>(async ({ input: { pc, send } }) => {
      const offer = toSessionDescription(await pc.createOffer());
      await pc.setLocalDescription(offer);
      send({ type: 'description', description: offer });
    }),
    answer: fromPromise<void, AnswerInput>(async ({ input }) => {
      const { pc, offer } = input;
      // Queued on the connection's operations chain in this order, before any candidate that arrives next.
      const rolledBack = pc.signalingState === 'have-local-offer' ? pc.setLocalDescription({ type: 'rollback' }) : null;
      const applied = pc.setRemoteDescription(offer);
      for (const candidate of input.candidates) input.addCandidate(candidate);
      await rolledBack;
      await applied;
      const answer = toSessionDescription(await pc.createAnswer());
      await pc.setLocalDescription(answer);
      input.send({ type: 'description', description: answer });
    }),
    applyAnswer: fromPromise<void, { pc: PeerConnectionLike; answer: SessionDescription }>(async ({ input }) => {
      await input.pc.setRemoteDescription(input.answer);
    }),
  },
  guards: {
    isOffer: ({ event }) => event.type === 'description' && event.description.type === 'offer',
    isAnswer: ({ event }) => event.type === 'description' && event.description.type === 'answer',
    isImpolite: ({ context }) => !context.polite,
    hasRemoteOffer: ({ context }) => context.remoteOffer !== null,
  },
  actions: {
    sendCandidate: ({ context, event }) => {
      if (event.type === 'icecandidate') context.send({ type: 'candidate', candidate: event.candidate });
    },
    addCandidate: ({ context, event }) => {
      if (event.type === 'candidate') addCandidate(context, event.candidate);
    },
    restartIfFailed: ({ context }) => {
      if (context.pc.iceConnectionState === 'failed') context.pc.restartIce?.();
    },
    fail: ({ context, event }) => context.onError('error' in event ? event.error : event),
    takeOffer: assign({
      ignoreOffer: false,
      remoteOffer: ({ event }) => (event.type === 'description' ? event.description : null),
    }),
    ignoreOffer: assign({ ignoreOffer: true }),
  },
}).createMachine({
  context: ({ input }) => ({ ...input, ignoreOffer: false, remoteOffer: null, waiting: [] }),
  initial: 'stable',
  on: {
    icecandidate: { actions: 'sendCandidate' },
    iceconnectionstatechange: { actions: 'restartIfFailed' },
    candidate: { actions: 'addCandidate' },
  },
  states: {
    stable: {
      always: { guard: 'hasRemoteOffer', target: 'answering' },
      on: {
        negotiationneeded: 'offering',
        description: { guard: 'isOffer', target: 'answering', actions: 'takeOffer' },
      },
    },
    offering: {
      invoke: {
        src: 'offer',
        input: ({ context }) => ({ pc: context.pc, send: context.send }),
        onDone: [{ guard: 'hasRemoteOffer', target: 'answering' }, { target: 'haveLocalOffer' }],
        onError: { target: 'stable', actions: 'fail' },
      },
      on: {
        description: [{ guard: 'isImpolite', actions: 'ignoreOffer' }, { actions: 'takeOffer' }],
        candidate: [
          {
            guard: 'hasRemoteOffer',
            actions: assign({ waiting: ({ context, event }) => [...context.waiting, event.candidate] }),
          },
          { actions: 'addCandidate' },
        ],
      },
    },
    haveLocalOffer: {
      on: {
        description: [
          { guard: 'isAnswer', target: 'applyingAnswer', actions: assign({ ignoreOffer: false }) },
          { guard: 'isImpolite', actions: 'ignoreOffer' },
          { target: 'answering', actions: 'takeOffer' },
        ],
      },
    },
    applyingAnswer: {
      invoke: {
        src: 'applyAnswer',
        input: ({ context, event }) => ({
          pc: context.pc,
          answer: (event as Extract<FloorEvent, { type: 'description' }>).description,
        }),
        onDone: 'stable',
        onError: { target: 'stable', actions: 'fail' },
      },
      // Not a collision (W3C isSettingRemoteAnswerPending): taken once the answer is applied.
      on: { description: { guard: 'isOffer', actions: 'takeOffer' } },
    },
    answering: {
      exit: assign({ remoteOffer: null, waiting: [] }),
      invoke: {
        src: 'answer',
        input: ({ context }) => ({
          pc: context.pc,
          send: context.send,
          offer: context.remoteOffer as SessionDescription,
          candidates: context.waiting,
          addCandidate: (candidate: IceCandidate | null) => addCandidate(context, candidate),
        }),
        onDone: 'stable',
        onError: { target: 'stable', actions: 'fail' },
      },
    },
  },
});

/** The floor machine on a connection, with the same listeners the hand-written negotiator adds. */
export class FloorNegotiator {
  readonly #pc: PeerConnectionLike;
  readonly #actor;
  readonly #listeners: Record<string, (event: unknown) => void>;

  constructor(options: FloorNegotiatorOptions) {
    this.#pc = options.pc;
    const actor = createActor(floorMachine, { input: options });
    this.#actor = actor;
    this.#listeners = {
      negotiationneeded: () => actor.send({ type: 'negotiationneeded' }),
      icecandidate: (event) => actor.send({ type: 'icecandidate', candidate: toIceCandidate(event) }),
      iceconnectionstatechange: () => actor.send({ type: 'iceconnectionstatechange' }),
    };
    for (const [type, listener] of Object.entries(this.#listeners)) this.#pc.addEventListener(type, listener);
    actor.start();
  }

  get settled(): boolean {
    return this.#actor.getSnapshot().matches('stable');
  }

  receive(signal: OutgoingSignal): void {
    if (signal.type === 'description') this.#actor.send({ type: 'description', description: signal.description });
    else this.#actor.send({ type: 'candidate', candidate: signal.candidate });
  }

  close(): void {
    for (const [type, listener] of Object.entries(this.#listeners)) this.#pc.removeEventListener(type, listener);
    this.#actor.stop();
  }
}
