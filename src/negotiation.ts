import { type Actor, type ActorOptions, createActor, type InspectionEvent, type Observer } from 'xstate';
import { NegotiationError } from '../machines/errors.js';
import type { NegotiationInput, negotiationMachine } from '../machines/negotiation.js';
import {
  ConnectionBinding,
  connectedNegotiationMachine,
  forwardConnectionEvents,
  type OutgoingSignal,
} from './negotiation-effects.js';
import type { PeerConnectionLike } from './peer-connection.js';
import { type Logger, silentLogger } from './shared/logger.js';

export type { OutgoingSignal } from './negotiation-effects.js';

/** What {@link createNegotiationActor} needs: the connection, the role, and how to reach the other peer. */
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
  /** Called for every negotiation error (also emitted as `negotiation.error` and logged at `warn`). */
  onError?: (error: NegotiationError) => void;
  /** Area `negotiation`: each state at `info`, each error at `warn`, each signal sent at `debug` (default: silent). */
  logger?: Logger;
  /** Milliseconds to wait for more changes before offering (default 0: the end of the task). */
  coalesceMs?: number;
  /** Clock for the machine's delays; tests pass a simulated one. */
  clock?: ActorOptions<typeof negotiationMachine>['clock'];
  /** Signals kept while an operation is in flight (default 256); one more is dropped with a `signal-overflow` error. */
  maxDeferredSignals?: number;
  /**
   * Restart ICE once the connection has stayed `disconnected` this many
   * milliseconds, instead of waiting for `failed` (which libwebrtc reports
   * about 15 s after the path goes). Default: restart on `failed` only.
   */
  iceDisconnectedRestartMs?: number;
  /**
   * For the side that knows the other offers first (a pool's newcomer):
   * make no offer until the peer's first offer arrives or this many
   * milliseconds have passed, so the pair negotiates in one round trip.
   * Default: offer as soon as something changes.
   */
  firstOfferTimeoutMs?: number;
}

/**
 * A running negotiation: send it the peer's signals (`signal.description`, `signal.candidate`) and your requests
 * (`app.restartIce`, `app.close`); `actor.on('negotiation.error', ...)` and `actor.subscribe(...)` watch it.
 */
export type NegotiationActor = Actor<typeof negotiationMachine>;

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
  if (options.firstOfferTimeoutMs !== undefined) input.firstOfferTimeoutMs = options.firstOfferTimeoutMs;
  const binding = new ConnectionBinding(peerId, options.pc, options.send, logger, (error) => options.onError?.(error));
  // A one-entry lookup: this actor's effects act on this connection and nothing else.
  input.lookup = () => binding;
  const actor = createActor(connectedNegotiationMachine, {
    input,
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });

  const { pc } = options;
  const stopForwarding = forwardConnectionEvents(pc, (event) => actor.send(event));
  // Whichever way the actor ends (app.close, stop(), a crash), the listeners go and the connection closes.
  const release = () => {
    stopForwarding();
    pc.close();
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
