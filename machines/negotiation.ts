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

/** What the negotiation machine starts with (`createActor(negotiationMachine, { input })`). */
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
  /**
   * Do not offer until the peer's first offer arrives, or until this many
   * milliseconds have passed (the fallback: then offer anyway). For a pool's
   * newcomer, whose peers already present always offer first: waiting makes
   * each pair one offer and one answer instead of a collision. Changes made
   * meanwhile ride the answer when they can (a data channel, a track whose
   * kind the offer carries) and take one more offer afterwards when not.
   * Default (and 0): offer at once.
   */
  firstOfferTimeoutMs?: number;
  /** Where the provided effects find their connection (default: nowhere, for the bare machine). */
  lookup?: EffectsLookup;
}

/** Where a rollback left the connection. */
export interface RollbackResult {
  /**
   * A remote description is still applied. False once a remote offer that
   * was the first was withdrawn: remote candidates are queued again.
   */
  hasRemoteDescription: boolean;
}

/** What applying a remote description revealed. */
export interface RemoteDescriptionResult {
  /** The remote ICE credentials changed: the description restarts ICE. */
  restartsIce: boolean;
}

/** A signal from the remote peer, as the pool delivers it. */
export type SignalEvent =
  | {
      /** The peer's offer or answer. */
      type: 'signal.description';
      /** The description, as the peer sent it. */
      description: SessionDescription;
    }
  | {
      /** One of the peer's trickled ICE candidates. */
      type: 'signal.candidate';
      /** The candidate; null: the peer has no more (end of candidates). */
      candidate: IceCandidate | null;
    };

/**
 * Everything the negotiation machine reacts to: the remote peer's signals
 * (`signal.*`), its connection's own events (`pc.*`, forwarded by whoever
 * owns the connection's listeners) and the application's requests (`app.*`).
 */
export type NegotiationEvent =
  | SignalEvent
  | {
      /** The connection fired `negotiationneeded`; the application may send it too, for a change no stack reports. */
      type: 'pc.negotiationneeded';
    }
  | {
      /** The connection gathered a local ICE candidate, to send to the peer. */
      type: 'pc.icecandidate';
      /** The candidate; null: gathering is complete. */
      candidate: IceCandidate | null;
    }
  | {
      /** The connection's `iceConnectionState` changed: `failed` restarts ICE. */
      type: 'pc.iceconnectionstatechange';
      /** The new ICE connection state. */
      state: IceConnectionState;
    }
  | {
      /** The connection's `connectionState` changed: `failed` restarts ICE too (wrtc may not report it otherwise). */
      type: 'pc.connectionstatechange';
      /** The new connection state. */
      state: PeerConnectionState;
    }
  | {
      /** `addIceCandidate` rejected a remote candidate. */
      type: 'pc.candidaterejected';
      /** What `addIceCandidate` rejected with. */
      error: unknown;
      /**
       * The candidate cannot belong to the applied remote description (see
       * candidateFitsDescription): moot, not an error.
       */
      superseded: boolean;
    }
  | {
      /** The application asks for an ICE restart, carried by the next offer (glare-safe). */
      type: 'app.restartIce';
    }
  | {
      /** The application is done: the machine closes the connection and stops. */
      type: 'app.close';
    }
  | {
      /** Raised by the machine itself when `disconnected` outlasted `iceDisconnectedRestartMs`. */
      type: 'ice.disconnectedTimeout';
    };

/** What the negotiation machine emits for its listeners (`actor.on('negotiation.error', ...)`). */
export type NegotiationEmitted = {
  /** A negotiation step failed; the machine has already recovered (or, for `rollback-failed`, given up). */
  type: 'negotiation.error';
  /** What failed, with a stable `code` and the WebRTC call's error as `cause`. */
  error: NegotiationError;
};

/**
 * The negotiation machine's context: plain data only (the lookup aside), so
 * an inspector can serialize every snapshot. The W3C example's flags are
 * here under their names.
 */
export interface NegotiationContext {
  /** Remote peer id, from the input. */
  peerId: string;
  /** Where the effects find their connection, from the input. */
  lookup: EffectsLookup;
  /** This side yields (rolls back) when both sides offer at once. */
  polite: boolean;
  /** W3C `makingOffer`: true while an offer is being created and set. */
  makingOffer: boolean;
  /** W3C `ignoreOffer`: the impolite side ignored a colliding offer (its late candidates are no error). */
  ignoreOffer: boolean;
  /** W3C `isSettingRemoteAnswerPending`: true while an answer is being applied. */
  isSettingRemoteAnswerPending: boolean;
  /** A remote description has been applied, so remote candidates can be added rather than queued. */
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
  /** Null: offer at once (and once the wait is over); otherwise how long `awaitingFirstOffer` waits (ms). */
  firstOfferTimeoutMs: number | null;
  /** What the input fixed, never assigned: one field, so that every `assign`'s copy of the context stays small. */
  settings: NegotiationSettings;
}

/**
 * The machine's fixed settings, from the input. They live in one object rather
 * than as fields of their own: XState copies the whole context on every
 * `assign`, and past about 19 fields V8 gives that copy a dictionary instead
 * of a fast shape, which made every step several times dearer.
 */
export interface NegotiationSettings {
  /** How many signals `deferred` may hold; one more is dropped with a `signal-overflow` error. */
  readonly maxDeferredSignals: number;
  /** How long `stable.aboutToOffer` waits for more changes before offering (ms). */
  readonly coalesceMs: number;
  /** Null: a lasting disconnection waits for `failed` like any other. */
  readonly iceDisconnectedRestartMs: number | null;
}

/** What every async effect is invoked with: whose connection, and where to find it. */
export interface EffectInput {
  /** The remote peer whose connection the effect acts on. */
  peerId: string;
  /** Returns what the effect acts on for `peerId` (the owner's binding). */
  lookup: EffectsLookup;
}

/** What went wrong, as the machine reports it: a stable code and whatever the WebRTC call rejected with. */
export interface ErrorReport {
  /** Which step failed. */
  code: NegotiationErrorCode;
  /** What the failed WebRTC call rejected with (or the error the machine made). */
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
    /**
     * createOffer (with iceRestart when asked) then setLocalDescription(offer). Resolves with null when the offer
     * would change nothing (the connection asked needlessly), and, asked to restart ICE, only when there is no ICE
     * session to restart (no m-sections yet): the restart is then dropped, not owed.
     */
    makeOffer: notProvided<SessionDescription | null, EffectInput & { iceRestart: boolean }>('makeOffer'),
    /** createAnswer then setLocalDescription(answer). */
    makeAnswer: notProvided<SessionDescription, EffectInput>('makeAnswer'),
    /** setRemoteDescription for an offer or an answer. */
    acceptRemoteDescription: notProvided<RemoteDescriptionResult, EffectInput & { description: SessionDescription }>(
      'acceptRemoteDescription',
    ),
    /** Back to stable: setLocalDescription({ type: 'rollback' }) unless already there. Undefined: nothing known. */
    // Without a connection there is nothing to roll back, so the bare machine
    // (in an inspector) recovers to stable instead of failing.
    rollback: fromPromise<RollbackResult | undefined, EffectInput>(async () => undefined),
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
    restartsWhenDisconnected: ({ context }) => context.settings.iceDisconnectedRestartMs !== null,
    isDeferralFull: ({ context }) => context.deferred.length >= context.settings.maxDeferredSignals,
    awaitsFirstOffer: ({ context }) => context.firstOfferTimeoutMs !== null,
  },
  delays: {
    /** Lets a burst of changes made in one task produce a single offer. */
    coalesceNegotiation: ({ context }) => context.settings.coalesceMs,
    /** How long `disconnected` may last before ICE restarts without waiting for `failed`. */
    iceDisconnectedRestart: ({ context }) => context.settings.iceDisconnectedRestartMs ?? 0,
    /** How long a newcomer waits for the peer's first offer before it offers itself. */
    firstOfferFallback: ({ context }) => context.firstOfferTimeoutMs ?? 0,
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

/**
 * The perfect-negotiation machine for one peer connection (docs/negotiation.md).
 * Its effects do nothing until provided, so the bare machine can be inspected
 * or stepped through by hand; {@link createNegotiationActor} runs it on a real
 * connection, and a `Pool` runs one per peer.
 *
 * @example
 * import { createActor } from 'xstate';
 *
 * const actor = createActor(negotiationMachine, { input: { peerId: 'b', polite: true } }).start();
 * console.log(actor.getSnapshot().value); // { stable: 'idle' }
 */
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
      // 0 waits for nothing, as no value does.
      firstOfferTimeoutMs: input.firstOfferTimeoutMs || null,
      settings: {
        maxDeferredSignals: input.maxDeferredSignals ?? 256,
        coalesceMs: input.coalesceMs ?? 0,
        iceDisconnectedRestartMs: input.iceDisconnectedRestartMs ?? null,
      },
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
          actions: ['cancelDisconnectedRestart', ...requestIceRestart],
        },
        {
          guard: and(['isIceDisconnected', 'restartsWhenDisconnected']),
          actions: ['cancelDisconnectedRestart', 'scheduleDisconnectedRestart'],
        },
        { actions: 'cancelDisconnectedRestart' },
      ],
      // Any other ICE state cancels the timer (above), so when it fires the connection is still disconnected.
      'ice.disconnectedTimeout': { actions: requestIceRestart },
      // Also on the connection's failure: libwebrtc (wrtc) can fire the ICE
      // event for `failed` while its iceConnectionState still reads
      // `disconnected`, so that event alone may never show the failure.
      'pc.connectionstatechange': [
        {
          guard: and(['isConnectionFailed', not('isIceRestartUnderway')]),
          actions: requestIceRestart,
        },
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
      awaitingFirstOffer: {
        description:
          "A newcomer's connection: the peer already present offers first, so changes wait for that offer (or the fallback delay) and the pair costs one round trip.",
        // Once: back in stable, the connection negotiates like any other.
        exit: assign({ firstOfferTimeoutMs: null }),
        on: {
          // Changes made meanwhile are remembered (the machine-wide handler) and offered afterwards if the answer
          // did not carry them.
          'signal.description': [
            {
              guard: 'isOffer',
              target: 'acceptingOffer',
              actions: assign({ remoteOffer: ({ event }) => event.description }),
            },
            // No offer of ours is out: an answer cannot belong to anything.
            {},
          ],
          'signal.candidate': { actions: 'queueCandidate' },
        },
        after: { firstOfferFallback: 'stable' },
      },
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
            always: [
              // Entered from here, not as the initial state: a machine that does not wait pays nothing for it.
              { guard: 'awaitsFirstOffer', target: '#negotiation.awaitingFirstOffer' },
              { guard: 'hasNegotiationPending', target: 'aboutToOffer' },
            ],
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
              // A restart asked before any ICE session exists has nothing to restart: owing it would offer forever.
              actions: [assign({ iceRestartNeeded: false }), ...releaseHeldCandidates],
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
            // The answer ends the ignored offer's trickle: what follows belongs to the answer.
            { guard: 'isAnswer', target: 'acceptingAnswer', actions: assign({ ignoreOffer: false }) },
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
            // Trickle of the offer we ignored: dropped, never queued. Firefox answers a collision with the
            // credentials of the offer it rolled back but new sockets, so these candidates would seem to fit the
            // answer and pull ICE onto a path that carries no DTLS.
            { guard: 'isIgnoringOffer' },
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
          onDone: {
            target: 'stable',
            // Withdrawing a remote offer may leave no remote description: its late candidates wait, then prove moot.
            actions: assign({
              hasRemoteDescription: ({ context, event }) =>
                event.output?.hasRemoteDescription ?? context.hasRemoteDescription,
            }),
          },
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

/** The negotiation machine's type, for `ActorRefFrom<NegotiationMachine>`, `SnapshotFrom<...>` and the like. */
export type NegotiationMachine = typeof negotiationMachine;
