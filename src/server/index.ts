/**
 * rtcpool's signalling server (`rtcpool/server`): pools of endpoints that
 * relay offers, answers and candidates to each other, speaking protocol
 * version 2 over a raw WebSocket (`/ws`) and socket.io on one HTTP server.
 * Node only; it shares the wire protocol with the client and nothing else.
 *
 * `ws`, `socket.io` and `ioredis` are optional peer dependencies, so that a
 * browser app's `npm install rtcpool` does not carry a server: this module
 * imports none of them at load time, and `createSignallingServer` loads each
 * only when what needs it is turned on.
 *
 * @module rtcpool/server
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import type { JsonValue } from '../protocol/index.js';
import { RtcpoolError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { ServerEvent, ServerStats } from './events.js';
import { CLOSE_GRACE_MS } from './grace.js';
import { Hub } from './hub.js';
import { describeIceServers, iceServerMinter } from './ice-servers.js';
import { HEARTBEAT_SLICES } from './liveness.js';
import { DEFAULTS, type MemberInfo, type SignallingServerOptions } from './options.js';
import { SocketIoTransport } from './socketio.js';
import { WebSocketTransport } from './websocket.js';

export { RESUME_REFUSED } from '../protocol/messages.js';
export type { DisconnectWhy, ServerEvent, ServerStats } from './events.js';
export { DEFAULT_TURN_TTL_SECONDS, type IceServersOptions, type TurnOptions } from './ice-servers.js';
export type {
  Authenticate,
  ConnectionInfo,
  MemberInfo,
  RedisOptions,
  ResolvePool,
  SignallingServerOptions,
} from './options.js';
export { CLOSE_CODES, type CloseCode, type RejectionReason } from './reasons.js';

/** The packages the server loads only when a feature needs them: rtcpool's optional peer dependencies. */
export type PeerPackage = 'ws' | 'socket.io' | 'ioredis';

/**
 * Thrown by {@link createSignallingServer} when something it was asked for
 * needs a package that is not installed: `ws` for the raw WebSocket
 * transport, `socket.io` for the socket.io one, `ioredis` for `redis`. The
 * message names the package and how to install it; nothing was started.
 *
 * @example
 * try {
 *   await createSignallingServer({ port: 8080 });
 * } catch (error) {
 *   if (error instanceof MissingPeerDependencyError) console.error(`npm install ${error.packageName}`);
 *   else throw error;
 * }
 */
export class MissingPeerDependencyError extends RtcpoolError {
  /** Always `MissingPeerDependencyError`, whatever a minifier does to the class's own name. */
  override readonly name = 'MissingPeerDependencyError';
  /** The one code of this error. */
  readonly code = 'missing-peer-dependency';

  constructor(
    /** The package to install. */
    readonly packageName: PeerPackage,
    /** What needs it, e.g. `the raw WebSocket transport`. */
    readonly feature: string,
    /** The option that does without it, if any, e.g. `websocket: false`. */
    alternative: string | undefined,
    options?: ErrorOptions,
  ) {
    const instead = alternative === undefined ? '' : ` (or pass ${alternative})`;
    super(
      `rtcpool/server: ${feature} needs the "${packageName}" package: npm install ${packageName}${instead}`,
      options,
    );
  }
}

/** A running signalling server. */
export interface SignallingServer<Identity = unknown> {
  /** The port it listens on (the one chosen when `port` was 0). */
  readonly port: number;
  /** `http://host:port`; the raw WebSocket is at `ws://host:port/ws`. */
  readonly url: string;
  /** The HTTP server carrying both transports (the one passed in, if any). */
  readonly httpServer: Server;
  /** Joins, leaves, relays, rejections, stops, as they happen. */
  readonly events$: Observable<ServerEvent<Identity>>;
  /** Counters since start, and current connections/endpoints/pools. */
  stats(): ServerStats;
  /**
   * Sets endpoint `clientId`'s description (trusted: only the server sets
   * them) and sends `rtc:describe` to the rest of its pool; later joiners get
   * it in `rtc:joined`. False if no member served by this process has that id.
   */
  describe(clientId: string, description: JsonValue): boolean;
  /**
   * Makes a pool joinable (required with `pools: 'private'`); it lives until
   * stopped. Rejects with a TypeError for an invalid id.
   */
  createPool(poolId: string): Promise<void>;
  /**
   * Sends `rtc:stop` to every member (on every process sharing the pools),
   * closes their connections (4000) and forgets the pool. False if there is none.
   */
  stopPool(poolId: string): Promise<boolean>;
  /** The members of a pool with their descriptions, or undefined. */
  pool(poolId: string): Promise<MemberInfo[] | undefined>;
  /** Ids of the pools that exist now. */
  pools(): Promise<string[]>;
  /**
   * Stops every pool (`rtc:stop`), closes every connection (1001) and, if it
   * created the HTTP server, closes that too.
   */
  close(): Promise<void>;
}

/** Options of {@link createSignallingServer} beside {@link SignallingServerOptions}. */
export interface SignallingServerExtras {
  /** Area `server`: start and close at `info`, failing hooks and Redis trouble at `warn` and `error`. */
  logger?: Logger;
}

/**
 * Starts a signalling server; resolves once it listens (at once when attached
 * to a `server` of yours).
 *
 * @example
 * import { createSignallingServer } from 'rtcpool/server';
 *
 * const server = await createSignallingServer({ port: 8080 });
 * server.events$.subscribe((event) => {
 *   if (event.type === 'join') server.describe(event.clientId, { joinedAt: Date.now() });
 * });
 */
export async function createSignallingServer<Identity = unknown>(
  options: SignallingServerOptions<Identity> & SignallingServerExtras = {},
): Promise<SignallingServer<Identity>> {
  const logger = options.logger ?? silentLogger;
  const heartbeat = options.heartbeat ?? DEFAULTS.heartbeat;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  const wsPath = pathOf(options.websocket, DEFAULTS.websocketPath);
  const ioPath = pathOf(options.socketio, DEFAULTS.socketioPath);
  // Checked first: a bad URL or an empty secret fails the start before anything is loaded or listens.
  const iceServers = iceServerMinter(options.iceServers);
  // The optional packages, each only when what needs it is on, and all before anything starts: a missing one
  // fails the start with nothing (a Redis connection, a listener on the caller's server) to undo. One at a time,
  // so that the error names the same package every run.
  const wsPackage =
    wsPath === null
      ? null
      : await loadPeer(() => import('ws'), 'ws', 'the raw WebSocket transport', 'websocket: false');
  const ioPackage =
    ioPath === null
      ? null
      : await loadPeer(() => import('socket.io'), 'socket.io', 'the socket.io transport', 'socketio: false');
  const redis =
    options.redis === undefined
      ? null
      : await loadPeer(() => import('./backplane/redis.js'), 'ioredis', 'the Redis backplane', undefined);
  let evict: (members: ReadonlyArray<{ id: string; why: 'moved' | 'gone' }>) => void = () => undefined;
  let hold: (busy: boolean) => void = () => undefined;
  const backplane =
    redis === null || options.redis === undefined
      ? undefined
      : await redis.createRedisBackplane({
          ...(typeof options.redis === 'string' ? { url: options.redis } : options.redis),
          logger,
          onEvicted: (members) => evict(members),
          onBusy: (busy) => hold(busy),
        });
  const hub = new Hub({
    pools: options.pools ?? 'public',
    resolvePool: options.resolvePool as SignallingServerOptions['resolvePool'],
    maxPeersPerPool: options.maxPeersPerPool ?? DEFAULTS.maxPeersPerPool,
    rateLimit: options.rateLimit ?? DEFAULTS.rateLimit,
    heartbeat,
    joinTimeoutMs: options.joinTimeoutMs ?? DEFAULTS.joinTimeoutMs,
    resumeWindowMs: options.resumeWindowMs ?? DEFAULTS.resumeWindowMs,
    now: options.now ?? wholeMilliseconds,
    logger,
    ...(backplane ? { backplane } : {}),
    ...(iceServers ? { iceServers } : {}),
  });
  evict = (members) => hub.evicted(members);
  hold = (busy) => hub.hold(busy);
  const owned = options.server === undefined;
  const http = options.server ?? createServer((_, response) => response.writeHead(404).end());
  const admit = admission(options, logger);

  const websocket = wsPackage === null ? null : new WebSocketTransport(hub, wsPackage, { maxMessageBytes, admit });
  const socketio =
    ioPackage === null || ioPath === null
      ? null
      : new SocketIoTransport(hub, ioPackage, http, { path: ioPath, maxMessageBytes, heartbeat, admit });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = pathname(request.url);
    if (websocket && path === wsPath) void websocket.upgrade(request, socket, head);
    // socket.io answers its own path; on a server of ours, anything else is nobody's (on yours, it is yours).
    else if (owned && !(ioPath !== null && path.startsWith(`${ioPath}/`))) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  };
  http.on('upgrade', onUpgrade);
  const sweeper = setInterval(() => hub.sweep(), heartbeat.intervalMs / HEARTBEAT_SLICES);
  sweeper.unref();

  if (owned) {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? DEFAULTS.port, options.host ?? DEFAULTS.host, () => {
        http.off('error', reject);
        resolve();
      });
    }).catch(async (error: unknown) => {
      await backplane?.close();
      throw error;
    });
  }
  const address = () => {
    const bound = http.address() as AddressInfo | null;
    if (!bound || typeof bound === 'string') throw new Error('the HTTP server is not listening on a TCP port');
    return bound;
  };
  logger.log('info', 'server', 'signalling server started', {
    websocket: wsPath,
    socketio: ioPath,
    // URLs and the TTL only: the TURN secret is never logged.
    ...(iceServers ? { iceServers: describeIceServers(options.iceServers) } : {}),
  });

  let closing: Promise<void> | undefined;
  return {
    get port() {
      return address().port;
    },
    get url() {
      const { address: host, port, family } = address();
      return `http://${family === 'IPv6' ? `[${host}]` : host}:${port}`;
    },
    httpServer: http,
    events$: hub.events.asObservable() as Observable<ServerEvent<Identity>>,
    stats: () => hub.stats(),
    describe: (clientId, description) => hub.describe(clientId, description),
    createPool: async (poolId) => hub.createPool(poolId),
    stopPool: async (poolId) => hub.stopPool(poolId),
    pool: async (poolId) => hub.pool(poolId),
    pools: async () => hub.poolIds(),
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        hub.shutdown();
        http.off('upgrade', onUpgrade);
        // The hub has sent rtc:stop and started closing every connection; give them a moment to finish.
        await Promise.all([websocket?.close(CLOSE_GRACE_MS), socketio?.close(CLOSE_GRACE_MS)]);
        await backplane?.close(); // after the members' leaves, which it sends first
        if (owned) {
          http.closeAllConnections();
          await new Promise<void>((resolve) => http.close(() => resolve()));
        }
        logger.log('info', 'server', 'signalling server closed');
      })();
      return closing;
    },
  };
}

/**
 * The server's default clock: `performance.now()` in whole milliseconds. Every connection keeps three times
 * (last heard from, connected at, its rate limit's last refill); a whole number of milliseconds since the process
 * started is a small integer that V8 stores in the object itself for the first 24 days, where a fraction takes a
 * 16-byte box per field.
 */
const wholeMilliseconds = (): number => Math.floor(performance.now());

/**
 * Imports an optional peer dependency, turning Node's "not found" for that
 * package into a {@link MissingPeerDependencyError}. Only the package itself
 * missing is: a package missing deeper down (one of its own dependencies) is
 * a broken install, reported as Node reported it.
 */
async function loadPeer<T>(
  load: () => Promise<T>,
  packageName: PeerPackage,
  feature: string,
  alternative: string | undefined,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!notFound(error, packageName)) throw error;
    throw new MissingPeerDependencyError(packageName, feature, alternative, { cause: error });
  }
}

/** Node's own error for `packageName` not found: ERR_MODULE_NOT_FOUND from `import`, MODULE_NOT_FOUND from `require` (the CJS build). */
function notFound(error: unknown, packageName: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error.message.includes(`'${packageName}'`);
}

function pathOf(option: boolean | { path: string } | undefined, fallback: string): string | null {
  if (option === false) return null;
  return typeof option === 'object' ? option.path.replace(/\/$/, '') : fallback;
}

function pathname(url: string | undefined): string {
  const end = url?.search(/[?#]/) ?? -1;
  return url === undefined ? '/' : end === -1 ? url : url.slice(0, end);
}

/** The origin check and the `authenticate` hook, shared by both transports. */
function admission<Identity>(
  options: SignallingServerOptions<Identity>,
  logger: Logger,
): (request: IncomingMessage) => Promise<{ identity: unknown } | { refused: 401 | 403 }> {
  const allowed = originCheck(options.allowedOrigins);
  return async (request) => {
    if (!allowed(request)) return { refused: 403 };
    if (!options.authenticate) return { identity: undefined };
    try {
      const verdict = await options.authenticate(request);
      if (verdict === false || verdict === null) return { refused: 401 };
      return { identity: verdict === true || verdict === undefined ? undefined : verdict };
    } catch (error) {
      logger.log('warn', 'server', 'authenticate threw; connection refused', { error: String(error) });
      return { refused: 401 };
    }
  };
}

function originCheck(option: SignallingServerOptions['allowedOrigins']): (request: IncomingMessage) => boolean {
  if (option === '*') return () => true;
  return (request) => {
    const origin = request.headers.origin;
    if (origin === undefined) return true; // not a browser: Origin is a browser's promise, nobody else's
    if (typeof option === 'function') return option(origin);
    if (option !== undefined) return option.includes(origin);
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  };
}
