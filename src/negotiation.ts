import { type Actor, type ActorOptions, createActor, fromPromise, type InspectionEvent, type Observer } from 'xstate';
import { type NegotiationEvent, type NegotiationInput, negotiationMachine } from '../machines/negotiation.js';
import { NegotiationError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import {
  candidateFitsDescription,
  iceUfrag,
  isIceConnectionState,
  isPeerConnectionState,
  type PeerConnectionLike,
  sameMedia,
  toIceCandidate,
  toSessionDescription,
} from './peer-connection.js';
import type { IceCandidate, SessionDescription } from './types.js';

/** What the negotiation of one connection asks the signalling channel to carry. */
export type OutgoingSignal =
  | { type: 'description'; description: SessionDescription }
  | { type: 'candidate'; candidate: IceCandidate | null };

export interface NegotiationActorOptions {
  /** The connection to negotiate. Stopping the actor closes it. */
  pc: PeerConnectionLike;
  /** The polite peer yields when both sides offer at once; exactly one side of a pair is polite. */
  polite: boolean;
  /** Carries a description or candidate to the remote peer, in order. */
  send: (signal: OutgoingSignal) => void;
  /** Remote peer id, shown in logs and the inspector. */
  peerId?: string;
  /** An XState inspection observer, e.g. `createBrowserInspector().inspect`. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Called for every negotiation error (also emitted as `negotiation.error`). */
  onError?: (error: NegotiationError) => void;
  logger?: Logger;
  /** Milliseconds to wait for more changes before offering (default 0: the end of the task). */
  coalesceMs?: number;
  /** Clock for the machine's delays; tests pass a simulated one. */
  clock?: ActorOptions<typeof negotiationMachine>['clock'];
  maxDeferredSignals?: number;
  /**
   * Restart ICE once the connection has stayed `disconnected` this many
   * milliseconds, instead of waiting for `failed` (which libwebrtc reports
   * about 15 s after the path goes). Default: restart on `failed` only.
   */
  iceDisconnectedRestartMs?: number;
}

export type NegotiationActor = Actor<typeof negotiationMachine>;

/** What the effects of one actor act on; found through the actor's system. */
export interface Binding {
  pc: PeerConnectionLike;
  send: (signal: OutgoingSignal) => void;
  logger: Logger;
  peerId: string;
}

/** Per actor system (one per root actor), the connection of each negotiating peer. */
const bindings = new WeakMap<object, Map<string, Binding>>();

/** Makes `peerId`'s connection known to the negotiation actors of `system`. */
export function bindConnection(system: object, peerId: string, binding: Binding): void {
  const peers = bindings.get(system) ?? new Map<string, Binding>();
  bindings.set(system, peers);
  peers.set(peerId, binding);
}

export function unbindConnection(system: object, peerId: string): void {
  bindings.get(system)?.delete(peerId);
}

function bindingOf(system: object, peerId: string): Binding {
  const binding = bindings.get(system)?.get(peerId);
  if (!binding) throw new NegotiationError('not-provided', `no connection is bound for peer "${peerId}"`);
  return binding;
}

/**
 * Turns the connection's events into machine events. Plain listeners rather
 * than a child actor: an idle negotiator is then one actor, not two.
 * Returns the function that removes them.
 */
export function forwardConnectionEvents(
  pc: PeerConnectionLike,
  deliver: (event: NegotiationEvent) => void,
): () => void {
  const listeners: Record<string, (event: unknown) => void> = {
    negotiationneeded: () => deliver({ type: 'pc.negotiationneeded' }),
    icecandidate: (event) => deliver({ type: 'pc.icecandidate', candidate: toIceCandidate(event) }),
    iceconnectionstatechange: () => {
      if (isIceConnectionState(pc.iceConnectionState)) {
        deliver({ type: 'pc.iceconnectionstatechange', state: pc.iceConnectionState });
      }
    },
    connectionstatechange: () => {
      if (isPeerConnectionState(pc.connectionState)) {
        deliver({ type: 'pc.connectionstatechange', state: pc.connectionState });
      }
    },
  };
  for (const [type, listener] of Object.entries(listeners)) pc.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of Object.entries(listeners)) pc.removeEventListener(type, listener);
  };
}

/** Applies an offer or answer created explicitly (wrtc has no parameterless setLocalDescription). */
async function setLocal(
  pc: PeerConnectionLike,
  created: Promise<{ type: string; sdp?: string }>,
  signal: AbortSignal,
): Promise<SessionDescription> {
  const description = toSessionDescription(await created);
  signal.throwIfAborted();
  await pc.setLocalDescription(description);
  return description;
}

/**
 * The machine with its effects, provided once: each actor finds its own
 * connection through its actor system, so creating an actor does not copy
 * the machine definition.
 */
export const connectedNegotiationMachine = negotiationMachine.provide({
  actors: {
    makeOffer: fromPromise(async ({ input, signal, system }) => {
      const { pc } = bindingOf(system, input.peerId);
      const offer = toSessionDescription(await pc.createOffer(input.iceRestart ? { iceRestart: true } : undefined));
      signal.throwIfAborted();
      // Creating an offer has no effect until it is set: a probe for "is there anything to negotiate?".
      if (!input.iceRestart && pc.localDescription && sameMedia(pc.localDescription.sdp, offer.sdp)) return null;
      await pc.setLocalDescription(offer);
      return offer;
    }),
    makeAnswer: fromPromise(({ input, signal, system }) => {
      const { pc } = bindingOf(system, input.peerId);
      return setLocal(pc, pc.createAnswer(), signal);
    }),
    acceptRemoteDescription: fromPromise(async ({ input, system }) => {
      const { pc } = bindingOf(system, input.peerId);
      const before = pc.remoteDescription ? iceUfrag(pc.remoteDescription.sdp) : undefined;
      await pc.setRemoteDescription(input.description);
      return { restartsIce: before !== undefined && before !== iceUfrag(input.description.sdp) };
    }),
    rollback: fromPromise(async ({ input, system }) => {
      const { pc } = bindingOf(system, input.peerId);
      if (pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' });
    }),
  },
  actions: {
    sendDescription: ({ context, system }, { description }) => {
      const { send, logger, peerId } = bindingOf(system, context.peerId);
      logger.log('debug', 'negotiation', `send ${description.type}`, { peerId });
      send({ type: 'description', description });
    },
    sendCandidates: ({ context, system }, { candidates }) => {
      const { send } = bindingOf(system, context.peerId);
      for (const candidate of candidates) send({ type: 'candidate', candidate });
    },
    addIceCandidates: ({ context, self, system }, { candidates }) => {
      const { pc } = bindingOf(system, context.peerId);
      // Not awaited: each call is chained behind the remote description the
      // machine has already applied, and nothing waits on the result.
      for (const candidate of candidates) {
        const added = candidate === null ? pc.addIceCandidate() : pc.addIceCandidate(candidate);
        added.catch((error: unknown) => {
          if (self.getSnapshot().status !== 'active') return;
          const remote = pc.remoteDescription?.sdp;
          const superseded = candidate !== null && remote !== undefined && !candidateFitsDescription(candidate, remote);
          self.send({ type: 'pc.candidaterejected', error, superseded });
        });
      }
    },
    restartIce: ({ context, system }) => bindingOf(system, context.peerId).pc.restartIce?.(),
    closeConnection: ({ context, system }) => bindingOf(system, context.peerId).pc.close(),
  },
});

/**
 * Binds the perfect-negotiation machine to a real `RTCPeerConnection` (or
 * `@roamhq/wrtc`, `werift`, or anything {@link PeerConnectionLike}) and starts
 * it. Feed remote signals with `actor.send({ type: 'signal.description', description })`
 * and `{ type: 'signal.candidate', candidate }`; stop with `actor.send({ type: 'app.close' })`
 * or `actor.stop()`, both of which close the connection and remove every listener.
 *
 * @example
 * const pc = new RTCPeerConnection({ iceServers: [] });
 * const actor = createNegotiationActor({
 *   pc,
 *   polite: true,
 *   send: (signal) => socket.send(JSON.stringify(signal)),
 * });
 * socket.onmessage = ({ data }) => {
 *   const signal = JSON.parse(data);
 *   if (signal.type === 'description') actor.send({ type: 'signal.description', description: signal.description });
 *   else actor.send({ type: 'signal.candidate', candidate: signal.candidate });
 * };
 * pc.createDataChannel('chat'); // negotiated automatically
 */
export function createNegotiationActor(options: NegotiationActorOptions): NegotiationActor {
  const logger = options.logger ?? silentLogger;
  const peerId = options.peerId ?? 'peer';

  const input: NegotiationInput = { peerId, polite: options.polite };
  if (options.maxDeferredSignals !== undefined) input.maxDeferredSignals = options.maxDeferredSignals;
  if (options.coalesceMs !== undefined) input.coalesceMs = options.coalesceMs;
  if (options.iceDisconnectedRestartMs !== undefined) input.iceDisconnectedRestartMs = options.iceDisconnectedRestartMs;
  const actor = createActor(connectedNegotiationMachine, {
    input,
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });

  bindConnection(actor.system, peerId, { pc: options.pc, send: options.send, logger, peerId });

  if (options.logger || options.onError) {
    actor.on('negotiation.error', ({ error }) => {
      logger.log('warn', 'negotiation', error.message, { peerId, code: error.code });
      options.onError?.(error);
    });
  }
  const { pc } = options;
  const stopForwarding = forwardConnectionEvents(pc, (event) => actor.send(event));
  // Whichever way the actor ends (app.close, stop(), a crash), the listeners go and the connection closes.
  const release = () => {
    stopForwarding();
    pc.close();
    unbindConnection(actor.system, peerId);
  };
  let lastState = '';
  actor.subscribe({
    // Only a caller who asked for logs pays for rendering every state.
    ...(options.logger && {
      next: (snapshot) => {
        const state = JSON.stringify(snapshot.value);
        if (state === lastState) return;
        lastState = state;
        logger.log('info', 'negotiation', `${peerId}: ${state}`, { polite: options.polite });
      },
    }),
    // A bug in the machine must not become an unhandled rejection.
    error: (cause) => {
      release();
      const error = NegotiationError.from('machine-failed', cause);
      logger.log('error', 'negotiation', error.message, { peerId });
      options.onError?.(error);
    },
    complete: release,
  });
  return actor.start();
}
