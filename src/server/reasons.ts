import type { JoinRefusal, RESUME_REFUSED, SignallingErrorCode } from '../protocol/index.js';

/**
 * Every `reason` an `rtc:error` from this server can carry. The parser's codes
 * come first (the frame itself was wrong), then the server's own (the frame
 * was fine but not allowed). Stable: clients may branch on them.
 */
export type RejectionReason =
  | SignallingErrorCode
  /** `rtc:sdp` / `rtc:candidate` before `rtc:joined`. */
  | 'not-joined'
  /** A second `rtc:join` on one connection. */
  | 'already-joined'
  /** The relay target is not a member of the sender's pool (whether or not it exists elsewhere). */
  | 'unknown-peer'
  /**
   * The join was refused (the shared protocol's `JOIN_REFUSALS`, which the client
   * turns into `join-refused`): `pool-not-found` (`pools: 'private'` and nobody
   * created it), `pool-refused` (`resolvePool` said no), `pool-full` (`maxPeersPerPool`).
   */
  | JoinRefusal
  /** More messages than the per-connection rate allows; the message was dropped. */
  | 'rate-limited'
  /**
   * An `rtc:resume` that cannot be honoured: no such session (never, expired,
   * or the token is wrong: one answer for all, so ids are not probed), or the
   * frames the client missed are no longer held (the session has then left).
   */
  | typeof RESUME_REFUSED;

/**
 * WebSocket close codes this server closes a connection with, and why.
 * 1000-1015 are RFC 6455's; 4000-4999 are private to rtcpool.
 */
export const CLOSE_CODES = {
  /** The server is shutting down. */
  serverClosing: 1001,
  /** A frame larger than `maxMessageBytes` (sent by `ws` itself). */
  messageTooBig: 1009,
  /** The pool was stopped (`rtc:stop` was sent first). */
  poolStopped: 4000,
  /** The session was resumed on another connection (this one had looked alive). */
  resumedElsewhere: 4001,
  /** Redis mode: the cluster took this server for dead and removed its members; join again. */
  evicted: 4002,
  /** No `rtc:join` within `joinTimeoutMs`. */
  joinTimeout: 4008,
  /** Kept sending past the rate limit after being told (`rate-limited`) `rateLimit.burst` times. */
  rateLimited: 4029,
} as const;

/** One of the {@link CLOSE_CODES} values: what a client may see as a closed socket's `code`. */
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];
