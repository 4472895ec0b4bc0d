/**
 * The pool: one endpoint's view of a named pool of peers. It joins through the
 * signalling channel, keeps one negotiation child per remote peer (child id =
 * peer id), routes each peer's signals to its child, and stops everything when
 * the server stops the pool, the application closes it or the signalling
 * channel is lost for good.
 *
 * Roles follow the original RTCPool: the endpoint that joins later is polite
 * toward every peer already present, and each peer already present starts the
 * negotiation toward the newcomer, so a pair normally costs one offer and one
 * answer. Effects (sending, creating and closing connections) are supplied
 * through `.provide()` by `src/pool-actor.ts`.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import { type NegotiationInput, negotiationMachine } from './negotiation.js';
import type { IceCandidate, JsonValue, SessionDescription } from './types.js';

export type { JsonValue };

/** What the signalling channel tells the pool, already parsed and typed. */
export type PoolSignalEvent =
  | {
      /** The server confirmed the join (`rtc:joined`). */
      type: 'signal.joined';
      /** This endpoint's id. */
      clientId: string;
      /** The pool actually joined (the server may map the name), or null when the server did not say. */
      pool: string | null;
      /** The peers already there: this endpoint is polite toward each, and each starts the negotiation. */
      peers: string[];
      /** Trusted descriptions by endpoint id, set by the server only. */
      descriptions: Record<string, JsonValue>;
    }
  | {
      /** A peer joined after this endpoint (`rtc:peer`): this side is impolite and starts. */
      type: 'signal.peer';
      /** The new peer's id. */
      id: string;
    }
  | {
      /** A description from a peer (`rtc:sdp`), routed to that peer's negotiation child. */
      type: 'signal.sdp';
      /** The sending peer's id. */
      peer: string;
      /** Its offer or answer. */
      description: SessionDescription;
    }
  | {
      /** A trickled candidate from a peer (`rtc:candidate`), routed to that peer's child. */
      type: 'signal.candidate';
      /** The sending peer's id. */
      from: string;
      /** The candidate; null: the peer has no more. */
      candidate: IceCandidate | null;
    }
  | {
      /** A peer left the pool (`rtc:close`): its child stops and its connection closes. */
      type: 'signal.close';
      /** The peer that left. */
      id: string;
    }
  | {
      /** The server set an endpoint's description (`rtc:describe`). */
      type: 'signal.describe';
      /** Whose description: a peer's, or this endpoint's own. */
      id: string;
      /** The new description. */
      description: JsonValue;
    }
  | {
      /** The server stopped the pool (`rtc:stop`): every connection closes. */
      type: 'signal.stop';
    }
  | {
      /** The server refused something this endpoint sent (`rtc:error`); a refused join is `signal.joinRefused`. */
      type: 'signal.error';
      /** The server's explanation. */
      message: string;
      /** Its stable reason code, when it gave one. */
      reason?: string;
    }
  | {
      /**
       * The server refused the join: this endpoint is in no pool and may try
       * again. Which server errors mean that is the signalling adapter's call
       * (`src/pool-signals.ts`), not the machine's.
       */
      type: 'signal.joinRefused';
      /** The server's explanation. */
      message: string;
    };

/** Everything the pool machine reacts to: the server's signals, their end, and the application's requests. */
export type PoolEvent =
  | PoolSignalEvent
  | {
      /**
       * The signals ended by themselves (the signalling channel closed and
       * could not resume): nothing more will come.
       */
      type: 'signal.lost';
    }
  | {
      /** The application asks to join a pool (`Pool.join`). */
      type: 'app.join';
      /** The pool name to ask the server for. */
      pool: string;
    }
  | {
      /** The application closes the pool: every connection and the signalling channel close. */
      type: 'app.close';
    };

/** Why a signal was refused; the pool carries on. */
export type PoolProblem =
  | 'unknown-peer'
  | 'duplicate-peer'
  | 'not-joined'
  | 'already-joined'
  | 'server-error'
  /** The server refused the join (not found, refused, full): back to idle, join() may be tried again. */
  | 'join-refused';

/** What the pool machine emits for its owner (`actor.on('pool.peer', ...)`); a `Pool` turns them into its events. */
export type PoolEmitted =
  | {
      /** This endpoint joined; its connections to `peers` are being opened. */
      type: 'pool.joined';
      /** This endpoint's id. */
      id: string;
      /** The pool actually joined. */
      pool: string;
      /** The peers already there. */
      peers: string[];
    }
  | {
      /** A peer joined after this endpoint; its connection is being opened. */
      type: 'pool.peer';
      /** The new peer's id. */
      id: string;
    }
  | {
      /** A peer left; its connection is closed. */
      type: 'pool.peerleft';
      /** The peer that left. */
      id: string;
    }
  | {
      /** The server set an endpoint's description. */
      type: 'pool.describe';
      /** Whose description. */
      id: string;
      /** The new description. */
      description: JsonValue;
    }
  | {
      /** The server stopped the pool; every connection is closed. */
      type: 'pool.stop';
    }
  | {
      /** The application closed the pool; every connection is closed. */
      type: 'pool.closed';
    }
  | {
      /** The signalling channel ended for good; every connection is closed. */
      type: 'pool.disconnected';
    }
  | {
      /** A signal was refused, or the server refused something; the pool carries on. */
      type: 'pool.problem';
      /** What kind of problem. */
      problem: PoolProblem;
      /** What happened, for logs. */
      message: string;
    };

/** The pool machine's context: who this endpoint is, where, and with whom. */
export interface PoolContext {
  /** The pool actually joined (the server may map the requested name). */
  pool: string | null;
  /** This endpoint's id, once joined. */
  selfId: string | null;
  /** Remote peers in the order they became known. */
  peers: string[];
  /** Trusted descriptions, set by the server only. */
  descriptions: Record<string, JsonValue>;
  /** Given to every negotiation child beside its peer id and role. */
  negotiation: ChildNegotiationInput;
  /** How long this endpoint, as the newcomer, waits for each present peer's first offer (ms; 0: not at all). */
  firstOfferTimeoutMs: number;
}

/** What every peer's negotiation machine is started with, beyond its peer id and role. */
export type ChildNegotiationInput = Omit<NegotiationInput, 'peerId' | 'polite' | 'firstOfferTimeoutMs'>;

/**
 * How long a newcomer waits for a present peer's first offer before it
 * offers itself (ms). The peer offers as soon as it hears of the newcomer,
 * one signalling hop after the newcomer's join: a median of 300 ms with six
 * browser pages joining at once on two cores (bench/mesh), where a 1 s wait
 * still let one pair in ninety collide (its offer came later still). The
 * wait costs nothing unless a peer never offers (an endpoint that does not
 * start the negotiation of its pairs).
 */
export const DEFAULT_FIRST_OFFER_TIMEOUT_MS = 3_000;

/** What the pool machine may start with. */
export interface PoolInput {
  /** Options for every peer's negotiation machine (`coalesceMs`, `lookup`, ...). */
  negotiation?: ChildNegotiationInput;
  /**
   * The newcomer's connections wait this long for the first offer of the
   * peer already present (which always offers first) before offering
   * themselves, so a pair costs one offer and one answer even when the
   * application changes the connection on its `peer` event (ms; default
   * {@link DEFAULT_FIRST_OFFER_TIMEOUT_MS}; 0: offer at once).
   */
  firstOfferTimeoutMs?: number;
}

const poolSetup = setup({
  types: {
    context: {} as PoolContext,
    input: {} as PoolInput | undefined,
    events: {} as PoolEvent,
    emitted: {} as PoolEmitted,
  },
  actors: { negotiation: negotiationMachine },
  actions: {
    sendJoin: (_, _params: { pool: string }) => undefined,
    /** Creates the peer's connection and forwards its events to the child. */
    openConnection: (_, _params: { peerId: string; polite: boolean }) => undefined,
    /** Gives a fresh connection something to negotiate (the side already present does it). */
    startNegotiation: (_, _params: { peerId: string }) => undefined,
    /** Removes the connection's listeners and closes it. */
    closeConnection: (_, _params: { peerId: string }) => undefined,
    closeSignalling: () => undefined,
  },
  guards: {
    isKnownPeer: ({ context }, params: { peerId: string }) => context.peers.includes(params.peerId),
    isNewPeer: ({ context }, params: { peerId: string }) =>
      params.peerId !== context.selfId && !context.peers.includes(params.peerId),
  },
});

const pool = poolSetup.extend({
  actions: {
    releaseEverything: poolSetup.enqueueActions(({ context, enqueue }) => {
      for (const peerId of context.peers) {
        enqueue.stopChild(peerId);
        enqueue({ type: 'closeConnection', params: { peerId } });
      }
      enqueue('closeSignalling');
    }),
  },
});

const problem = (kind: PoolProblem, message: string) => pool.emit({ type: 'pool.problem', problem: kind, message });

/**
 * The pool machine (docs/pool.md): joins a pool through the signalling
 * channel and keeps one negotiation child per remote peer (child id = peer
 * id), routing each peer's signals to it. Its effects do nothing until
 * provided; {@link createPoolActor} runs it for real, and a `Pool` wraps that.
 *
 * @example
 * import { createActor } from 'xstate';
 *
 * const actor = createActor(poolMachine).start();
 * actor.on('pool.joined', ({ id, peers }) => console.log(id, 'joined with', peers));
 * actor.send({ type: 'app.join', pool: 'lobby' });
 * actor.send({ type: 'signal.joined', clientId: 'a', pool: 'lobby', peers: [], descriptions: {} });
 */
export const poolMachine = pool.createMachine({
  id: 'pool',
  context: ({ input }) => ({
    pool: null,
    selfId: null,
    peers: [],
    descriptions: {},
    negotiation: input?.negotiation ?? {},
    firstOfferTimeoutMs: input?.firstOfferTimeoutMs ?? DEFAULT_FIRST_OFFER_TIMEOUT_MS,
  }),
  initial: 'idle',
  on: {
    'app.close': '.closed',
    'signal.lost': '.disconnected',
    // Until joined, there is no pool to route to; `joined` handles these itself.
    'signal.peer': { actions: problem('not-joined', 'a peer was announced before this endpoint joined') },
    'signal.sdp': { actions: problem('not-joined', 'a description arrived before this endpoint joined') },
    'signal.candidate': { actions: problem('not-joined', 'a candidate arrived before this endpoint joined') },
    'signal.close': { actions: problem('not-joined', 'a leave arrived before this endpoint joined') },
    // A refusal while not joining answers nothing of ours: reported like any other server error.
    'signal.joinRefused': {
      actions: problem('server-error', 'the server refused a join this endpoint was not making'),
    },
    'signal.error': {
      actions: emit(({ event }) => ({
        type: 'pool.problem' as const,
        problem: 'server-error' as const,
        message: event.reason ? `${event.reason}: ${event.message}` : event.message,
      })),
    },
  },
  states: {
    idle: {
      on: {
        'app.join': {
          target: 'joining',
          actions: [
            assign({ pool: ({ event }) => event.pool }),
            { type: 'sendJoin', params: ({ event }) => ({ pool: event.pool }) },
          ],
        },
      },
    },
    joining: {
      on: {
        'app.join': { actions: problem('already-joined', 'join() was called while already joining') },
        'signal.joinRefused': {
          target: 'idle',
          actions: [
            assign({ pool: null }),
            emit(({ event }) => ({
              type: 'pool.problem' as const,
              problem: 'join-refused' as const,
              message: event.message,
            })),
          ],
        },
        'signal.joined': {
          target: 'joined',
          actions: [
            assign(({ context, event }) => ({
              selfId: event.clientId,
              pool: event.pool ?? context.pool,
              peers: event.peers.filter((id, index, all) => id !== event.clientId && all.indexOf(id) === index),
              descriptions: event.descriptions,
            })),
            // We are the newcomer: polite toward everyone already here, and they start: our changes wait for their offer.
            enqueueActions(({ context, enqueue }) => {
              for (const peerId of context.peers) {
                enqueue({ type: 'openConnection', params: { peerId, polite: true } });
                enqueue.spawnChild('negotiation', {
                  id: peerId,
                  input: {
                    ...context.negotiation,
                    peerId,
                    polite: true,
                    firstOfferTimeoutMs: context.firstOfferTimeoutMs,
                  },
                });
              }
            }),
            emit(({ context }) => ({
              type: 'pool.joined' as const,
              id: context.selfId as string,
              pool: context.pool as string,
              peers: context.peers,
            })),
          ],
        },
      },
    },
    joined: {
      on: {
        'app.join': { actions: problem('already-joined', 'join() was called on a pool already joined') },
        'signal.peer': [
          {
            guard: { type: 'isNewPeer', params: ({ event }) => ({ peerId: event.id }) },
            actions: [
              assign({ peers: ({ context, event }) => [...context.peers, event.id] }),
              { type: 'openConnection', params: ({ event }) => ({ peerId: event.id, polite: false }) },
              enqueueActions(({ context, event, enqueue }) => {
                enqueue.spawnChild('negotiation', {
                  id: event.id,
                  input: { ...context.negotiation, peerId: event.id, polite: false },
                });
              }),
              { type: 'startNegotiation', params: ({ event }) => ({ peerId: event.id }) },
              emit(({ event }) => ({ type: 'pool.peer' as const, id: event.id })),
            ],
          },
          { actions: problem('duplicate-peer', 'the server announced a peer that is already known (or ourselves)') },
        ],
        'signal.sdp': [
          {
            guard: { type: 'isKnownPeer', params: ({ event }) => ({ peerId: event.peer }) },
            actions: enqueueActions(({ event, enqueue }) => {
              enqueue.sendTo(event.peer, { type: 'signal.description', description: event.description });
            }),
          },
          { actions: problem('unknown-peer', 'a description arrived from a peer that is not in the pool') },
        ],
        'signal.candidate': [
          {
            guard: { type: 'isKnownPeer', params: ({ event }) => ({ peerId: event.from }) },
            actions: enqueueActions(({ event, enqueue }) => {
              enqueue.sendTo(event.from, { type: 'signal.candidate', candidate: event.candidate });
            }),
          },
          { actions: problem('unknown-peer', 'a candidate arrived from a peer that is not in the pool') },
        ],
        'signal.close': [
          {
            guard: { type: 'isKnownPeer', params: ({ event }) => ({ peerId: event.id }) },
            actions: [
              pool.stopChild(({ event }) => (event.type === 'signal.close' ? event.id : '')),
              { type: 'closeConnection', params: ({ event }) => ({ peerId: event.id }) },
              assign(({ context, event }) => {
                const { [event.id]: _gone, ...descriptions } = context.descriptions;
                return { peers: context.peers.filter((id) => id !== event.id), descriptions };
              }),
              emit(({ event }) => ({ type: 'pool.peerleft' as const, id: event.id })),
            ],
          },
          { actions: problem('unknown-peer', 'the server closed a peer that is not in the pool') },
        ],
        'signal.describe': {
          actions: [
            assign({
              descriptions: ({ context, event }) => ({ ...context.descriptions, [event.id]: event.description }),
            }),
            emit(({ event }) => ({ type: 'pool.describe' as const, id: event.id, description: event.description })),
          ],
        },
        'signal.stop': { target: 'stopped', actions: emit({ type: 'pool.stop' as const }) },
      },
    },
    stopped: {
      description: 'The server stopped the pool: every connection is closed.',
      type: 'final',
      entry: 'releaseEverything',
    },
    closed: {
      description: 'The application closed the pool: every connection is closed.',
      type: 'final',
      entry: ['releaseEverything', emit({ type: 'pool.closed' as const })],
    },
    disconnected: {
      description: 'The signalling channel ended for good: every connection is closed.',
      type: 'final',
      entry: ['releaseEverything', emit({ type: 'pool.disconnected' as const })],
    },
  },
});
