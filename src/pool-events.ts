/**
 * What a pool reports: its errors and its events, as an `EventTarget` (the
 * original RTCPool's `pool.events`) and as the data of the typed stream
 * `pool.events$`.
 */

import type { NegotiationError } from '../machines/errors.js';
import type { JsonValue } from '../machines/types.js';
import type { DataChannelLike, ManagedConnection } from './managed-connection.js';
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

/** Every pool event, as one typed stream (`pool.events$`). */
export type PoolEventData =
  | { type: 'join'; id: string; pool: string }
  | { type: 'peer'; connection: ManagedConnection }
  | { type: 'close'; connection: ManagedConnection | null }
  | { type: 'stop' }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'describe'; connection: ManagedConnection | null; id: string; description: JsonValue }
  /** `connection`: the peer the error concerns (a negotiation error), or null when it is the pool's own. */
  | { type: 'error'; error: PoolEventError; connection: ManagedConnection | null };

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
  error: { error: PoolEventError; connection: ManagedConnection | null };
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
