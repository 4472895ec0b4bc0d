/**
 * Perfect negotiation for one peer connection, after the example in the W3C
 * WebRTC specification (section 10.7), made portable to stacks without
 * implicit rollback or parameterless `setLocalDescription()`.
 *
 * The machine performs one WebRTC operation at a time. Signals that arrive
 * while an operation is in flight are deferred and replayed, in order, as soon
 * as the connection is idle again; this keeps every `addIceCandidate` behind
 * the remote description it belongs to and lets a polite peer roll back
 * explicitly. The W3C flags survive as context: `makingOffer` is true while an
 * offer is being made, `isSettingRemoteAnswerPending` while an answer is being
 * applied, `ignoreOffer` after an impolite peer ignored a colliding offer.
 *
 * Every effect is a named action or actor supplied through `.provide()` (see
 * `src/negotiation-effects.ts`); the defaults do nothing, so the bare machine
 * can be inspected or simulated on its own. What the effects act on (the
 * connection, the way to send) is found through `lookup`, given in the input
 * by the owner of those resources. The connection's own events arrive as
 * `pc.*` events sent by whoever owns its listeners.
 */
import { and, assertEvent, assign, cancel, emit, fromPromise, not, raise, setup } from 'xstate';
import { NegotiationError, type NegotiationErrorCode } from './errors.js';
import type { IceCandidate, IceConnectionState, PeerConnectionState, SessionDescription } from './types.js';

/**
 * Finds what the provided effects act on for peer `peerId`: opaque to the
 * machine, which only hands it to its effects. The owner of the resources
 * passes it in the input (a Pool one lookup over all its connections, a
 * standalone actor a one-entry lookup), so nothing is found through a hidden
 * registry. A function in context is also what an inspector can serialize: it
 * leaves it out.
 */
export type EffectsLookup = (peerId: string) => object | undefined;

export interface NegotiationInput {
  /** Remote peer id, for logs and the inspector. */
  peerId: string;
  /** The polite peer yields (rolls back) when both sides offer at once. */
  polite: boolean;
  /** Signals kept while an operation is in flight before they count as a flood. */
  maxDeferredSignals?: number;
  /** How long to wait for more changes before offering (default 0: the end of the task). */
  coalesceMs?: number;
  /**
   * Restart ICE once the connection has stayed `disconnected` this long
   * (milliseconds; default: never, only `failed` restarts, as in the W3C
   * example). libwebrtc reports `disconnected` about 5 s after the path goes
   * and `failed` about 10 s after that; a few seconds here recover sooner. A
   * disconnection that heals on its own before the delay restarts nothing.
   */
  iceDisconnectedRestartMs?: number;
  /** Where the provided effects find their connection (default: nowhere, for the bare machine). */
  lookup?: EffectsLookup;
}

/** What applying a remote description revealed. */
export interface RemoteDescriptionResult {
  /** The remote ICE credentials changed: the description restarts ICE. */
  restartsIce: boolean;
}

/** A signal from the remote peer, as the pool delivers it. */
export type SignalEvent =
  | { type: 'signal.description'; description: SessionDescription }
  | { type: 'signal.candidate'; candidate: IceCandidate | null };

export type NegotiationEvent =
  | SignalEvent
  | { type: 'pc.negotiationneeded' }
  | { type: 'pc.icecandidate'; candidate: IceCandidate | null }
  | { type: 'pc.iceconnectionstatechange'; state: IceConnectionState }
  | { type: 'pc.connectionstatechange'; state: PeerConnectionState }
  /** `superseded`: the candidate cannot belong to the applied remote description (see candidateFitsDescription). */
  | { type: 'pc.candidaterejected'; error: unknown; superseded: boolean }
  | { type: 'app.restartIce' }
  | { type: 'app.close' }
  /** Raised by the machine itself when `disconnected` outlasted `iceDisconnectedRestartMs`. */
  | { type: 'ice.disconnectedTimeout' };

export type NegotiationEmitted = { type: 'negotiation.error'; error: NegotiationError };

export interface NegotiationContext {
  peerId: string;
  lookup: EffectsLookup;
  polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  isSettingRemoteAnswerPending: boolean;
  hasRemoteDescription: boolean;
  /** The connection asked for negotiation while an operation was in flight. */
  negotiationNeeded: boolean;
  /** An ICE restart was asked for and no offer has carried it yet. */
  iceRestartNeeded: boolean;
  /** The offer now awaiting an answer restarts ICE (restored if rolled back). */
  offerRestartsIce: boolean;
  /** The remote offer being accepted (kept across the polite rollback). */
  remoteOffer: SessionDescription | null;
  /** Local candidates gathered before the description they belong to was sent. */
  heldCandidates: Array<IceCandidate | null>;
  /** Remote candidates that arrived before any remote description. */
  pendingCandidates: Array<IceCandidate | null>;
  /** Signals that arrived while an operation was in flight, oldest first. */
  deferred: SignalEvent[];
  maxDeferredSignals: number;
  coalesceMs: number;
  /** Null: a lasting disconnection waits for `failed` like any other. */
  iceDisconnectedRestartMs: number | null;
  iceConnectionState: IceConnectionState;
  connectionState: PeerConnectionState;
}

/** What every async effect is invoked with: whose connection, and where to find it. */
export interface EffectInput {
  peerId: string;
  lookup: EffectsLookup;
}

/** What went wrong, as the machine reports it: a stable code and whatever the WebRTC call rejected with. */
export interface ErrorReport {
  code: NegotiationErrorCode;
  cause: unknown;
}

/** Default for effects that only a real (or simulated) connection can supply. */
function notProvided<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new NegotiationError('not-provided', `the "${name}" actor was not provided`);
  });
}

const nowhere: EffectsLookup = () => undefined;

const negotiation = setup({
  types: {
    context: {} as NegotiationContext,
    events: {} as NegotiationEvent,
    input: {} as NegotiationInput,
    emitted: {} as NegotiationEmitted,
  },
  actors: {
    /** createOffer (with iceRestart when asked) then setLocalDescription(offer). */
    /** Resolves with null when the offer would change nothing (the connection asked needlessly). */
    makeOffer: notProvided<SessionDescription | null, EffectInput & { iceRestart: boolean }>('makeOffer'),
    /** createAnswer then setLocalDescription(answer). */
    makeAnswer: notProvided<SessionDescription, EffectInput>('makeAnswer'),
    /** setRemoteDescription for an offer or an answer. */
    acceptRemoteDescription: notProvided<RemoteDescriptionResult, EffectInput & { description: SessionDescription }>(
      'acceptRemoteDescription',
    ),
    /** Back to stable: setLocalDescription({ type: 'rollback' }) unless already there. */
    // Without a connection there is nothing to roll back, so the bare machine
    // (in an inspector) recovers to stable instead of failing.
    rollback: fromPromise<void, EffectInput>(async () => undefined),
  },
  actions: {
    sendDescription: (_, _params: { description: SessionDescription }) => undefined,
    sendCandidates: (_, _params: { candidates: Array<IceCandidate | null> }) => undefined,
    /** Fire-and-forget, in order: a failure comes back as `pc.candidaterejected`. */
    addIceCandidates: (_, _params: { candidates: Array<IceCandidate | null> }) => undefined,
    restartIce: () => undefined,
    closeConnection: () => undefined,
    /** Hands the error to the owner of the connection (a Pool reports it as an `error` event). */
    notifyError: (_, _params: ErrorReport) => undefined,
    /** Emits the error as `negotiation.error` for whoever listens to the actor. */
    emitError: emit((_, params: ErrorReport) => ({
      type: 'negotiation.error' as const,
      error: NegotiationError.from(params.code, params.cause),
    })),

    deferSignal: assign({
      deferred: ({ context, event }) => {
        assertEvent(event, ['signal.description', 'signal.candidate']);
        return [...context.deferred, event];
      },
    }),
    queueCandidate: assign({
      pendingCandidates: ({ context, event }) => {
        assertEvent(event, 'signal.candidate');
        return [...context.pendingCandidates, event.candidate];
      },
    }),
    clearPendingCandidates: assign({ pendingCandidates: [] }),
    holdCandidate: assign({
      heldCandidates: ({ context, event }) => {
        assertEvent(event, 'pc.icecandidate');
        return [...context.heldCandidates, event.candidate];
      },
    }),
    clearHeldCandidates: assign({ heldCandidates: [] }),
    markIceRestartNeeded: assign({ iceRestartNeeded: true }),
    recordIceConnectionState: assign({
      iceConnectionState: ({ event }) => {
        assertEvent(event, 'pc.iceconnectionstatechange');
        return event.state;
      },
    }),
    // Cancelled first: the scheduler would keep an earlier timer of the same id running.
    cancelDisconnectedRestart: cancel('iceDisconnectedRestart'),
    scheduleDisconnectedRestart: raise(
      { type: 'ice.disconnectedTimeout' },
      { id: 'iceDisconnectedRestart', delay: 'iceDisconnectedRestart' },
    ),
  },
  guards: {
    isOffer: ({ event }) => event.type === 'signal.description' && event.description.type === 'offer',
    isAnswer: ({ event }) => event.type === 'signal.description' && event.description.type === 'answer',
    isPolite: ({ context }) => context.polite,
    /** Impolite side of a collision: an offer arrived while ours awaits its answer. */
    shouldIgnoreOffer: ({ context, event }) =>
      !context.polite && event.type === 'signal.description' && event.description.type === 'offer',
    /** W3C: a failing candidate is only an error when we did not ignore its offer. */
    isIgnoringOffer: ({ context }) => context.ignoreOffer,
    /** Trickle for an ignored, rolled-back or restarted description arrives late; it is moot. */
    isSupersededCandidate: ({ event }) => event.type === 'pc.candidaterejected' && event.superseded,
    hasRemoteDescription: ({ context }) => context.hasRemoteDescription,
    hasNegotiationPending: ({ context }) => context.negotiationNeeded || context.iceRestartNeeded,
    isIceFailed: ({ event }) => event.type === 'pc.iceconnectionstatechange' && event.state === 'failed',
    isIceDisconnected: ({ event }) => event.type === 'pc.iceconnectionstatechange' && event.state === 'disconnected',
    isConnectionFailed: ({ event }) => event.type === 'pc.connectionstatechange' && event.state === 'failed',
    /** A restart was asked for, or its offer awaits an answer: another would only add a round. */
    isIceRestartUnderway: ({ context }) => context.iceRestartNeeded || context.offerRestartsIce,
    restartsWhenDisconnected: ({ context }) => context.iceDisconnectedRestartMs !== null,
    isDeferralFull: ({ context }) => context.deferred.length >= context.maxDeferredSignals,
  },
  delays: {
    /** Lets a burst of changes made in one task produce a single offer. */
    coalesceNegotiation: ({ context }) => context.coalesceMs,
    /** How long `disconnected` may last before ICE restarts without waiting for `failed`. */
    iceDisconnectedRestart: ({ context }) => context.iceDisconnectedRestartMs ?? 0,
  },
});

const effectInput = ({ context }: { context: NegotiationContext }): EffectInput => ({
  peerId: context.peerId,
  lookup: context.lookup,
});

const flushPendingCandidates = [
  {
    type: 'addIceCandidates',
    params: ({ context }: { context: NegotiationContext }) => ({ candidates: context.pendingCandidates }),
  },
  'clearPendingCandidates',
] as const;

/**
 * Sends the candidates held while a description was being made. Held only
 * so that they never overtake that description; when none was set (nothing
 * to offer, or the step failed) they belong to the description already
 * applied, and are just as needed: dropping them lost the srflx and relay
 * candidates gathered meanwhile.
 */
const releaseHeldCandidates = [
  {
    type: 'sendCandidates',
    params: ({ context }: { context: NegotiationContext }) => ({ candidates: context.heldCandidates }),
  },
  'clearHeldCandidates',
] as const;

/** Sends the new local description, then the candidates gathered while it was being set. */
const sendLocalDescription = [
  {
    type: 'sendDescription',
    params: ({ event }: { event: { output: SessionDescription | null } }) => ({
      description: event.output as SessionDescription,
    }),
  },
  ...releaseHeldCandidates,
] as const;

const requestIceRestart = ['markIceRestartNeeded', 'restartIce'] as const;

/**
 * Both ways an error leaves the machine: emitted to the actor's listeners and
 * handed to the owner of the connection. `cause` is the failed step's error.
 */
function reportError(code: NegotiationErrorCode) {
  const params = ({ event }: { event: { error: unknown } }): ErrorReport => ({ code, cause: event.error });
  return [
    { type: 'emitError', params },
    { type: 'notifyError', params },
  ] as const;
}

const overflow: ErrorReport = {
  code: 'signal-overflow',
  cause: new NegotiationError('signal-overflow', 'too many signals arrived during one operation; one was dropped'),
};
const dropOverflowingSignal = [
  { type: 'emitError', params: overflow },
  { type: 'notifyError', params: overflow },
] as const;

export const negotiationMachine = negotiation
  .extend({
    actions: {
      replayDeferredSignals: negotiation.enqueueActions(({ context, enqueue }) => {
        if (context.deferred.length === 0) return;
        enqueue.assign({ deferred: [] });
        for (const signal of context.deferred) enqueue.raise(signal);
      }),
    },
  })
  .createMachine({
    id: 'negotiation',
    context: ({ input }) => ({
      peerId: input.peerId,
      lookup: input.lookup ?? nowhere,
      polite: input.polite,
      makingOffer: false,
      ignoreOffer: false,
      isSettingRemoteAnswerPending: false,
      hasRemoteDescription: false,
      negotiationNeeded: false,
      iceRestartNeeded: false,
      offerRestartsIce: false,
      remoteOffer: null,
      heldCandidates: [],
      pendingCandidates: [],
      deferred: [],
      maxDeferredSignals: input.maxDeferredSignals ?? 256,
      coalesceMs: input.coalesceMs ?? 0,
      iceDisconnectedRestartMs: input.iceDisconnectedRestartMs ?? null,
      iceConnectionState: 'new',
      connectionState: 'new',
    }),
    initial: 'stable',
    on: {
      // Busy states inherit these: a signal waits until the operation finishes.
      'signal.description': [{ guard: 'isDeferralFull', actions: dropOverflowingSignal }, { actions: 'deferSignal' }],
      'signal.candidate': [{ guard: 'isDeferralFull', actions: dropOverflowingSignal }, { actions: 'deferSignal' }],
      // Remembered, not acted on: an offer can only start from stable. A
      // spec-compliant connection would fire again once stable, but wrtc
      // (libwebrtc's legacy callback) does not, so the machine keeps it.
      'pc.negotiationneeded': { actions: assign({ negotiationNeeded: true }) },
      'pc.icecandidate': {
        actions: { type: 'sendCandidates', params: ({ event }) => ({ candidates: [event.candidate] }) },
      },
      // Both sides restart on failure; if both offer, it is an ordinary collision.
      'pc.iceconnectionstatechange': [
        {
          guard: 'isIceFailed',
          actions: ['recordIceConnectionState', 'cancelDisconnectedRestart', ...requestIceRestart],
        },
        {
          guard: and(['isIceDisconnected', 'restartsWhenDisconnected']),
          actions: ['recordIceConnectionState', 'cancelDisconnectedRestart', 'scheduleDisconnectedRestart'],
        },
        { actions: ['recordIceConnectionState', 'cancelDisconnectedRestart'] },
      ],
      // Any other ICE state cancels the timer (above), so when it fires the connection is still disconnected.
      'ice.disconnectedTimeout': { actions: requestIceRestart },
      // Also on the connection's failure: libwebrtc (wrtc) can fire the ICE
      // event for `failed` while its iceConnectionState still reads
      // `disconnected`, so that event alone may never show the failure.
      'pc.connectionstatechange': [
        {
          guard: and(['isConnectionFailed', not('isIceRestartUnderway')]),
          actions: [assign({ connectionState: ({ event }) => event.state }), ...requestIceRestart],
        },
        { actions: assign({ connectionState: ({ event }) => event.state }) },
      ],
      'pc.candidaterejected': [
        { guard: 'isIgnoringOffer' },
        { guard: 'isSupersededCandidate' },
        {
          actions: reportError('candidate-rejected'),
        },
      ],
      'app.restartIce': { actions: requestIceRestart },
      'app.close': '.closed',
    },
    states: {
      stable: {
        description: 'Signaling state stable and nothing in flight.',
        entry: 'replayDeferredSignals',
        initial: 'idle',
        on: {
          'signal.description': [
            {
              guard: 'isOffer',
              target: 'acceptingOffer',
              actions: assign({ ignoreOffer: false, remoteOffer: ({ event }) => event.description }),
            },
            // An answer with no offer of ours outstanding belongs to one we rolled back.
            {},
          ],
          'signal.candidate': [
            {
              guard: 'hasRemoteDescription',
              actions: { type: 'addIceCandidates', params: ({ event }) => ({ candidates: [event.candidate] }) },
            },
            { actions: 'queueCandidate' },
          ],
        },
        states: {
          idle: {
            always: { guard: 'hasNegotiationPending', target: 'aboutToOffer' },
            on: { 'pc.negotiationneeded': 'aboutToOffer' },
          },
          aboutToOffer: {
            description: 'Waits out the current task so a burst of changes gives one offer.',
            on: { 'pc.negotiationneeded': {} },
            after: { coalesceNegotiation: '#negotiation.makingOffer' },
          },
        },
      },
      makingOffer: {
        // The offer about to be created covers every change made so far.
        entry: assign({ makingOffer: true, negotiationNeeded: false }),
        exit: assign({ makingOffer: false }),
        on: { 'pc.icecandidate': { actions: 'holdCandidate' } },
        invoke: {
          src: 'makeOffer',
          input: ({ context }) => ({
            peerId: context.peerId,
            lookup: context.lookup,
            iceRestart: context.iceRestartNeeded,
          }),
          onDone: [
            {
              // wrtc fires negotiationneeded for changes already negotiated; an offer
              // identical in media to the current description is not worth a round.
              guard: ({ event }) => event.output === null,
              target: 'stable',
              actions: releaseHeldCandidates,
            },
            {
              target: 'haveLocalOffer',
              actions: [
                assign(({ context }) => ({ offerRestartsIce: context.iceRestartNeeded, iceRestartNeeded: false })),
                ...sendLocalDescription,
              ],
            },
          ],
          onError: {
            target: 'recovering',
            // Not retried on its own: a connection that cannot offer would loop.
            actions: [assign({ iceRestartNeeded: false }), ...releaseHeldCandidates, ...reportError('offer-failed')],
          },
        },
      },
      haveLocalOffer: {
        description: 'Our offer is out; waiting for its answer.',
        entry: 'replayDeferredSignals',
        on: {
          'signal.description': [
            { guard: 'isAnswer', target: 'acceptingAnswer' },
            { guard: 'shouldIgnoreOffer', actions: assign({ ignoreOffer: true }) },
            // Polite side of a collision: yield, then take the remote offer.
            {
              target: 'rollingBack',
              actions: assign(({ context, event }) => ({
                ignoreOffer: false,
                remoteOffer: event.description,
                iceRestartNeeded: context.iceRestartNeeded || context.offerRestartsIce,
                offerRestartsIce: false,
              })),
            },
          ],
          'signal.candidate': [
            {
              guard: 'hasRemoteDescription',
              actions: { type: 'addIceCandidates', params: ({ event }) => ({ candidates: [event.candidate] }) },
            },
            { actions: 'queueCandidate' },
          ],
        },
      },
      rollingBack: {
        description: 'Polite peer withdrawing its own offer after a collision.',
        invoke: {
          src: 'rollback',
          input: effectInput,
          onDone: 'acceptingOffer',
          onError: {
            target: 'failed',
            actions: reportError('rollback-failed'),
          },
        },
      },
      acceptingOffer: {
        description: 'setRemoteDescription(offer).',
        exit: assign({ remoteOffer: null }),
        invoke: {
          src: 'acceptRemoteDescription',
          input: ({ context }) => ({
            ...effectInput({ context }),
            description: context.remoteOffer as SessionDescription,
          }),
          onDone: {
            target: 'makingAnswer',
            actions: [
              // Answering an ICE-restarting offer renews our credentials too,
              // so a restart we still owe is already done.
              assign(({ context, event }) => ({
                hasRemoteDescription: true,
                iceRestartNeeded: context.iceRestartNeeded && !event.output.restartsIce,
              })),
              ...flushPendingCandidates,
            ],
          },
          onError: {
            target: 'recovering',
            actions: reportError('remote-offer-rejected'),
          },
        },
      },
      makingAnswer: {
        on: { 'pc.icecandidate': { actions: 'holdCandidate' } },
        invoke: {
          src: 'makeAnswer',
          input: effectInput,
          onDone: { target: 'stable', actions: sendLocalDescription },
          onError: {
            target: 'recovering',
            actions: [...releaseHeldCandidates, ...reportError('answer-failed')],
          },
        },
      },
      acceptingAnswer: {
        description: 'setRemoteDescription(answer); offers arriving now are not collisions.',
        entry: assign({ isSettingRemoteAnswerPending: true }),
        exit: assign({ isSettingRemoteAnswerPending: false }),
        invoke: {
          src: 'acceptRemoteDescription',
          input: ({ context, event }) => {
            assertEvent(event, 'signal.description');
            return { peerId: context.peerId, lookup: context.lookup, description: event.description };
          },
          onDone: {
            target: 'stable',
            actions: [assign({ hasRemoteDescription: true, offerRestartsIce: false }), ...flushPendingCandidates],
          },
          onError: {
            target: 'recovering',
            actions: reportError('remote-answer-rejected'),
          },
        },
      },
      recovering: {
        description: 'A step failed: return the connection to stable and carry on.',
        invoke: {
          src: 'rollback',
          input: effectInput,
          onDone: 'stable',
          onError: {
            target: 'failed',
            actions: reportError('rollback-failed'),
          },
        },
      },
      failed: {
        description: 'The connection could not be brought back to stable; only closing helps.',
        on: { 'signal.description': {}, 'signal.candidate': {}, 'app.restartIce': {}, 'ice.disconnectedTimeout': {} },
      },
      closed: {
        type: 'final',
        entry: 'closeConnection',
      },
    },
  });

export type NegotiationMachine = typeof negotiationMachine;
