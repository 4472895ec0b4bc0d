import { Observable, Subject } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { JsonValue } from '../machines/types.js';
import { ManagedConnection } from './managed-connection.js';
import type { PeerConnectionConstructor, PoolPeerConnection } from './platform.js';
import { createPoolActor, type PoolActor } from './pool-actor.js';
import { PoolError, type PoolEventData, PoolEvents } from './pool-events.js';
import { type ConfigurablePeerConnection, PoolIceServers, watchIceServers } from './pool-ice.js';
import type { SignallingError } from './protocol/errors.js';
import type { ClientMessage, ServerMessage } from './protocol/messages.js';
import type { Logger } from './shared/logger.js';

/** What the pool needs of a signalling channel (the `Signalling` class provides it). */
export interface SignallingChannel {
  /** Every server event, parsed once into a typed message. */
  readonly messages: Observable<ServerMessage>;
  /** Frames that could not be parsed; the channel carries on. */
  readonly errors?: Observable<SignallingError>;
  /** Sends one message to the server; may throw once the channel is closed (the pool reports `signalling-closed`). */
  send(message: ClientMessage): void;
  /** Called when the pool ends, whichever way: the channel is the pool's to close. */
  close(): void;
  /** `offline` while the connection is lost and the session not yet resumed (the pool dispatches `reconnecting` / `reconnected`). */
  readonly state$?: Observable<'online' | 'offline'>;
  /** Why the channel ended by itself, read when `messages` completes. */
  readonly closeReason?:
    | {
        /** A stable code, e.g. `resume-expired`. */
        code: string;
        /** What happened, for people. */
        message: string;
      }
    | undefined;
}

/** How a {@link Pool} makes and watches its connections. */
export interface PoolOptions<PC extends PoolPeerConnection = RTCPeerConnection, Config = RTCConfiguration> {
  /**
   * The `RTCPeerConnection` constructor; defaults to the global one (a
   * browser's). In Node pass `@roamhq/wrtc`'s or werift's: the pool's types
   * (channels, tracks, senders, stats) then follow that implementation.
   */
  RTCPeerConnection?: PeerConnectionConstructor<PC, Config>;
  /** An XState inspection observer given to the pool actor (and so to every negotiation child). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Areas `pool` and `negotiation`: connections at `info`, negotiation errors at `warn`, its states at `debug`. */
  logger?: Logger;
  /**
   * Restart ICE on a connection whose ICE state has stayed `disconnected`
   * this long (ms), without waiting for `failed`. Off by default.
   */
  iceDisconnectedRestartMs?: number;
  /**
   * How long this endpoint, joining a pool, waits for each peer already
   * there to send its first offer before offering itself (ms; default 3000;
   * 0: offer at once). Those peers offer as soon as they hear of the
   * newcomer, so the wait makes each pair one offer and one answer even
   * when the application opens channels or adds tracks on `peer`.
   */
  firstOfferTimeoutMs?: number;
  /**
   * How long a connection's ICE gathering may go without a relay candidate
   * while it has TURN servers (its own or the signalling server's) before
   * the pool reports an `ice-server-error` naming it (default 10000 ms; 0:
   * only when the gathering ends). A TURN server that answers with an error
   * (401: a wrong or expired credential) is reported at once.
   */
  turnTimeoutMs?: number;
}

/** Default of {@link PoolOptions.turnTimeoutMs}. */
const TURN_TIMEOUT_MS = 10_000;

/**
 * A pool of WebRTC connections: joins a named pool through a signalling
 * channel and keeps a negotiated connection to every other endpoint in it.
 *
 * Its types are the browser's (`RTCConfiguration`, `RTCDataChannel`,
 * `MediaStreamTrack`, ...) by default; given another implementation in
 * `options.RTCPeerConnection` (werift's, say), they are that implementation's.
 *
 * @example
 * const pool = new Pool({ iceServers: [] }, new Signalling.websocket('wss://example.org/ws'));
 * pool.events.onpeer = async ({ detail: { connection } }) => {
 *   const chat = await connection.dataChannel('chat');
 *   chat.send('hello');
 * };
 * await pool.join('lobby');
 */
export class Pool<PC extends PoolPeerConnection = RTCPeerConnection, Config = RTCConfiguration> {
  /** The pool's events, as in the original RTCPool: `pool.events.onpeer = ...`, or typed `addEventListener`. */
  readonly events = new PoolEvents<PC>();
  readonly #events$ = new Subject<PoolEventData<PC>>();
  readonly #actor: PoolActor;
  readonly #connections = new Map<string, ManagedConnection<PC>>();
  /** Per peer: stops watching its connection's ICE servers. */
  readonly #unwatch = new Map<string, () => void>();

  constructor(rtcConfiguration: NoInfer<Config>, signalling: SignallingChannel, options: PoolOptions<PC, Config> = {}) {
    const PeerConnection =
      options.RTCPeerConnection ??
      // The global exists in browsers only; where it does, PC is its default, the DOM's RTCPeerConnection.
      ((globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection as
        | PeerConnectionConstructor<PC, Config>
        | undefined);
    if (!PeerConnection) throw new TypeError('no RTCPeerConnection here: pass options.RTCPeerConnection');
    // The application's configuration, with the ICE servers the signalling server hands out after its own.
    const ice = new PoolIceServers(rtcConfiguration);
    const iceServerError = (peerId: string, message: string) => {
      options.logger?.log('warn', 'pool', message);
      const error = new PoolError('ice-server-error', message);
      this.#dispatch({ type: 'error', error, connection: this.#connections.get(peerId) ?? null });
    };
    // What the channel reports besides messages: refused frames and its own state. Watched while the pool lives.
    const messages = new Observable<ServerMessage>((subscriber) => {
      const forwarding = signalling.messages.subscribe({
        next: (message) => {
          // Before the machine sees it: connections made for this rtc:joined use the servers it brings.
          if (ice.receive(message) && message.type === 'rtc:resumed') this.#refreshIceServers(ice, options);
          subscriber.next(message);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      const errors = signalling.errors?.subscribe((error) =>
        this.#dispatch({ type: 'error', error, connection: null }),
      );
      let online = true;
      const state = signalling.state$?.subscribe((now) => {
        if (online === (now === 'online')) return;
        online = !online;
        this.#dispatch({ type: online ? 'reconnected' : 'reconnecting' });
      });
      return () => {
        forwarding.unsubscribe();
        errors?.unsubscribe();
        state?.unsubscribe();
      };
    });
    this.#actor = createPoolActor({
      messages,
      // A closed channel throws on send; that must not crash the pool's machines.
      send: (message) => {
        try {
          signalling.send(message);
        } catch (cause) {
          const reason = cause instanceof Error ? cause.message : String(cause);
          const error = new PoolError('signalling-closed', `not sent: ${reason}`);
          this.#dispatch({ type: 'error', error, connection: null });
        }
      },
      closeSignalling: () => signalling.close(),
      createPeerConnection: (peerId) => {
        const { pc, refused } = ice.create(PeerConnection);
        const connection = new ManagedConnection<PC>(
          peerId,
          pc,
          () => this.getDescription(peerId),
          () => {
            // Own children only: once a peer named `constructor` or `__proto__` is gone, Object.prototype answers.
            const { children } = this.#actor.getSnapshot();
            return Object.hasOwn(children, peerId) ? children[peerId] : undefined;
          },
        );
        connection.addEventListener('track', ({ detail }) => this.#dispatch({ type: 'track', ...detail }));
        connection.addEventListener('datachannel', ({ detail }) => this.#dispatch({ type: 'datachannel', ...detail }));
        // While the connection is the pool's: its end is the pool's `close` event, not a state change.
        connection.addEventListener('connectionstatechange', ({ detail }) => {
          if (this.#connections.get(peerId) === connection)
            this.#dispatch({ type: 'connectionstatechange', ...detail });
        });
        this.#connections.set(peerId, connection);
        const watched = pc as unknown as ConfigurablePeerConnection;
        this.#unwatch.get(peerId)?.();
        this.#unwatch.set(
          peerId,
          watchIceServers(watched, {
            peerId,
            timeoutMs: options.turnTimeoutMs ?? TURN_TIMEOUT_MS,
            turnUrls: () => ice.turnUrlsOf(watched),
            report: (message) => iceServerError(peerId, message),
          }),
        );
        // After the `peer` event that announces the connection.
        if (refused !== undefined)
          queueMicrotask(() =>
            iceServerError(peerId, `connection to ${peerId}: the server's ICE servers were refused (${refused})`),
          );
        return pc;
      },
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
      onNegotiationError: (peerId, error) =>
        this.#dispatch({ type: 'error', error, connection: this.#connections.get(peerId) ?? null }),
      ...(options.iceDisconnectedRestartMs === undefined
        ? {}
        : { iceDisconnectedRestartMs: options.iceDisconnectedRestartMs }),
      ...(options.firstOfferTimeoutMs === undefined ? {} : { firstOfferTimeoutMs: options.firstOfferTimeoutMs }),
    });
    this.#actor.on('pool.joined', ({ id, pool, peers }) => {
      this.#dispatch({ type: 'join', id, pool });
      for (const peerId of peers) this.#announce(peerId);
    });
    this.#actor.on('pool.peer', ({ id }) => this.#announce(id));
    this.#actor.on('pool.peerleft', ({ id }) => {
      const connection = this.#connections.get(id);
      if (!connection) return;
      this.#connections.delete(id);
      this.#unwatch.get(id)?.();
      this.#unwatch.delete(id);
      connection.dispose();
      this.#dispatch({ type: 'close', connection });
    });
    this.#actor.on('pool.describe', ({ id, description }) =>
      this.#dispatch({ type: 'describe', connection: this.#connections.get(id) ?? null, id, description }),
    );
    this.#actor.on('pool.problem', ({ problem, message }) =>
      this.#dispatch({ type: 'error', error: new PoolError(problem, message), connection: null }),
    );
    this.#actor.on('pool.stop', () => this.#dispatch({ type: 'stop' }));
    this.#actor.on('pool.closed', () => this.#dispatch({ type: 'close', connection: null }));
    this.#actor.on('pool.disconnected', () => {
      const reason = signalling.closeReason;
      const why = reason ? `${reason.code}: ${reason.message}` : 'the signalling channel closed';
      this.#dispatch({ type: 'error', error: new PoolError('signalling-lost', why), connection: null });
      this.#dispatch({ type: 'close', connection: null });
    });
    this.#actor.subscribe({
      complete: () => {
        const connections = [...this.#connections.values()];
        this.#connections.clear();
        for (const unwatch of this.#unwatch.values()) unwatch();
        this.#unwatch.clear();
        for (const connection of connections) connection.dispose();
        this.#events$.complete();
      },
    });
  }

  /** This endpoint's id; null until joined. */
  get id(): string | null {
    return this.#actor.getSnapshot().context.selfId;
  }

  /** One managed connection per remote peer. */
  get connections(): ManagedConnection<PC>[] {
    return [...this.#connections.values()];
  }

  /** How many remote peers this endpoint is connected to (the original's name). */
  get nconnections(): number {
    return this.#connections.size;
  }

  /** The connection to peer `id`, if it is in the pool. */
  getConnection(id: string): ManagedConnection<PC> | undefined {
    return this.#connections.get(id);
  }

  /** The trusted description the server set for endpoint `id` (null when none). */
  getDescription(id: string): JsonValue {
    const { descriptions } = this.#actor.getSnapshot().context;
    // Own entries only: a peer named `constructor` or `__proto__` must not read Object.prototype's members.
    return Object.hasOwn(descriptions, id) ? (descriptions[id] ?? null) : null;
  }

  /** The name the original documentation promised. */
  get_description(id: string): JsonValue {
    return this.getDescription(id);
  }

  /** Every pool event as a typed stream; completes when the pool ends. */
  get events$(): Observable<PoolEventData<PC>> {
    return this.#events$.asObservable();
  }

  /** The ids of the remote peers, now and after every change. */
  get peers$(): Observable<readonly string[]> {
    return new Observable<readonly string[]>((subscriber) => {
      // Snapshots change for many reasons; emit only when the list does (no operator, for the bundle's sake).
      let last = this.#actor.getSnapshot().context.peers;
      subscriber.next(last);
      const subscription = this.#actor.subscribe({
        next: ({ context }) => {
          if (context.peers === last) return;
          last = context.peers;
          subscriber.next(last);
        },
        complete: () => subscriber.complete(),
      });
      return () => subscription.unsubscribe();
    });
  }

  /**
   * Joins `poolName`. Resolves with this endpoint's id once the server
   * confirms; throws if this pool is already joining or joined. Rejects with a
   * `PoolError` coded `join-refused` if the server refuses the pool (not
   * found, refused by the application, full): the pool is idle again and
   * `join` may be called again.
   */
  join(poolName: string): Promise<string> {
    if (!this.#actor.getSnapshot().matches('idle')) throw new PoolError('already-joined', 'this pool already joined');
    const joined = new Promise<string>((resolve, reject) => {
      const refused = this.#actor.on('pool.problem', ({ problem, message }) => {
        if (problem !== 'join-refused') return;
        done();
        reject(new PoolError(problem, message));
      });
      const subscription = this.#actor.subscribe({
        next: (snapshot) => {
          if (snapshot.matches('joined')) {
            done();
            resolve(snapshot.context.selfId as string);
          }
        },
        complete: () => reject(new PoolError('closed', 'the pool ended before it joined')),
      });
      const done = () => {
        refused.unsubscribe();
        subscription.unsubscribe();
      };
    });
    this.#actor.send({ type: 'app.join', pool: poolName });
    return joined;
  }

  /** Closes every connection and the signalling channel, then dispatches `close` with `detail: null`. */
  close(): void {
    if (this.#actor.getSnapshot().status === 'active') this.#actor.send({ type: 'app.close' });
  }

  /**
   * A resume brought new ICE servers (fresh TURN credentials): connections
   * made from now on use them, and each existing one gets them for its next
   * ICE restart where the stack has `setConfiguration`.
   */
  #refreshIceServers(ice: PoolIceServers<Config>, options: PoolOptions<PC, Config>): void {
    for (const connection of this.#connections.values()) {
      try {
        ice.update(connection.peerConnection as unknown as ConfigurablePeerConnection);
      } catch (error) {
        options.logger?.log('warn', 'pool', `connection to ${connection.id}: new ICE servers not applied: ${error}`);
      }
    }
  }

  #announce(peerId: string): void {
    const connection = this.#connections.get(peerId);
    if (connection) this.#dispatch({ type: 'peer', connection });
  }

  #dispatch(event: PoolEventData<PC>): void {
    const { type, ...detail } = event;
    this.events.dispatchEvent(new CustomEvent(type, { detail: type === 'close' ? event.connection : detail }));
    this.#events$.next(event);
  }

  /** @internal for tests and the inspector */
  get actor(): PoolActor {
    return this.#actor;
  }
}
