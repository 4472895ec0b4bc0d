import type { IncomingMessage, Server } from 'node:http';
import type { JsonValue } from '../protocol/index.js';
import type { Logger } from '../shared/logger.js';
import type { Backplane } from './backplane/types.js';
import type { IceServerMinter, IceServersOptions } from './ice-servers.js';

/** What the `resolvePool` and `authenticate` hooks see about a connection. */
export interface ConnectionInfo<Identity> {
  /** What `authenticate` returned for this connection (undefined without the hook). */
  identity: Identity | undefined;
  /** The HTTP request that opened the connection (the upgrade, or socket.io's handshake). */
  request: IncomingMessage;
  /** Which transport it came over. */
  transport: 'websocket' | 'socket.io';
}

/**
 * Decides whether a connection may open. Return an identity (any value, kept
 * with the connection and passed to `resolvePool` and to events), `true` for
 * "allowed, no identity", or `false`/`null` to refuse (HTTP 401). Throwing
 * refuses too.
 */
export type Authenticate<Identity> = (
  request: IncomingMessage,
) => Identity | boolean | null | undefined | Promise<Identity | boolean | null | undefined>;

/**
 * Maps a requested pool name to the pool actually joined (sent back in
 * `rtc:joined.pool`), or refuses with null (`rtc:error` reason `pool-refused`).
 */
export type ResolvePool<Identity> = (
  requested: string,
  connection: ConnectionInfo<Identity>,
) => string | null | undefined | Promise<string | null | undefined>;

/** The `redis` option in full. */
export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /**
   * How long each pool's log keeps its events, ms (default 60,000): the longest Redis outage a process catches up
   * from, and how old a session's checkpoint may be for another process to take it over. About 600 bytes of
   * Redis memory per event relayed.
   */
  logRetentionMs?: number;
  /**
   * Backpressure: operations sent to Redis and not yet answered (default 1,000) at which this process stops reading
   * its connections, until a quarter of that is left. Redis, or this process reading its answers, is behind: frames
   * wait in the clients' sockets, in order, rather than in this process's memory. Counted in `stats()` as `pauses`.
   */
  maxInFlight?: number;
}

/**
 * How {@link createSignallingServer} listens, who may connect and join, and the limits it enforces. Every option
 * has a default: `{}` is a public server on 127.0.0.1.
 */
export interface SignallingServerOptions<Identity = unknown> {
  /** Interface to listen on (default `127.0.0.1`). Ignored with `server`. */
  host?: string;
  /** Port to listen on (default 0: any free port; read it back from `server.port`). Ignored with `server`. */
  port?: number;
  /**
   * Attach to an existing `http.Server` (an Express app's `app.listen()` result,
   * say) instead of creating one. Its other requests are left alone; the
   * caller listens and closes it.
   */
  server?: Server;
  /** `public` (default): the first join creates a pool. `private`: only pools made with `createPool` can be joined. */
  pools?: 'public' | 'private';
  /** Maps a requested pool name to the one joined, or refuses it (default: every name as is). */
  resolvePool?: ResolvePool<Identity>;
  /** Decides whether a connection may open, and who it is (default: everyone, no identity). */
  authenticate?: Authenticate<Identity>;
  /**
   * Browser origins allowed to connect. Default: requests without an `Origin`
   * header (non-browser clients) and same-origin pages (Origin's host equals
   * the Host header). `'*'` allows every origin.
   */
  allowedOrigins?: '*' | readonly string[] | ((origin: string) => boolean);
  /** Members per pool (default 32: a full mesh beyond that is rarely wise). */
  maxPeersPerPool?: number;
  /** Largest inbound frame in bytes (default 64 KiB); larger closes the connection (1009). */
  maxMessageBytes?: number;
  /** Per-connection message rate: a token bucket (default 50/s, burst 200). */
  rateLimit?: {
    /** Messages per second, sustained. */
    perSecond: number;
    /** Messages allowed at once above that (the bucket's size). */
    burst: number;
  };
  /**
   * Liveness: the server pings every `intervalMs` (default 10 s) and drops a
   * connection it has not heard from (pong or message) for `timeoutMs`
   * (default 20 s), so a dead one is gone within `timeoutMs + intervalMs`.
   */
  heartbeat?: {
    /** How often the server pings, in ms. */
    intervalMs: number;
    /** How long a connection may stay silent before it is dropped, in ms. */
    timeoutMs: number;
  };
  /** A connection that has not sent `rtc:join` after this long is closed (4008); default 30 s. */
  joinTimeoutMs?: number;
  /**
   * How long a member's session outlives a lost connection (default 15 s; 0
   * turns resumption off). A lost connection is one that ended without the
   * client closing it: no close frame (1006), a heartbeat timeout, a socket.io
   * transport close or ping timeout. Within the window the client may resume
   * with `rtc:resume` (same id, same pool, nothing lost either way); the pool
   * hears nothing. After it, the member leaves (`rtc:close` to its pool). A
   * client that closes on purpose leaves at once.
   */
  resumeWindowMs?: number;
  /** The raw WebSocket transport: on by default at `/ws`; `false` turns it off. */
  websocket?:
    | boolean
    | {
        /** Where the raw WebSocket is upgraded (default `/ws`). */
        path: string;
      };
  /** The socket.io transport: on by default at `/socket.io/`; `false` turns it off. */
  socketio?:
    | boolean
    | {
        /** socket.io's `path` option (default `/socket.io`). */
        path: string;
      };
  /** Milliseconds since some epoch; tests pass a fake. Default `performance.now()` in whole milliseconds. */
  now?: () => number;
  /**
   * Share pools and sessions with the other server processes that use the
   * same Redis (`redis://[user:password@]host:port[/db]`, or `{ url,
   * logRetentionMs }`): endpoints of one pool may then reach any of them, and
   * resume on any of them. `logRetentionMs` (default 60,000) is how long each
   * pool's log keeps its events (docs/scaling.md). Start fails if Redis is
   * unreachable. Without it, pools live in this process's memory.
   */
  redis?: string | RedisOptions;
  /**
   * The ICE servers to hand every endpoint in `rtc:joined` (and again in
   * `rtc:resumed`): STUN URLs as they are, TURN URLs with credentials minted
   * per endpoint from the secret shared with the TURN server (TURN REST:
   * username `<unix expiry>:<endpoint id>`, credential the base64
   * HMAC-SHA1 of it; valid `ttlSeconds`, default a day). Clients add them
   * after their own. A bad URL, an empty secret or a bad TTL fails the start
   * with a TypeError. Default: none (the field is not sent).
   */
  iceServers?: IceServersOptions;
}

/** A member of a pool, as {@link SignallingServer.pool} reports it. */
export interface MemberInfo {
  /** The member's endpoint id. */
  id: string;
  /** Its trusted description, as last set by `describe` (null when none). */
  description: JsonValue;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  maxPeersPerPool: 32,
  maxMessageBytes: 64 * 1024,
  rateLimit: { perSecond: 50, burst: 200 },
  heartbeat: { intervalMs: 10_000, timeoutMs: 20_000 },
  joinTimeoutMs: 30_000,
  resumeWindowMs: 15_000,
  websocketPath: '/ws',
  socketioPath: '/socket.io',
} as const;

/** The options as the hub runs on them: {@link SignallingServerOptions} with the defaults filled in. */
export interface HubOptions {
  pools: 'public' | 'private';
  resolvePool: ResolvePool<unknown> | undefined;
  maxPeersPerPool: number;
  rateLimit: { perSecond: number; burst: number };
  heartbeat: { intervalMs: number; timeoutMs: number };
  joinTimeoutMs: number;
  /** How long a session outlives a lost connection (0: not at all). */
  resumeWindowMs: number;
  now: () => number;
  logger: Logger;
  /** Where pools live (default: this process's memory). */
  backplane?: Backplane;
  /** Mints each endpoint's `ice_servers` for `rtc:joined` and `rtc:resumed`; none sent without it. */
  iceServers?: IceServerMinter;
}
