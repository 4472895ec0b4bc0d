/**
 * What a pool reports: its errors and its events, as an `EventTarget` (the
 * original RTCPool's `pool.events`) and as the data of the typed stream
 * `pool.events$`.
 */

import type { NegotiationError } from '../machines/errors.js';
import type { JsonValue, PeerConnectionState } from '../machines/types.js';
import type { ManagedConnection } from './managed-connection.js';
import type { DataChannelOf, PoolPeerConnection, StreamOf, TrackOf } from './platform.js';
import type { SignallingError } from './protocol/errors.js';
import { RtcpoolError } from './shared/errors.js';

/** Stable codes of a {@link PoolError}. */
export type PoolErrorCode =
  /** A signal named a peer that is not in the pool. */
  | 'unknown-peer'
  /** The server announced a peer already known (or this endpoint itself). */
  | 'duplicate-peer'
  /** A signal arrived before this endpoint joined. */
  | 'not-joined'
  /** `join()` on a pool already joining or joined. */
  | 'already-joined'
  /** The server answered something this endpoint sent with `rtc:error`. */
  | 'server-error'
  /** The server refused the join (pool not found, refused, full): `join()` may be tried again. */
  | 'join-refused'
  /** A message could not be sent: the signalling channel had closed. */
  | 'signalling-closed'
  /** The signalling channel ended by itself and could not resume: the pool has ended. */
  | 'signalling-lost'
  /** The pool ended before the join completed. */
  | 'closed';

/**
 * Why the pool refused or lost something. `join()` rejects with one; `error`
 * events carry one (or a `SignallingError`, or a `NegotiationError`).
 *
 * @example
 * pool.join('lobby').catch((error) => {
 *   if (error instanceof PoolError && error.code === 'join-refused') showFullRoom();
 * });
 */
export class PoolError extends RtcpoolError {
  override readonly name = 'PoolError';
  constructor(
    readonly code: PoolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What an `error` event carries: every one is an `RtcpoolError` with a stable `code`. */
export type PoolEventError = PoolError | SignallingError | NegotiationError;

/** Every pool event, as one typed stream (`pool.events$`): the same events as `pool.events`, `detail` spread out. */
export type PoolEventData<PC extends PoolPeerConnection = RTCPeerConnection> =
  | { type: 'join'; id: string; pool: string }
  | { type: 'peer'; connection: ManagedConnection<PC> }
  | { type: 'close'; connection: ManagedConnection<PC> | null }
  | { type: 'stop' }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'describe'; connection: ManagedConnection<PC> | null; id: string; description: JsonValue }
  | ({ type: 'track' } & PoolEventDetails<PC>['track'])
  | ({ type: 'datachannel' } & PoolEventDetails<PC>['datachannel'])
  | ({ type: 'connectionstatechange' } & PoolEventDetails<PC>['connectionstatechange'])
  /** `connection`: the peer the error concerns (a negotiation error), or null when it is the pool's own. */
  | { type: 'error'; error: PoolEventError; connection: ManagedConnection<PC> | null };

/** The `detail` of each pool event. */
export interface PoolEventDetails<PC extends PoolPeerConnection = RTCPeerConnection> {
  /** The server confirmed the join; `pool` is the pool actually joined. */
  join: { id: string; pool: string };
  /** A connection to another endpoint exists. */
  peer: { connection: ManagedConnection<PC> };
  /** The connection that closed, or null when this endpoint's pool ended. */
  close: ManagedConnection<PC> | null;
  /** The server stopped the pool. */
  stop: Record<string, never>;
  /** The signalling connection was lost: peer connections carry on, signals are queued until it resumes. */
  reconnecting: Record<string, never>;
  /** The signalling session resumed: what was queued is sent, what the server held arrives. */
  reconnected: Record<string, never>;
  /** The server set an endpoint's description (`connection` null for this endpoint's own). */
  describe: { connection: ManagedConnection<PC> | null; id: string; description: JsonValue };
  /** A remote track arrived, once per track. */
  track: { connection: ManagedConnection<PC>; track: TrackOf<PC>; streams: readonly StreamOf<PC>[] };
  /** A peer opened a data channel. */
  datachannel: { connection: ManagedConnection<PC>; channel: DataChannelOf<PC> };
  /** A peer connection's state changed. */
  connectionstatechange: { connection: ManagedConnection<PC>; state: PeerConnectionState };
  /** `connection`: the peer the error concerns (a negotiation error), or null when it is the pool's own. */
  error: { error: PoolEventError; connection: ManagedConnection<PC> | null };
}

/** The name of a pool event. */
export type PoolEventType = keyof PoolEventDetails;

type Handler<PC extends PoolPeerConnection, K extends PoolEventType> =
  | ((event: CustomEvent<PoolEventDetails<PC>[K]>) => void)
  | null;

const HANDLED: readonly PoolEventType[] = [
  'join',
  'peer',
  'close',
  'stop',
  'reconnecting',
  'reconnected',
  'describe',
  'track',
  'datachannel',
  'connectionstatechange',
  'error',
];

/**
 * The pool's `EventTarget`: `join`, `peer`, `close`, `stop`, `reconnecting`,
 * `reconnected`, `describe`, `track`, `datachannel`,
 * `connectionstatechange`, `error`, each a `CustomEvent` with a typed
 * `detail` ({@link PoolEventDetails}), and each also settable as `onjoin`,
 * `onpeer`, ...
 *
 * @example
 * pool.events.addEventListener('peer', ({ detail }) => console.log('connected to', detail.connection.id));
 * pool.events.onclose = ({ detail }) => console.log(detail ? `${detail.id} left` : 'we left');
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed overloads of EventTarget's methods
export class PoolEvents<PC extends PoolPeerConnection = RTCPeerConnection> extends EventTarget {
  readonly #handlers = new Map<string, ((event: CustomEvent) => void) | null>();
  declare onjoin: Handler<PC, 'join'>;
  declare onpeer: Handler<PC, 'peer'>;
  declare onclose: Handler<PC, 'close'>;
  declare onstop: Handler<PC, 'stop'>;
  declare onreconnecting: Handler<PC, 'reconnecting'>;
  declare onreconnected: Handler<PC, 'reconnected'>;
  declare ondescribe: Handler<PC, 'describe'>;
  declare ontrack: Handler<PC, 'track'>;
  declare ondatachannel: Handler<PC, 'datachannel'>;
  declare onconnectionstatechange: Handler<PC, 'connectionstatechange'>;
  declare onerror: Handler<PC, 'error'>;

  constructor() {
    super();
    for (const type of HANDLED) {
      this.#handlers.set(type, null);
      Object.defineProperty(this, `on${type}`, {
        get: () => this.#handlers.get(type) ?? null,
        set: (handler: unknown) =>
          this.#handlers.set(type, typeof handler === 'function' ? (handler as (event: CustomEvent) => void) : null),
      });
      super.addEventListener(type, (event) => this.#handlers.get(type)?.call(this, event as CustomEvent));
    }
  }
}

// Typed listeners for the events above; the methods themselves are EventTarget's.
export interface PoolEvents<PC extends PoolPeerConnection = RTCPeerConnection> {
  addEventListener<K extends PoolEventType>(
    type: K,
    listener: (event: CustomEvent<PoolEventDetails<PC>[K]>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends PoolEventType>(
    type: K,
    listener: (event: CustomEvent<PoolEventDetails<PC>[K]>) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
