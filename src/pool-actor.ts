import type { Observable } from 'rxjs';
import { type Actor, type ActorOptions, createActor, type InspectionEvent, type Observer } from 'xstate';
import type { NegotiationError } from '../machines/errors.js';
import { type PoolInput, poolMachine } from '../machines/pool.js';
import { ConnectionBinding, connectedNegotiationMachine, forwardConnectionEvents } from './negotiation-effects.js';
import type { PeerConnectionLike } from './peer-connection.js';
import { toPoolSignal } from './pool-signals.js';
import type { ClientMessage, ServerMessage } from './protocol/messages.js';
import { type Logger, silentLogger } from './shared/logger.js';

/** What the pool sends to the signalling server (protocol version 2). */
export type PoolOutgoingMessage = ClientMessage;

/** A connection the pool can start negotiating by opening its control channel. */
export interface NegotiatedPeerConnection extends PeerConnectionLike {
  /** Opens the {@link CONTROL_CHANNEL}, which starts a new pair's first negotiation. */
  createDataChannel(label: string): unknown;
}

/** What {@link createPoolActor} needs: the signalling server's messages, a way to answer, and connections. */
export interface PoolActorOptions {
  /** The signalling server's messages, parsed and typed. When the stream completes, the pool ends (`disconnected`). */
  messages: Observable<ServerMessage>;
  /** Sends one message to the signalling server. */
  send: (message: PoolOutgoingMessage) => void;
  /** Makes the connection for one remote peer. */
  createPeerConnection: (peerId: string) => NegotiatedPeerConnection;
  /** Closes the signalling channel when the pool ends. */
  closeSignalling?: () => void;
  /** An XState inspection observer, e.g. `createBrowserInspector().inspect`: the pool and every negotiation child. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Areas `pool` and `negotiation`: connections at `info`, negotiation errors at `warn`, its states at `debug`. */
  logger?: Logger;
  /** Clock for the machines' delays; tests pass a simulated one. */
  clock?: ActorOptions<typeof poolMachine>['clock'];
  /**
   * Restart ICE on a connection whose ICE state has stayed `disconnected` this
   * long, without waiting for `failed` (about 15 s on libwebrtc). Off by
   * default: a disconnection often heals by itself.
   */
  iceDisconnectedRestartMs?: number;
  /**
   * How long this endpoint, joining, waits for each present peer's first
   * offer before offering itself (ms; default 3000; 0: offer at once). The
   * present peer offers first, so waiting makes a pair one offer and one
   * answer.
   */
  firstOfferTimeoutMs?: number;
  /** Every negotiation error, with the peer whose connection it concerns (also logged at `warn`). */
  onNegotiationError?: (peerId: string, error: NegotiationError) => void;
}

/**
 * A running pool machine: send it `app.join` and `app.close`; `actor.on('pool.peer', ...)` and the other
 * {@link PoolEmitted} events say what happened.
 */
export type PoolActor = Actor<typeof poolMachine>;

/** Label of the data channel the side already present opens to start a pair's negotiation. */
export const CONTROL_CHANNEL = 'rtcpool';

/**
 * Starts the pool machine with real effects: one connection per remote peer,
 * negotiated by a child negotiation actor, signals consumed from an RxJS
 * stream. Send `{ type: 'app.join', pool }` to join and `{ type: 'app.close' }`
 * to leave; after either end nothing runs, no listener is attached and every
 * connection is closed.
 *
 * @example
 * const actor = createPoolActor({ messages, send, createPeerConnection: () => new RTCPeerConnection() });
 * actor.on('pool.peer', ({ id }) => console.log('peer', id));
 * actor.send({ type: 'app.join', pool: 'lobby' });
 */
export function createPoolActor(options: PoolActorOptions): PoolActor {
  const logger = options.logger ?? silentLogger;
  /** Per remote peer: what its negotiation acts on, and how to stop forwarding its events. */
  const connections = new Map<
    string,
    { binding: ConnectionBinding; pc: NegotiatedPeerConnection; stopForwarding: () => void }
  >();
  /** The pool is closing the channel itself: its completion is no news. */
  let ending = false;
  const stateLog = options.logger && negotiationStateLog(options.logger);

  const machine = poolMachine.provide({
    actors: { negotiation: connectedNegotiationMachine },
    actions: {
      sendJoin: (_, { pool }) => options.send({ type: 'rtc:join', data: { pool } }),
      openConnection: ({ self }, { peerId }) => {
        const pc = options.createPeerConnection(peerId);
        const binding = new ConnectionBinding(
          peerId,
          pc,
          (signal) =>
            options.send(
              signal.type === 'description'
                ? { type: 'rtc:sdp', data: { to: peerId, description: signal.description } }
                : { type: 'rtc:candidate', data: { for: peerId, candidate: signal.candidate } },
            ),
          logger,
          (error) => options.onNegotiationError?.(peerId, error),
        );
        // The child is spawned right after; look it up when an event comes.
        const stopForwarding = forwardConnectionEvents(pc, (event) => self.getSnapshot().children[peerId]?.send(event));
        connections.set(peerId, { binding, pc, stopForwarding });
        logger.log('info', 'pool', `connection to ${peerId} opened`);
      },
      startNegotiation: (_, { peerId }) => {
        connections.get(peerId)?.pc.createDataChannel(CONTROL_CHANNEL);
      },
      closeConnection: (_, { peerId }) => {
        const connection = connections.get(peerId);
        if (!connection) return;
        connection.stopForwarding();
        connection.pc.close();
        connections.delete(peerId);
        stateLog?.forget(peerId);
        logger.log('info', 'pool', `connection to ${peerId} closed`);
      },
      closeSignalling: () => {
        ending = true;
        options.closeSignalling?.();
      },
    },
  });

  const negotiation: PoolInput['negotiation'] = {
    // The pool owns its connections: every negotiation child finds its own here.
    lookup: (peerId) => connections.get(peerId)?.binding,
  };
  if (options.iceDisconnectedRestartMs !== undefined)
    negotiation.iceDisconnectedRestartMs = options.iceDisconnectedRestartMs;
  const inspect = inspection(options.inspect, stateLog?.inspect);
  const actor = createActor(machine, {
    input: {
      negotiation,
      ...(options.firstOfferTimeoutMs === undefined ? {} : { firstOfferTimeoutMs: options.firstOfferTimeoutMs }),
    },
    ...(inspect ? { inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const subscription = options.messages.subscribe({
    next: (message) => {
      const signal = toPoolSignal(message);
      if (signal) actor.send(signal);
    },
    error: (error: unknown) => logger.log('error', 'signal', `signalling failed: ${String(error)}`),
    // The channel ended by itself: with no signalling there is no pool, so end cleanly rather than linger.
    complete: () => ending || actor.send({ type: 'signal.lost' }),
  });
  // However the actor ends (app.close, rtc:stop, stop(), a crash), nothing stays attached or open.
  const releaseAll = () => {
    subscription.unsubscribe();
    for (const connection of connections.values()) {
      connection.stopForwarding();
      connection.pc.close();
    }
    connections.clear();
  };
  actor.subscribe({
    complete: releaseAll,
    error: (error) => {
      releaseAll();
      logger.log('error', 'pool', `the pool crashed: ${String(error)}`);
    },
  });
  return actor.start();
}

type Inspect = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** Both inspection observers, or the one given, or none. */
function inspection(first: Inspect | undefined, second: Inspect | undefined): Inspect | undefined {
  if (!first || !second) return first ?? second;
  const call = (inspect: Inspect, event: InspectionEvent) =>
    typeof inspect === 'function' ? inspect(event) : inspect.next?.(event);
  return (event) => {
    call(first, event);
    call(second, event);
  };
}

/**
 * Logs each peer's negotiation state as it changes, at `debug`: what
 * `createNegotiationActor` logs for one connection, for every connection of
 * the pool. Only a pool given a logger pays for watching every snapshot.
 */
function negotiationStateLog(logger: Logger) {
  const last = new Map<string, string>();
  return {
    inspect: (event: InspectionEvent) => {
      if (event.type !== '@xstate.snapshot') return;
      const snapshot = event.snapshot as { value?: unknown; machine?: { id?: string }; context?: { peerId?: unknown } };
      const peerId = snapshot.context?.peerId;
      if (snapshot.machine?.id !== 'negotiation' || typeof peerId !== 'string') return;
      const state = JSON.stringify(snapshot.value);
      if (last.get(peerId) === state) return;
      last.set(peerId, state);
      logger.log('debug', 'negotiation', `${peerId}: ${state}`);
    },
    /** The peer is gone: a later peer of the same id starts afresh. */
    forget: (peerId: string) => last.delete(peerId),
  };
}
