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
  | 'closed'
  /**
   * A connection's TURN (or STUN) server cannot be used: it answered an
   * error (401: a wrong or expired credential), or no relay candidate came
   * from it in time (unreachable). The message names the connection's peer,
   * the URL and the code; the event's `connection` is that connection.
   */
  | 'ice-server-error';

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
  /** Always `PoolError`, whatever a minifier does to the class's own name. */
  override readonly name = 'PoolError';
  constructor(
    /** What went wrong, to branch on. */
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
  | {
      /** The server confirmed the join. */
      type: 'join';
      /** This endpoint's id. */
      id: string;
      /** The pool actually joined (the server may map the requested name). */
      pool: string;
    }
  | {
      /** A connection to another endpoint exists. */
      type: 'peer';
      /** The new peer's connection. */
      connection: ManagedConnection<PC>;
    }
  | {
      /** A peer left, or this endpoint's pool ended. */
      type: 'close';
      /** The connection that closed, or null when the pool itself ended. */
      connection: ManagedConnection<PC> | null;
    }
  | {
      /** The server stopped the pool. */
      type: 'stop';
    }
  | {
      /** The signalling connection was lost: peer connections carry on, signals are queued until it resumes. */
      type: 'reconnecting';
    }
  | {
      /** The signalling session resumed: what was queued is sent, what the server held arrives. */
      type: 'reconnected';
    }
  | {
      /** The server set an endpoint's description. */
      type: 'describe';
      /** The peer's connection, or null for this endpoint's own description. */
      connection: ManagedConnection<PC> | null;
      /** Whose description. */
      id: string;
      /** The new description. */
      description: JsonValue;
    }
  | ({
      /** A remote track arrived, once per track. */
      type: 'track';
    } & PoolEventDetails<PC>['track'])
  | ({
      /** A peer opened a data channel. */
      type: 'datachannel';
    } & PoolEventDetails<PC>['datachannel'])
  | ({
      /** A peer connection's state changed. */
      type: 'connectionstatechange';
    } & PoolEventDetails<PC>['connectionstatechange'])
  | {
      /** Something was refused or failed; the pool carries on. */
      type: 'error';
      /** What went wrong, with a stable `code`. */
      error: PoolEventError;
      /** The peer the error concerns (a negotiation error), or null when it is the pool's own. */
      connection: ManagedConnection<PC> | null;
    };

/** The `detail` of each pool event. */
export interface PoolEventDetails<PC extends PoolPeerConnection = RTCPeerConnection> {
  /** The server confirmed the join; `pool` is the pool actually joined. */
  join: {
    /** This endpoint's id. */
    id: string;
    /** The pool actually joined (the server may map the requested name). */
    pool: string;
  };
  /** A connection to another endpoint exists. */
  peer: {
    /** The new peer's connection. */
    connection: ManagedConnection<PC>;
  };
  /** The connection that closed, or null when this endpoint's pool ended. */
  close: ManagedConnection<PC> | null;
  /** The server stopped the pool. */
  stop: Record<string, never>;
  /** The signalling connection was lost: peer connections carry on, signals are queued until it resumes. */
  reconnecting: Record<string, never>;
  /** The signalling session resumed: what was queued is sent, what the server held arrives. */
  reconnected: Record<string, never>;
  /** The server set an endpoint's description (`connection` null for this endpoint's own). */
  describe: {
    /** The peer's connection, or null for this endpoint's own description. */
    connection: ManagedConnection<PC> | null;
    /** Whose description. */
    id: string;
    /** The new description. */
    description: JsonValue;
  };
  /** A remote track arrived, once per track. */
  track: {
    /** The peer sending it. */
    connection: ManagedConnection<PC>;
    /** The track (a `MediaStreamTrack` in a browser). */
    track: TrackOf<PC>;
    /** The streams the peer added it to, often one: what a `<video>` element's `srcObject` takes. */
    streams: readonly StreamOf<PC>[];
  };
  /** A peer opened a data channel. */
  datachannel: {
    /** The peer that opened it. */
    connection: ManagedConnection<PC>;
    /** The channel (an `RTCDataChannel` in a browser), possibly not open yet. */
    channel: DataChannelOf<PC>;
  };
  /** A peer connection's state changed. */
  connectionstatechange: {
    /** The connection whose state changed. */
    connection: ManagedConnection<PC>;
    /** Its new state. */
    state: PeerConnectionState;
  };
  /** Something was refused or failed; the pool carries on. */
  error: {
    /** What went wrong, with a stable `code`. */
    error: PoolEventError;
    /** The peer the error concerns (a negotiation error), or null when it is the pool's own. */
    connection: ManagedConnection<PC> | null;
  };
}

/** The name of a pool event. */
export type PoolEventType = keyof PoolEventDetails;

/**
 * An `on<type>` handler: called with the event, beside the listeners added with `addEventListener`; null for none.
 *
 * @inline
 */
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
  /** Handles `join` events, beside the added listeners; null for none. */
  declare onjoin: Handler<PC, 'join'>;
  /** Handles `peer` events, beside the added listeners; null for none. */
  declare onpeer: Handler<PC, 'peer'>;
  /** Handles `close` events, beside the added listeners; null for none. */
  declare onclose: Handler<PC, 'close'>;
  /** Handles `stop` events, beside the added listeners; null for none. */
  declare onstop: Handler<PC, 'stop'>;
  /** Handles `reconnecting` events, beside the added listeners; null for none. */
  declare onreconnecting: Handler<PC, 'reconnecting'>;
  /** Handles `reconnected` events, beside the added listeners; null for none. */
  declare onreconnected: Handler<PC, 'reconnected'>;
  /** Handles `describe` events, beside the added listeners; null for none. */
  declare ondescribe: Handler<PC, 'describe'>;
  /** Handles `track` events, beside the added listeners; null for none. */
  declare ontrack: Handler<PC, 'track'>;
  /** Handles `datachannel` events, beside the added listeners; null for none. */
  declare ondatachannel: Handler<PC, 'datachannel'>;
  /** Handles `connectionstatechange` events, beside the added listeners; null for none. */
  declare onconnectionstatechange: Handler<PC, 'connectionstatechange'>;
  /** Handles `error` events, beside the added listeners; null for none. */
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
  /** Listens to one pool event, with its typed `detail`. */
  addEventListener<K extends PoolEventType>(
    type: K,
    listener: (event: CustomEvent<PoolEventDetails<PC>[K]>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens to an event of any other type, as `EventTarget` does (the pool dispatches none). */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Removes a listener added for one pool event. */
  removeEventListener<K extends PoolEventType>(
    type: K,
    listener: (event: CustomEvent<PoolEventDetails<PC>[K]>) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes a listener added for any other type. */
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
