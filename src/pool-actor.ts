import type { Observable } from 'rxjs';
import { type Actor, type ActorOptions, createActor, type InspectionEvent, type Observer } from 'xstate';
import { type PoolSignalEvent, poolMachine } from '../machines/pool.js';
import { type Logger, silentLogger } from './logger.js';
import {
  bindConnection,
  connectedNegotiationMachine,
  forwardConnectionEvents,
  unbindConnection,
} from './negotiation.js';
import type { PeerConnectionLike } from './peer-connection.js';
import type { ClientMessage } from './protocol/index.js';

/** What the pool sends to the signalling server (protocol version 2). */
export type PoolOutgoingMessage = ClientMessage;

/** A connection the pool can start negotiating by opening its control channel. */
export interface PoolPeerConnection extends PeerConnectionLike {
  createDataChannel(label: string): unknown;
}

export interface PoolActorOptions {
  /** The signalling channel's server events, parsed and typed. When it completes, the pool ends (`disconnected`). */
  signals: Observable<PoolSignalEvent>;
  /** Sends one message to the signalling server. */
  send: (message: PoolOutgoingMessage) => void;
  /** Makes the connection for one remote peer. */
  createPeerConnection: (peerId: string) => PoolPeerConnection;
  /** Closes the signalling channel when the pool ends. */
  closeSignalling?: () => void;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  logger?: Logger;
  clock?: ActorOptions<typeof poolMachine>['clock'];
  /**
   * Restart ICE on a connection whose ICE state has stayed `disconnected` this
   * long, without waiting for `failed` (about 15 s on libwebrtc). Off by
   * default: a disconnection often heals by itself.
   */
  iceDisconnectedRestartMs?: number;
}

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
 * const actor = createPoolActor({ signals, send, createPeerConnection: () => new RTCPeerConnection() });
 * actor.on('pool.peer', ({ id }) => console.log('peer', id));
 * actor.send({ type: 'app.join', pool: 'lobby' });
 */
export function createPoolActor(options: PoolActorOptions): PoolActor {
  const logger = options.logger ?? silentLogger;
  /** Per remote peer: its connection and how to stop forwarding its events. */
  const connections = new Map<string, { pc: PoolPeerConnection; stopForwarding: () => void }>();
  /** The pool is closing the channel itself: its completion is no news. */
  let ending = false;

  const machine = poolMachine.provide({
    actors: { negotiation: connectedNegotiationMachine },
    actions: {
      sendJoin: (_, { pool }) => options.send({ type: 'rtc:join', data: { pool } }),
      openConnection: ({ self, system }, { peerId }) => {
        const pc = options.createPeerConnection(peerId);
        bindConnection(system, peerId, {
          pc,
          logger,
          peerId,
          send: (signal) =>
            options.send(
              signal.type === 'description'
                ? { type: 'rtc:sdp', data: { to: peerId, description: signal.description } }
                : { type: 'rtc:candidate', data: { for: peerId, candidate: signal.candidate } },
            ),
        });
        // The child is spawned right after; look it up when an event comes.
        const stopForwarding = forwardConnectionEvents(pc, (event) => self.getSnapshot().children[peerId]?.send(event));
        connections.set(peerId, { pc, stopForwarding });
        logger.log('info', 'pool', `connection to ${peerId} opened`);
      },
      startNegotiation: (_, { peerId }) => {
        connections.get(peerId)?.pc.createDataChannel(CONTROL_CHANNEL);
      },
      closeConnection: ({ system }, { peerId }) => {
        const connection = connections.get(peerId);
        if (!connection) return;
        connection.stopForwarding();
        connection.pc.close();
        connections.delete(peerId);
        unbindConnection(system, peerId);
        logger.log('info', 'pool', `connection to ${peerId} closed`);
      },
      closeSignalling: () => {
        ending = true;
        options.closeSignalling?.();
      },
    },
  });

  const actor = createActor(machine, {
    input:
      options.iceDisconnectedRestartMs === undefined
        ? {}
        : { negotiation: { iceDisconnectedRestartMs: options.iceDisconnectedRestartMs } },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const subscription = options.signals.subscribe({
    next: (event) => actor.send(event),
    error: (error: unknown) => logger.log('error', 'signal', `signalling failed: ${String(error)}`),
    // The channel ended by itself: with no signalling there is no pool, so end cleanly rather than linger.
    complete: () => ending || actor.send({ type: 'signal.lost' }),
  });
  // However the actor ends (app.close, rtc:stop, stop(), a crash), nothing stays attached or open.
  const releaseAll = () => {
    subscription.unsubscribe();
    for (const [peerId, connection] of connections) {
      connection.stopForwarding();
      connection.pc.close();
      unbindConnection(actor.system, peerId);
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
