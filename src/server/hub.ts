/**
 * The transport-free heart of the signalling server: connections, pools, relays, descriptions, limits. A transport
 * (raw WebSocket, socket.io) opens an endpoint per connection with a {@link Link}, feeds it parsed frames and says
 * when it is gone; everything the protocol promises is decided here, once. This file receives, joins and relays;
 * sessions.ts has endpoints, sessions and their resume buffers, adoption.ts resumes (here or from another process),
 * liveness.ts the server's heartbeat and the join timeout, pool-views.ts what this process hears of its pools.
 *
 * Things end in two ways, one operation each:
 * - {@link Hub.disconnect}: a connection goes away, whoever decided so (the transport saw it close, the heartbeat or
 *   the rate limit gave up on it, its session moved to another, the server shuts down). Its {@link Departure} says
 *   whether the session waits for a resume or ends (a leave), and whether and how the hub closes the connection.
 * - `end(session, how)`: a session ends, whatever its connection does: it left (its window ran out, or a resume
 *   found a gap), its pool was stopped, the server shuts down, the backplane evicted it, or another process took it
 *   over. A connection still attached is closed through `disconnect`.
 */
import { randomUUID } from 'node:crypto';
import { Subject } from 'rxjs';
import type { ClientMessage, ClientMessageOf, JsonValue, ParseResult } from '../protocol/index.js';
import { type ResumeHost, resume } from './adoption.js';
import { MemoryBackplane } from './backplane/memory.js';
import type { Awaitable, Backplane, JoinOutcome } from './backplane/types.js';
import type { ServerEvent, ServerStats } from './events.js';
import { Liveness } from './liveness.js';
import type { ConnectionInfo, HubOptions, MemberInfo } from './options.js';
import { checkPoolId, resolvePoolId } from './pool-ids.js';
import { PoolViews } from './pool-views.js';
import { TokenBucket } from './rate.js';
import { CLOSE_CODES, type RejectionReason } from './reasons.js';
import {
  acknowledge,
  closing,
  type Departure,
  Endpoint,
  type Link,
  newToken,
  type Session,
  startSession,
  takeOver,
  tokenHash,
} from './sessions.js';

type Ending = 'left' | 'stopped' | 'shutdown' | 'evicted' | 'moved';

/** How each way of ending a session closes a connection still attached. */
const ENDED: Record<Exclude<Ending, 'left'>, Departure> = {
  stopped: closing('closed', CLOSE_CODES.poolStopped, 'pool stopped'),
  shutdown: closing('closed', CLOSE_CODES.serverClosing, 'server closing'),
  evicted: closing('closed', CLOSE_CODES.evicted, 'this server lost its place in the pool'),
  moved: closing('resumed-elsewhere', CLOSE_CODES.resumedElsewhere, 'session resumed on another connection'),
};
const ABUSIVE = closing('rate-limit', CLOSE_CODES.rateLimited, 'rate limit exceeded');

/** The server without its transports: see the file's comment. */
export class Hub {
  readonly events = new Subject<ServerEvent>();
  readonly backplane: Backplane;
  private readonly endpoints = new Set<Endpoint>();
  private readonly sessions = new Map<string, Session>();
  private readonly views: PoolViews;
  private readonly liveness: Liveness;
  private readonly totals = { joins: 0, leaves: 0, resumes: 0, relays: 0, rejections: 0 };
  private readonly rejectionsByReason: Partial<Record<RejectionReason, number>> = {};

  /** What resuming a session (adoption.ts) does through the hub. */
  private readonly resuming: ResumeHost;

  constructor(private readonly options: HubOptions) {
    this.backplane = options.backplane ?? new MemoryBackplane();
    this.views = new PoolViews(this.backplane, {
      end: (session, how) => this.end(session, how),
      stopped: (pool, members) => this.events.next({ type: 'stop', pool, members }),
      moved: (session) => this.end(session, 'moved'),
    });
    this.liveness = new Liveness(options, this);
    this.resuming = {
      sessions: this.sessions,
      store: options.resumeWindowMs > 0 ? this.backplane.sessions : undefined,
      views: this.views,
      reject: (endpoint, reason, message) => this.reject(endpoint, reason, message),
      end: (session) => this.end(session, 'left'),
      detach: (session) => this.detach(session),
      resumed: (session, endpoint, replay, previous) => {
        if (previous) this.disconnect(previous, ENDED.moved);
        takeOver(session, endpoint, replay, this.options.iceServers);
        this.totals.resumes += 1;
        this.events.next({ type: 'resume', clientId: session.id, pool: session.pool });
      },
      failed: (error) => this.failed('resume', error),
    };
  }

  /** A transport has accepted a connection: the endpoint to pass back with everything it reports of it. */
  open(link: Link, info: ConnectionInfo<unknown>): Endpoint {
    const now = this.options.now();
    const endpoint = new Endpoint(link, info, new TokenBucket(this.options.rateLimit, now), now);
    this.liveness.enrol(endpoint);
    this.endpoints.add(endpoint);
    this.events.next({ type: 'connect', transport: info.transport });
    return endpoint;
  }

  /** A frame arrived: counted, rate-limited (parsing costs), then parsed by `parse` and handled. */
  receive(endpoint: Endpoint, parse: () => ParseResult<ClientMessage>): void {
    if (endpoint.state === 'gone') return;
    if (endpoint.session) endpoint.session.received += 1;
    const now = this.options.now();
    endpoint.lastSeen = now;
    const verdict = endpoint.bucket.take(now);
    if (verdict === 'abuse') {
      this.disconnect(endpoint, ABUSIVE);
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
    else if (message.type === 'rtc:resume') resume(this.resuming, endpoint, message.data);
    else if (message.type === 'rtc:ping') {
      const { received } = message.data;
      if (received !== undefined && endpoint.session) this.acknowledged(endpoint.session, received);
      endpoint.link.send('rtc:pong', {});
    } else this.relay(endpoint, message);
  }

  /** Any sign of life (a pong) that is not a message. A pong also proves what was sent before its ping arrived. */
  alive(endpoint: Endpoint): void {
    this.liveness.alive(endpoint);
  }

  /**
   * An endpoint goes away (a no-op if it has already): the transports call it when the connection closed, the hub
   * when it gives up on one. The first call decides: the endpoint is gone before the hub closes the connection, so a
   * transport that reports that close back at once (socket.io does, as a server-side disconnect) changes nothing,
   * and a member cut off for abuse cannot keep its session by way of the echo. Then the session, if any, either
   * waits `resumeWindowMs` for a resume (`keepSession`, with resumption on; the pool hears nothing) or ends: a
   * leave, which its pool hears as `rtc:close`.
   */
  disconnect(endpoint: Endpoint, departure: Departure): void {
    if (endpoint.state === 'gone') return;
    const { close, why } = departure;
    const session = endpoint.session;
    endpoint.state = 'gone';
    endpoint.pingMark = null;
    this.endpoints.delete(endpoint);
    if (close === 'terminate') endpoint.link.terminate();
    else if (close !== undefined) endpoint.link.close(close.code, close.reason);
    if (session && departure.keepSession && this.options.resumeWindowMs > 0) {
      this.detach(session);
      this.events.next({ type: 'disconnect', clientId: session.id, why });
      return;
    }
    if (session) this.end(session, 'left');
    endpoint.session = null;
    this.events.next({ type: 'disconnect', clientId: session?.id ?? null, why });
  }

  /** The client has its session's frames up to number `sent`: they are let go, and a kept session checkpointed. */
  acknowledged(session: Session, sent: number): void {
    const checkpoint = acknowledge(session, sent, this.options.now(), this.views.lastOf(session.pool));
    if (checkpoint) this.backplane.sessions?.checkpoint(session.id, session.gen, checkpoint);
  }

  /** A session without a connection waits `resumeWindowMs` for a resume, then leaves. */
  private detach(session: Session): void {
    session.endpoint = null;
    session.expiry = setTimeout(() => this.end(session, 'left'), this.options.resumeWindowMs);
    session.expiry.unref?.();
    this.events.next({ type: 'detach', clientId: session.id, pool: session.pool });
  }

  /** Pauses or resumes reading every connection: see {@link Liveness.hold}. */
  hold(on: boolean): void {
    this.liveness.hold(this.endpoints, on);
  }

  /** One slice of a heartbeat round: see {@link Liveness.sweep}. */
  sweep(): void {
    this.liveness.sweep(this.endpoints);
  }

  /** Makes a pool that lives until stopped; throws a TypeError for an invalid id. */
  createPool(id: string): Awaitable<void> {
    checkPoolId(id);
    return this.backplane.createPool(id);
  }

  /** Sends `rtc:stop` to every member, closes their connections and forgets the pool. */
  stopPool(id: string): Awaitable<boolean> {
    return this.backplane.stopPool(id);
  }

  /** Sets a member's trusted description and tells the rest of its pool; false unless it is a member served here. */
  describe(clientId: string, description: JsonValue): boolean {
    const session = this.sessions.get(clientId);
    if (!session) return false;
    session.description = description;
    const done = this.backplane.describe(session.pool, clientId, description);
    if (done instanceof Promise) done.catch((error) => this.failed('describe', error));
    this.events.next({ type: 'describe', clientId, pool: session.pool });
    return true;
  }

  /** A pool's members (on every process sharing it), or undefined. */
  pool(id: string): Awaitable<MemberInfo[] | undefined> {
    return this.backplane.members(id);
  }

  /** @returns the ids of the pools that exist now. */
  poolIds(): Awaitable<string[]> {
    return this.backplane.pools();
  }

  /**
   * Closes every connection (1001). This process's members get `rtc:stop` and
   * leave their pools quietly: members served elsewhere hear `rtc:close`.
   */
  shutdown(): void {
    for (const view of this.views.all()) {
      const members = this.views.stop(view, 'shutdown');
      if (members > 0) this.events.next({ type: 'stop', pool: view.id, members });
    }
    for (const endpoint of [...this.endpoints]) this.disconnect(endpoint, ENDED.shutdown);
    this.events.complete();
  }

  /**
   * The backplane took this process for dead (it was frozen, or cut off from Redis, for longer than the presence TTL)
   * and these members are no longer its own: another process took the session over (`moved`: closed with 4001, the
   * client is elsewhere), or it was removed and its peers told it left (closed with 4002: the client joins again).
   */
  evicted(members: ReadonlyArray<{ id: string; why: 'moved' | 'gone' }>): void {
    for (const { id, why } of members) {
      const session = this.sessions.get(id);
      if (session) this.end(session, why === 'moved' ? 'moved' : 'evicted');
    }
  }

  /** Counters since start, and the current counts. */
  stats(): ServerStats {
    let detached = 0;
    for (const session of this.sessions.values()) if (!session.endpoint) detached += 1;
    return {
      connections: this.endpoints.size,
      endpoints: this.sessions.size,
      detached,
      pools: this.views.size,
      ...this.totals,
      ...this.liveness.paused,
      rejectionsByReason: { ...this.rejectionsByReason },
    };
  }

  private async join(endpoint: Endpoint, requested: string): Promise<void> {
    if (endpoint.state !== 'connected') {
      this.reject(endpoint, 'already-joined', 'this connection has already joined (or is joining) a pool');
      return;
    }
    endpoint.state = 'joining';
    let poolId: string | null = requested;
    if (this.options.resolvePool) {
      poolId = await resolvePoolId(this.options.resolvePool, requested, endpoint.info(), this.options.logger);
      if (endpoint.state !== 'joining') return; // gone while the hook ran
    }
    if (poolId == null) {
      endpoint.state = 'connected';
      this.reject(endpoint, 'pool-refused', `pool "${requested}" refused`);
      return;
    }
    const id = randomUUID();
    const view = this.views.watch(poolId);
    const seen = this.views.joining(view);
    const windowMs = this.options.resumeWindowMs;
    const token = newToken(windowMs);
    let outcome: JoinOutcome | undefined;
    try {
      const listening = view.ready;
      if (listening) await listening;
      const joined = this.backplane.join({
        pool: poolId,
        id,
        maxPeers: this.options.maxPeersPerPool,
        mustExist: this.options.pools === 'private',
        ...(this.backplane.sessions && { session: { tokenHash: token && tokenHash(token), windowMs } }),
      });
      outcome = joined instanceof Promise ? await joined : joined;
    } catch (error) {
      this.failed('join', error);
    } finally {
      this.views.settled(view, seen);
    }
    if (endpoint.state !== 'joining') {
      // Gone while the backplane worked: undo a join that went through.
      if (outcome?.ok) this.backplane.leave(poolId, id);
      this.views.release(view);
      return;
    }
    endpoint.state = 'connected';
    if (!outcome?.ok) {
      this.views.release(view);
      if (outcome?.reason === 'pool-full') {
        this.reject(endpoint, 'pool-full', `pool "${poolId}" has ${this.options.maxPeersPerPool} members`);
      } else if (outcome) this.reject(endpoint, 'pool-not-found', `no pool "${poolId}"`);
      else this.reject(endpoint, 'pool-refused', `pool "${poolId}" is unavailable now`);
      return;
    }
    const session = startSession(endpoint, id, poolId, outcome, token, this.options);
    this.views.admit(view, session);
    this.sessions.set(id, session);
    this.totals.joins += 1;
    this.events.next({ type: 'join', clientId: id, pool: poolId, requested, identity: endpoint.identity });
    this.views.catchUp(session, seen);
  }

  private relay(endpoint: Endpoint, message: ClientMessageOf<'rtc:sdp' | 'rtc:candidate'>): void {
    const session = endpoint.session;
    if (endpoint.state !== 'joined' || !session) {
      this.reject(endpoint, 'not-joined', `${message.type} before joining a pool`);
      return;
    }
    const to = message.type === 'rtc:sdp' ? message.data.to : message.data.for;
    // The same answer whether `to` is in another pool or nowhere: ids are not probed.
    if (!session.peers.includes(to)) {
      this.reject(endpoint, 'unknown-peer', `${message.type}: no peer "${to}" in your pool`);
      return;
    }
    const from = session.id;
    this.backplane.relay(
      session.pool,
      message.type === 'rtc:sdp'
        ? { kind: 'relay', to, type: 'rtc:sdp', data: { peer: from, description: message.data.description } }
        : { kind: 'relay', to, type: 'rtc:candidate', data: { from, candidate: message.data.candidate } },
      session.gen > 0 ? { id: from, gen: session.gen, n: session.received } : undefined,
    );
    this.totals.relays += 1;
    // The hot path: no event object when nobody listens.
    if (this.events.observed) this.events.next({ type: 'relay', event: message.type, from, to, pool: session.pool });
  }

  /** Refuses what a connection sent: `rtc:error` answers the connection (not counted, not held for a resume). */
  private reject(endpoint: Endpoint, reason: RejectionReason, message: string): void {
    endpoint.link.send('rtc:error', { message, reason });
    this.totals.rejections += 1;
    this.rejectionsByReason[reason] = (this.rejectionsByReason[reason] ?? 0) + 1;
    this.events.next({ type: 'reject', clientId: endpoint.id, reason, message });
  }

  /**
   * Ends a session (once). `left`: it leaves its pool (the others hear
   * `rtc:close`, with PyRTC's `uid` beside `id`); `stopped`: the pool is gone
   * already; `shutdown`: this process is closing, and leaves without counting
   * it; `evicted`: the backplane has removed it already. Then an attached
   * connection is closed (4000, 1001, 4002), except after `left`: it is going
   * already, or it is the old one of a resume refused for a gap, left open.
   */
  private end(session: Session, how: Ending): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    clearTimeout(session.expiry);
    const view = this.views.remove(session);
    if (how === 'left' || how === 'shutdown') this.backplane.leave(session.pool, session.id, session.gen);
    if (how === 'left') {
      this.totals.leaves += 1;
      this.events.next({ type: 'leave', clientId: session.id, pool: session.pool });
    }
    if (view) this.views.release(view);
    const endpoint = session.endpoint;
    session.endpoint = null;
    if (!endpoint) return;
    if (how !== 'left') this.disconnect(endpoint, ENDED[how]);
    endpoint.session = null;
  }

  private failed(what: string, error: unknown): void {
    this.options.logger.log('error', 'server', `backplane ${what} failed`, { error: String(error) });
  }
}
