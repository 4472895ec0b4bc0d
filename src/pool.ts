import { Observable, Subject } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { JsonValue, PoolSignalEvent } from '../machines/pool.js';
import { type Logger, silentLogger } from './logger.js';
import { type DataChannelLike, ManagedConnection, type MediaPeerConnection } from './managed-connection.js';
import { createPoolActor, type PoolActor } from './pool-actor.js';
import type { ClientMessage, ServerMessage, SignallingError } from './protocol/index.js';

/** What the pool needs of a signalling channel (the `Signalling` class provides it). */
export interface SignallingChannel {
  /** Every server event, parsed once into a typed message. */
  readonly messages: Observable<ServerMessage>;
  /** Frames that could not be parsed; the channel carries on. */
  readonly errors?: Observable<SignallingError>;
  send(message: ClientMessage): void;
  close(): void;
  /** `offline` while the connection is lost and the session not yet resumed (the pool dispatches `reconnecting` / `reconnected`). */
  readonly state$?: Observable<'online' | 'offline'>;
  /** Why the channel ended by itself, read when `messages` completes. */
  readonly closeReason?: { code: string; message: string } | undefined;
}

export interface PoolOptions {
  /** The `RTCPeerConnection` constructor; defaults to `globalThis.RTCPeerConnection` (pass wrtc's or werift's in Node). */
  RTCPeerConnection?: new (
    configuration?: object,
  ) => MediaPeerConnection;
  /** An XState inspection observer given to the pool actor (and so to every negotiation child). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  logger?: Logger;
  /**
   * Restart ICE on a connection whose ICE state has stayed `disconnected`
   * this long (ms), without waiting for `failed`. Off by default.
   */
  iceDisconnectedRestartMs?: number;
}

/** Why the pool refused something; `error` events carry one. */
export class PoolError extends Error {
  override readonly name = 'PoolError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every pool event, as one typed stream (`pool.events$`). */
export type PoolEventData =
  | { type: 'join'; id: string; pool: string }
  | { type: 'peer'; connection: ManagedConnection }
  | { type: 'close'; connection: ManagedConnection | null }
  | { type: 'stop' }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'describe'; connection: ManagedConnection | null; id: string; description: JsonValue }
  | { type: 'error'; error: PoolError | SignallingError };

/** The `detail` of each pool event. */
export interface PoolEventDetails {
  join: { id: string; pool: string };
  peer: { connection: ManagedConnection };
  /** The connection that closed, or null when this endpoint closed. */
  close: ManagedConnection | null;
  stop: Record<string, never>;
  /** The signalling connection was lost: peer connections carry on, signals are queued until it resumes. */
  reconnecting: Record<string, never>;
  /** The signalling session resumed: what was queued is sent, what the server held arrives. */
  reconnected: Record<string, never>;
  describe: { connection: ManagedConnection | null; id: string; description: JsonValue };
  track: { connection: ManagedConnection; track: unknown; streams: unknown[] };
  datachannel: { connection: ManagedConnection; channel: DataChannelLike };
  error: { error: PoolError | SignallingError };
}

type Handler<K extends keyof PoolEventDetails> = ((event: CustomEvent<PoolEventDetails[K]>) => void) | null;
const HANDLED = [
  'join',
  'peer',
  'close',
  'stop',
  'reconnecting',
  'reconnected',
  'describe',
  'track',
  'datachannel',
  'error',
] as const;

/**
 * The pool's `EventTarget`: `join`, `peer`, `close`, `stop`, `reconnecting`,
 * `reconnected`, `describe`, `track`, `datachannel`, `error`, each also
 * settable as `onjoin`, `onpeer`, ...
 */
export class PoolEvents extends EventTarget {
  readonly #handlers = new Map<string, ((event: CustomEvent) => void) | null>();
  declare onjoin: Handler<'join'>;
  declare onpeer: Handler<'peer'>;
  declare onclose: Handler<'close'>;
  declare onstop: Handler<'stop'>;
  declare onreconnecting: Handler<'reconnecting'>;
  declare onreconnected: Handler<'reconnected'>;
  declare ondescribe: Handler<'describe'>;
  declare ontrack: Handler<'track'>;
  declare ondatachannel: Handler<'datachannel'>;
  declare onerror: Handler<'error'>;

  constructor() {
    super();
    for (const type of HANDLED) {
      this.#handlers.set(type, null);
      Object.defineProperty(this, `on${type}`, {
        get: () => this.#handlers.get(type) ?? null,
        set: (handler: unknown) =>
          this.#handlers.set(type, typeof handler === 'function' ? (handler as (event: CustomEvent) => void) : null),
      });
      this.addEventListener(type, (event) => this.#handlers.get(type)?.call(this, event as CustomEvent));
    }
  }
}

/**
 * A pool of WebRTC connections: joins a named pool through a signalling
 * channel and keeps a negotiated connection to every other endpoint in it.
 *
 * @example
 * const pool = new Pool({ iceServers: [] }, new Signalling.websocket(new WebSocket(url)));
 * pool.events.onpeer = ({ detail }) => detail.connection.dataChannel('chat');
 * await pool.join('lobby');
 */
export class Pool {
  readonly events = new PoolEvents();
  readonly #events$ = new Subject<PoolEventData>();
  readonly #actor: PoolActor;
  readonly #connections = new Map<string, ManagedConnection>();
  #requestedPool: string | null = null;

  constructor(rtcConfiguration: object, signalling: SignallingChannel, options: PoolOptions = {}) {
    const PeerConnection =
      options.RTCPeerConnection ??
      (globalThis as { RTCPeerConnection?: new (configuration?: object) => MediaPeerConnection }).RTCPeerConnection;
    if (!PeerConnection) throw new TypeError('no RTCPeerConnection here: pass options.RTCPeerConnection');
    const signals = new Observable<PoolSignalEvent>((subscriber) => {
      const messages = signalling.messages.subscribe({
        next: (message) => {
          // rtc:resumed belongs to the signalling channel's session, not to the pool.
          if (message.type !== 'rtc:resumed') subscriber.next(this.#toSignal(message));
        },
        complete: () => subscriber.complete(),
      });
      const errors = signalling.errors?.subscribe((error) => this.#dispatch({ type: 'error', error }));
      let online = true;
      const state = signalling.state$?.subscribe((now) => {
        if (online === (now === 'online')) return;
        online = !online;
        this.#dispatch({ type: online ? 'reconnected' : 'reconnecting' });
      });
      return () => {
        messages.unsubscribe();
        errors?.unsubscribe();
        state?.unsubscribe();
      };
    });
    this.#actor = createPoolActor({
      signals,
      // A closed channel throws on send; that must not crash the pool's machines.
      send: (message) => {
        try {
          signalling.send(message);
        } catch (cause) {
          const reason = cause instanceof Error ? cause.message : String(cause);
          this.#dispatch({ type: 'error', error: new PoolError('signalling-closed', `not sent: ${reason}`) });
        }
      },
      closeSignalling: () => signalling.close(),
      createPeerConnection: (peerId) => {
        const pc = new PeerConnection(rtcConfiguration);
        const connection = new ManagedConnection(
          peerId,
          pc,
          () => this.getDescription(peerId),
          () => {
            // Own children only: once a peer named `constructor` or `__proto__` is gone, Object.prototype answers.
            const { children } = this.#actor.getSnapshot();
            return Object.hasOwn(children, peerId) ? children[peerId] : undefined;
          },
        );
        for (const type of ['track', 'datachannel'] as const) {
          connection.addEventListener(type, (event) =>
            this.events.dispatchEvent(new CustomEvent(type, { detail: (event as CustomEvent).detail })),
          );
        }
        this.#connections.set(peerId, connection);
        return pc;
      },
      logger: options.logger ?? silentLogger,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(options.iceDisconnectedRestartMs === undefined
        ? {}
        : { iceDisconnectedRestartMs: options.iceDisconnectedRestartMs }),
    });
    this.#actor.on('pool.joined', ({ id, pool, peers }) => {
      this.#dispatch({ type: 'join', id, pool });
      for (const peerId of peers) this.#announce(peerId);
    });
    this.#actor.on('pool.peer', ({ id }) => this.#announce(id));
    this.#actor.on('pool.peerleft', ({ id }) => {
      const connection = this.#connections.get(id);
      if (!connection) return;
      connection.dispose();
      this.#connections.delete(id);
      this.#dispatch({ type: 'close', connection });
    });
    this.#actor.on('pool.describe', ({ id, description }) =>
      this.#dispatch({ type: 'describe', connection: this.#connections.get(id) ?? null, id, description }),
    );
    this.#actor.on('pool.problem', ({ problem, message }) =>
      this.#dispatch({ type: 'error', error: new PoolError(problem, message) }),
    );
    this.#actor.on('pool.stop', () => this.#dispatch({ type: 'stop' }));
    this.#actor.on('pool.closed', () => this.#dispatch({ type: 'close', connection: null }));
    this.#actor.on('pool.disconnected', () => {
      const reason = signalling.closeReason;
      const why = reason ? `${reason.code}: ${reason.message}` : 'the signalling channel closed';
      this.#dispatch({ type: 'error', error: new PoolError('signalling-lost', why) });
      this.#dispatch({ type: 'close', connection: null });
    });
    this.#actor.subscribe({
      complete: () => {
        for (const connection of this.#connections.values()) connection.dispose();
        this.#connections.clear();
        this.#events$.complete();
      },
    });
  }

  /** This endpoint's id; null until joined. */
  get id(): string | null {
    return this.#actor.getSnapshot().context.selfId;
  }

  /** One managed connection per remote peer. */
  get connections(): ManagedConnection[] {
    return [...this.#connections.values()];
  }

  get nconnections(): number {
    return this.#connections.size;
  }

  getConnection(id: string): ManagedConnection | undefined {
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
  get events$(): Observable<PoolEventData> {
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
    this.#requestedPool = poolName;
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

  #announce(peerId: string): void {
    const connection = this.#connections.get(peerId);
    if (connection) this.#dispatch({ type: 'peer', connection });
  }

  #dispatch(event: PoolEventData): void {
    const { type, ...detail } = event;
    this.events.dispatchEvent(new CustomEvent(type, { detail: type === 'close' ? event.connection : detail }));
    this.#events$.next(event);
  }

  #toSignal(message: Exclude<ServerMessage, { type: 'rtc:resumed' }>): PoolSignalEvent {
    switch (message.type) {
      case 'rtc:joined':
        return {
          type: 'signal.joined',
          clientId: message.data.client_id,
          pool: message.data.pool ?? this.#requestedPool ?? '',
          peers: message.data.peers,
          descriptions: message.data.descriptions,
        };
      case 'rtc:peer':
        return { type: 'signal.peer', id: message.data.id };
      case 'rtc:sdp':
        return { type: 'signal.sdp', peer: message.data.peer, description: message.data.description };
      case 'rtc:candidate':
        return { type: 'signal.candidate', from: message.data.from, candidate: message.data.candidate };
      case 'rtc:close':
        return { type: 'signal.close', id: message.data.id };
      case 'rtc:stop':
        return { type: 'signal.stop' };
      case 'rtc:describe':
        return { type: 'signal.describe', id: message.data.id, description: message.data.description };
      case 'rtc:error':
        return message.data.reason === undefined
          ? { type: 'signal.error', message: message.data.message }
          : { type: 'signal.error', message: message.data.message, reason: message.data.reason };
    }
  }

  /** @internal for tests and the inspector */
  get actor(): PoolActor {
    return this.#actor;
  }
}
