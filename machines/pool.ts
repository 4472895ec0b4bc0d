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
  /** `pool`: the pool actually joined (the server may map the name), or null when the server did not say. */
  | {
      type: 'signal.joined';
      clientId: string;
      pool: string | null;
      peers: string[];
      descriptions: Record<string, JsonValue>;
    }
  | { type: 'signal.peer'; id: string }
  | { type: 'signal.sdp'; peer: string; description: SessionDescription }
  | { type: 'signal.candidate'; from: string; candidate: IceCandidate | null }
  | { type: 'signal.close'; id: string }
  | { type: 'signal.describe'; id: string; description: JsonValue }
  | { type: 'signal.stop' }
  | { type: 'signal.error'; message: string; reason?: string }
  /**
   * The server refused the join: this endpoint is in no pool and may try
   * again. Which server errors mean that is the signalling adapter's call
   * (`src/pool-signals.ts`), not the machine's.
   */
  | { type: 'signal.joinRefused'; message: string };

export type PoolEvent =
  | PoolSignalEvent
  /** The signals ended by themselves (the signalling channel closed and could not resume): nothing more will come. */
  | { type: 'signal.lost' }
  | { type: 'app.join'; pool: string }
  | { type: 'app.close' };

/** Why a signal was refused; the pool carries on. */
export type PoolProblem =
  | 'unknown-peer'
  | 'duplicate-peer'
  | 'not-joined'
  | 'already-joined'
  | 'server-error'
  /** The server refused the join (not found, refused, full): back to idle, join() may be tried again. */
  | 'join-refused';

export type PoolEmitted =
  | { type: 'pool.joined'; id: string; pool: string; peers: string[] }
  | { type: 'pool.peer'; id: string }
  | { type: 'pool.peerleft'; id: string }
  | { type: 'pool.describe'; id: string; description: JsonValue }
  | { type: 'pool.stop' }
  | { type: 'pool.closed' }
  | { type: 'pool.disconnected' }
  | { type: 'pool.problem'; problem: PoolProblem; message: string };

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
}

/** What every peer's negotiation machine is started with, beyond its peer id and role. */
export type ChildNegotiationInput = Omit<NegotiationInput, 'peerId' | 'polite'>;

export interface PoolInput {
  negotiation?: ChildNegotiationInput;
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

export const poolMachine = pool.createMachine({
  id: 'pool',
  context: ({ input }) => ({
    pool: null,
    selfId: null,
    peers: [],
    descriptions: {},
    negotiation: input?.negotiation ?? {},
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
            // We are the newcomer: polite toward everyone already here, and they start.
            enqueueActions(({ context, enqueue }) => {
              for (const peerId of context.peers) {
                enqueue({ type: 'openConnection', params: { peerId, polite: true } });
                enqueue.spawnChild('negotiation', {
                  id: peerId,
                  input: { ...context.negotiation, peerId, polite: true },
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
