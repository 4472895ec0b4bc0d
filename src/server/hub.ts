/**
 * The transport-free heart of the signalling server: connections, pools,
 * relays, descriptions, limits. A transport (raw WebSocket, socket.io) opens an
 * endpoint per connection with a {@link Link}, feeds it parsed frames and says
 * when it is gone; everything the protocol promises is decided here, once.
 */
import { randomUUID } from 'node:crypto';
import { Subject } from 'rxjs';
import type { Logger } from '../logger.js';
import {
  type ClientMessage,
  type ClientMessageOf,
  type JsonValue,
  type ParseResult,
  PROTOCOL_LIMITS,
} from '../protocol/index.js';
import type { ConnectionInfo, MemberInfo, ResolvePool } from './options.js';
import { TokenBucket } from './rate.js';
import { CLOSE_CODES, type CloseCode, type RejectionReason } from './reasons.js';

/** One connection as the hub drives it. */
export interface Link {
  /** Sends one server event; a no-op once the connection is closing. */
  send(type: string, data: Record<string, unknown>): void;
  /** Closes gracefully (after what was sent) with a code that says why. */
  close(code: CloseCode, reason: string): void;
  /** Drops the connection at once (it stopped answering). */
  terminate(): void;
  /** Asks for a sign of life, or undefined when the transport keeps its own heartbeat (socket.io). */
  ping: (() => void) | undefined;
}

/** What the server reports as it works: for logs, metrics and benchmarks. */
export type ServerEvent<Identity = unknown> =
  | { type: 'connect'; transport: ConnectionInfo<Identity>['transport'] }
  | { type: 'join'; clientId: string; pool: string; requested: string; identity: Identity | undefined }
  | { type: 'leave'; clientId: string; pool: string }
  | { type: 'relay'; event: 'rtc:sdp' | 'rtc:candidate'; from: string; to: string; pool: string }
  | { type: 'reject'; clientId: string | null; reason: RejectionReason; message: string }
  | { type: 'describe'; clientId: string; pool: string }
  | { type: 'stop'; pool: string; members: number }
  | { type: 'disconnect'; clientId: string | null; why: 'closed' | 'heartbeat' | 'join-timeout' | 'rate-limit' };

/** Running totals since the server started (current counts for connections, endpoints, pools). */
export interface ServerStats {
  connections: number;
  endpoints: number;
  pools: number;
  joins: number;
  leaves: number;
  relays: number;
  rejections: number;
  rejectionsByReason: Partial<Record<RejectionReason, number>>;
}

interface PoolState {
  id: string;
  members: Map<string, Endpoint>;
  /** Made by `createPool`: kept when empty, and the only kind a private server admits. */
  created: boolean;
}

export class Endpoint {
  id: string | null = null;
  pool: PoolState | null = null;
  state: 'connected' | 'joining' | 'joined' | 'gone' = 'connected';
  description: JsonValue = null;
  lastSeen: number;
  readonly connectedAt: number;

  constructor(
    readonly link: Link,
    readonly info: ConnectionInfo<unknown>,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.lastSeen = now;
    this.connectedAt = now;
  }
}

export interface HubOptions {
  pools: 'public' | 'private';
  resolvePool: ResolvePool<unknown> | undefined;
  maxPeersPerPool: number;
  rateLimit: { perSecond: number; burst: number };
  heartbeat: { intervalMs: number; timeoutMs: number };
  joinTimeoutMs: number;
  now: () => number;
  logger: Logger;
}

export class Hub {
  readonly events = new Subject<ServerEvent>();
  private readonly pools = new Map<string, PoolState>();
  private readonly endpoints = new Set<Endpoint>();
  private readonly byId = new Map<string, Endpoint>();
  private readonly totals = { joins: 0, leaves: 0, relays: 0, rejections: 0 };
  private readonly rejectionsByReason: Partial<Record<RejectionReason, number>> = {};

  constructor(private readonly options: HubOptions) {}

  open(link: Link, info: ConnectionInfo<unknown>): Endpoint {
    const now = this.options.now();
    const { perSecond, burst } = this.options.rateLimit;
    const endpoint = new Endpoint(link, info, new TokenBucket(perSecond, burst, now), now);
    this.endpoints.add(endpoint);
    this.events.next({ type: 'connect', transport: info.transport });
    return endpoint;
  }

  /** A frame arrived: rate-limited first (parsing costs), then parsed by `parse` and handled. */
  receive(endpoint: Endpoint, parse: () => ParseResult<ClientMessage>): void {
    if (endpoint.state === 'gone') return;
    const now = this.options.now();
    endpoint.lastSeen = now;
    const verdict = endpoint.bucket.take(now);
    if (verdict === 'abuse') {
      this.drop(endpoint, CLOSE_CODES.rateLimited, 'rate limit exceeded', 'rate-limit');
      return;
    }
    if (verdict === 'drop') {
      const { perSecond, burst } = this.options.rateLimit;
      this.reject(endpoint, 'rate-limited', `over ${perSecond} messages/s (burst ${burst}): message dropped`);
      return;
    }
    const result = parse();
    if (!result.ok) {
      this.reject(endpoint, result.error.code, result.error.message);
      return;
    }
    const message = result.message;
    if (message.type === 'rtc:join') void this.join(endpoint, message.data.pool);
    else this.relay(endpoint, message);
  }

  /** Any sign of life (a pong) that is not a message. */
  alive(endpoint: Endpoint): void {
    endpoint.lastSeen = this.options.now();
  }

  /** The transport lost the connection (closed by either side, or terminated). */
  closed(endpoint: Endpoint): void {
    if (endpoint.state === 'gone') return;
    this.forget(endpoint, 'closed');
  }

  /**
   * One heartbeat round: drops connections silent for longer than the timeout
   * or still unjoined after the join timeout, pings the rest.
   */
  sweep(): void {
    const now = this.options.now();
    const { timeoutMs } = this.options.heartbeat;
    for (const endpoint of this.endpoints) {
      const { link } = endpoint;
      if (link.ping && now - endpoint.lastSeen > timeoutMs) {
        link.terminate();
        this.forget(endpoint, 'heartbeat');
      } else if (endpoint.state === 'connected' && now - endpoint.connectedAt > this.options.joinTimeoutMs) {
        this.drop(endpoint, CLOSE_CODES.joinTimeout, 'no rtc:join in time', 'join-timeout');
      } else link.ping?.();
    }
  }

  createPool(id: string): void {
    checkPoolId(id);
    const pool = this.pools.get(id);
    if (pool) pool.created = true;
    else this.pools.set(id, { id, members: new Map(), created: true });
  }

  /** Sends `rtc:stop` to every member, closes their connections and forgets the pool. */
  stopPool(id: string, code: CloseCode = CLOSE_CODES.poolStopped, reason = 'pool stopped'): boolean {
    const pool = this.pools.get(id);
    if (!pool) return false;
    this.pools.delete(id);
    const members = [...pool.members.values()];
    for (const member of members) {
      member.link.send('rtc:stop', {});
      member.pool = null;
      this.drop(member, code, reason, 'closed');
    }
    this.events.next({ type: 'stop', pool: id, members: members.length });
    return true;
  }

  /** Sets a joined endpoint's trusted description and tells the rest of its pool. */
  describe(clientId: string, description: JsonValue): boolean {
    const endpoint = this.byId.get(clientId);
    if (!endpoint?.pool) return false;
    endpoint.description = description;
    for (const member of endpoint.pool.members.values()) {
      if (member !== endpoint) member.link.send('rtc:describe', { id: clientId, description });
    }
    this.events.next({ type: 'describe', clientId, pool: endpoint.pool.id });
    return true;
  }

  pool(id: string): MemberInfo[] | undefined {
    const pool = this.pools.get(id);
    return (
      pool && [...pool.members.values()].map((member) => ({ id: member.id ?? '', description: member.description }))
    );
  }

  poolIds(): string[] {
    return [...this.pools.keys()];
  }

  /** Stops every pool and closes every connection (1001). */
  shutdown(): void {
    for (const id of [...this.pools.keys()]) this.stopPool(id, CLOSE_CODES.serverClosing, 'server closing');
    for (const endpoint of [...this.endpoints]) {
      this.drop(endpoint, CLOSE_CODES.serverClosing, 'server closing', 'closed');
    }
    this.events.complete();
  }

  stats(): ServerStats {
    let endpoints = 0;
    for (const pool of this.pools.values()) endpoints += pool.members.size;
    return {
      connections: this.endpoints.size,
      endpoints,
      pools: this.pools.size,
      ...this.totals,
      rejectionsByReason: { ...this.rejectionsByReason },
    };
  }

  private async join(endpoint: Endpoint, requested: string): Promise<void> {
    if (endpoint.state !== 'connected') {
      this.reject(endpoint, 'already-joined', 'this connection has already joined (or is joining) a pool');
      return;
    }
    endpoint.state = 'joining';
    let poolId: string | null | undefined = requested;
    if (this.options.resolvePool) {
      try {
        poolId = await this.options.resolvePool(requested, endpoint.info);
        if (poolId != null) checkPoolId(poolId);
      } catch (error) {
        // A throwing hook (or a bad pool id from it) refuses this join only.
        this.options.logger.log('warn', 'server', 'resolvePool failed; join refused', {
          requested,
          error: String(error),
        });
        poolId = null;
      }
    }
    if (endpoint.state !== 'joining') return; // gone while the hook ran
    endpoint.state = 'connected';
    if (poolId == null) {
      this.reject(endpoint, 'pool-refused', `pool "${requested}" refused`);
      return;
    }
    let pool = this.pools.get(poolId);
    if (!pool) {
      if (this.options.pools === 'private') {
        this.reject(endpoint, 'pool-not-found', `no pool "${poolId}"`);
        return;
      }
      pool = { id: poolId, members: new Map(), created: false };
      this.pools.set(poolId, pool);
    }
    if (pool.members.size >= this.options.maxPeersPerPool) {
      this.reject(endpoint, 'pool-full', `pool "${poolId}" has ${this.options.maxPeersPerPool} members`);
      return;
    }
    const id = randomUUID();
    const descriptions: Record<string, JsonValue> = {};
    for (const [peerId, member] of pool.members) descriptions[peerId] = member.description;
    endpoint.link.send('rtc:joined', { client_id: id, peers: [...pool.members.keys()], descriptions, pool: poolId });
    for (const member of pool.members.values()) member.link.send('rtc:peer', { id });
    endpoint.id = id;
    endpoint.pool = pool;
    endpoint.state = 'joined';
    pool.members.set(id, endpoint);
    this.byId.set(id, endpoint);
    this.totals.joins += 1;
    this.events.next({ type: 'join', clientId: id, pool: poolId, requested, identity: endpoint.info.identity });
  }

  private relay(endpoint: Endpoint, message: ClientMessageOf<'rtc:sdp' | 'rtc:candidate'>): void {
    const { pool, id: from } = endpoint;
    if (endpoint.state !== 'joined' || !pool || from === null) {
      this.reject(endpoint, 'not-joined', `${message.type} before joining a pool`);
      return;
    }
    const to = message.type === 'rtc:sdp' ? message.data.to : message.data.for;
    const target = pool.members.get(to);
    // The same answer whether `to` is in another pool or nowhere: ids are not probed.
    if (!target || target === endpoint) {
      this.reject(endpoint, 'unknown-peer', `${message.type}: no peer "${to}" in your pool`);
      return;
    }
    if (message.type === 'rtc:sdp') target.link.send('rtc:sdp', { peer: from, description: message.data.description });
    else target.link.send('rtc:candidate', { from, candidate: message.data.candidate });
    this.totals.relays += 1;
    this.events.next({ type: 'relay', event: message.type, from, to, pool: pool.id });
  }

  private reject(endpoint: Endpoint, reason: RejectionReason, message: string): void {
    endpoint.link.send('rtc:error', { message, reason });
    this.totals.rejections += 1;
    this.rejectionsByReason[reason] = (this.rejectionsByReason[reason] ?? 0) + 1;
    this.events.next({ type: 'reject', clientId: endpoint.id, reason, message });
  }

  private drop(
    endpoint: Endpoint,
    code: CloseCode,
    reason: string,
    why: 'closed' | 'join-timeout' | 'rate-limit',
  ): void {
    endpoint.link.close(code, reason);
    this.forget(endpoint, why);
  }

  /** Removes the endpoint everywhere; its pool hears `rtc:close` (with PyRTC's `uid` beside `id`). */
  private forget(endpoint: Endpoint, why: 'closed' | 'heartbeat' | 'join-timeout' | 'rate-limit'): void {
    if (endpoint.state === 'gone') return;
    endpoint.state = 'gone';
    this.endpoints.delete(endpoint);
    const { pool, id } = endpoint;
    if (id !== null) this.byId.delete(id);
    if (pool && id !== null) {
      pool.members.delete(id);
      for (const member of pool.members.values()) member.link.send('rtc:close', { id, uid: id });
      if (pool.members.size === 0 && !pool.created) this.pools.delete(pool.id);
      this.totals.leaves += 1;
      this.events.next({ type: 'leave', clientId: id, pool: pool.id });
    }
    endpoint.pool = null;
    this.events.next({ type: 'disconnect', clientId: id, why });
  }
}

function checkPoolId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > PROTOCOL_LIMITS.maxPoolLength) {
    throw new TypeError(`a pool id is a non-empty string of at most ${PROTOCOL_LIMITS.maxPoolLength} characters`);
  }
}
