/**
 * The transport-free heart of the signalling server: connections, pools,
 * relays, descriptions, limits. A transport (raw WebSocket, socket.io) opens an
 * endpoint per connection with a {@link Link}, feeds it parsed frames and says
 * when it is gone; everything the protocol promises is decided here, once.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Subject } from 'rxjs';
import type { Logger } from '../logger.js';
import {
  type ClientMessage,
  type ClientMessageOf,
  type JsonValue,
  type ParseResult,
  PROTOCOL_LIMITS,
  RESUME_REFUSED,
} from '../protocol/index.js';
import { type Awaitable, type Backplane, type JoinOutcome, MemoryBackplane, type PoolEvent } from './backplane.js';
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
  | { type: 'disconnect'; clientId: string | null; why: DisconnectWhy }
  /** A joined endpoint's connection was lost; its session is kept for `resumeWindowMs`. */
  | { type: 'detach'; clientId: string; pool: string }
  /** A kept session continues on a new connection. */
  | { type: 'resume'; clientId: string; pool: string };

type DisconnectWhy = 'closed' | 'heartbeat' | 'join-timeout' | 'rate-limit' | 'resumed-elsewhere';

/** Running totals since the server started (current counts for connections, endpoints, pools). */
export interface ServerStats {
  connections: number;
  /** Pool members served by this process, connected or kept for resumption. */
  endpoints: number;
  /** Of those, sessions without a connection, waiting to be resumed. */
  detached: number;
  /** Pools with members on this process. */
  pools: number;
  joins: number;
  leaves: number;
  resumes: number;
  relays: number;
  rejections: number;
  rejectionsByReason: Partial<Record<RejectionReason, number>>;
}

/**
 * One pool member: what outlives a connection. It counts the frames each way
 * since `rtc:joined` and keeps what it sent until the client has surely
 * received it, so a resumed session loses nothing in either direction.
 */
class Session {
  endpoint: Endpoint | null;
  description: JsonValue = null;
  /**
   * The peers this member has been told about: the only ones it may relay to.
   * An array, not a Set: a pool has a few dozen members at most, and an idle
   * server's memory is mostly these sessions.
   */
  readonly peers: string[] = [];
  /** Frames sent to this member since `rtc:joined`. */
  sent = 0;
  /** Frames received from it since `rtc:joined`. */
  received = 0;
  /** Frames sent that the client may not have; `unacked[0]` is frame number `firstUnacked`. */
  unacked: Array<{ type: string; data: Record<string, unknown> }> | undefined;
  firstUnacked = 0;
  /** The window's timer while detached. */
  expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: string,
    readonly pool: string,
    readonly token: string,
    /** The pool's sequence number in the join's snapshot: earlier events are in it. */
    readonly joinSeq: number,
    endpoint: Endpoint,
  ) {
    this.endpoint = endpoint;
  }
}

/** One connection as the hub sees it. */
export class Endpoint {
  session: Session | null = null;
  state: 'connected' | 'joining' | 'joined' | 'gone' = 'connected';
  lastSeen: number;
  readonly connectedAt: number;
  /** `session.sent` when the unanswered ping went out: its pong proves those frames arrived. */
  pingMark: number | null = null;
  /** Which heartbeat slice looks after it. */
  slice = 0;

  constructor(
    readonly link: Link,
    /** What the hooks see; its `request` is let go once joined (it holds the headers, ~1 KB). */
    public info: ConnectionInfo<unknown>,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.lastSeen = now;
    this.connectedAt = now;
  }

  get id(): string | null {
    return this.session?.id ?? null;
  }
}

/** A pool this process has members in: its local sessions, and joins waiting for the backplane. */
interface PoolView {
  id: string;
  locals: Map<string, Session>;
  /** Events seen while a join is in flight, for the joiner once it knows its snapshot. */
  pending: Set<PoolEvent[]>;
  /** Until the backplane confirms the subscription (never, for the memory backplane). */
  ready?: Promise<void> | undefined;
}

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
}

/** Stands for the upgrade request once a member has joined: only `resolvePool` reads it, before. */
const RELEASED = undefined as unknown as ConnectionInfo<unknown>['request'];

/** Unacknowledged frames past which a member is pinged before its round comes. */
export const EARLY_PING_FRAMES = 64;

/** A heartbeat round is this many sweeps, each over its share of the connections. */
export const HEARTBEAT_SLICES = 10;

/**
 * Unacknowledged frames a session keeps at least (and at most twice as many): a resume that needs
 * older ones is refused.
 */
export const MAX_UNACKED_FRAMES = 256;

export class Hub {
  readonly events = new Subject<ServerEvent>();
  readonly backplane: Backplane;
  private readonly endpoints = new Set<Endpoint>();
  private readonly sessions = new Map<string, Session>();
  private readonly views = new Map<string, PoolView>();
  private readonly totals = { joins: 0, leaves: 0, resumes: 0, relays: 0, rejections: 0 };
  private readonly rejectionsByReason: Partial<Record<RejectionReason, number>> = {};
  /** Connections opened so far, which deals them out to heartbeat slices. */
  private opened = 0;
  private slice = 0;

  constructor(private readonly options: HubOptions) {
    this.backplane = options.backplane ?? new MemoryBackplane();
  }

  open(link: Link, info: ConnectionInfo<unknown>): Endpoint {
    const now = this.options.now();
    const { perSecond, burst } = this.options.rateLimit;
    const endpoint = new Endpoint(link, info, new TokenBucket(perSecond, burst, now), now);
    endpoint.slice = this.opened++ % HEARTBEAT_SLICES;
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
    else if (message.type === 'rtc:resume') this.resume(endpoint, message.data);
    else this.relay(endpoint, message);
  }

  /** Any sign of life (a pong) that is not a message. A pong also proves what was sent before its ping arrived. */
  alive(endpoint: Endpoint): void {
    endpoint.lastSeen = this.options.now();
    if (endpoint.pingMark !== null && endpoint.session) acknowledge(endpoint.session, endpoint.pingMark);
    endpoint.pingMark = null;
  }

  /**
   * The transport lost the connection. `clean`: the client closed it on
   * purpose (a close frame, a socket.io disconnect), which is a leave; a lost
   * one keeps a joined endpoint's session for the resume window.
   */
  closed(endpoint: Endpoint, clean = true): void {
    if (endpoint.state === 'gone') return;
    if (clean) this.forget(endpoint, 'closed');
    else this.lost(endpoint, 'closed');
  }

  /**
   * One slice of a heartbeat round ({@link HEARTBEAT_SLICES} make a round,
   * one every `intervalMs / HEARTBEAT_SLICES`): for a tenth of the
   * connections, drops those silent for longer than the timeout (keeping
   * their sessions, as for any lost connection) or still unjoined after the
   * join timeout, and pings the rest. Slicing spreads the pings, and the
   * burst of pongs that answers them, over the interval instead of stalling
   * every relay once per interval. Members holding {@link EARLY_PING_FRAMES}
   * or more unacknowledged frames are pinged in every slice, so that their
   * pongs release those frames sooner.
   */
  sweep(): void {
    const now = this.options.now();
    const { timeoutMs } = this.options.heartbeat;
    const slice = this.slice;
    this.slice = (slice + 1) % HEARTBEAT_SLICES;
    for (const endpoint of this.endpoints) {
      const { link } = endpoint;
      if (endpoint.slice !== slice) {
        // A member holding many frames for a resume is pinged in every slice, not once a round: its
        // pong releases them. Quiet members wait for their round (a ping each costs a frame and a pong).
        const held = endpoint.session?.unacked?.length ?? 0;
        if (held >= EARLY_PING_FRAMES && endpoint.pingMark === null && endpoint.session && link.ping) {
          endpoint.pingMark = endpoint.session.sent;
          link.ping();
        }
        continue;
      }
      if (link.ping && now - endpoint.lastSeen > timeoutMs) {
        link.terminate();
        this.lost(endpoint, 'heartbeat');
      } else if (endpoint.state === 'connected' && now - endpoint.connectedAt > this.options.joinTimeoutMs) {
        this.drop(endpoint, CLOSE_CODES.joinTimeout, 'no rtc:join in time', 'join-timeout');
      } else if (link.ping) {
        if (endpoint.pingMark === null && endpoint.session) endpoint.pingMark = endpoint.session.sent;
        link.ping();
      }
    }
  }

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

  pool(id: string): Awaitable<MemberInfo[] | undefined> {
    return this.backplane.members(id);
  }

  poolIds(): Awaitable<string[]> {
    return this.backplane.pools();
  }

  /**
   * Closes every connection (1001). This process's members get `rtc:stop` and
   * leave their pools quietly: members served elsewhere hear `rtc:close`.
   */
  shutdown(): void {
    for (const view of [...this.views.values()]) {
      const members = [...view.locals.values()];
      for (const session of members) {
        send(session, 'rtc:stop', {});
        this.end(session, 'shutdown');
      }
      if (members.length > 0) this.events.next({ type: 'stop', pool: view.id, members: members.length });
    }
    for (const endpoint of [...this.endpoints]) {
      this.drop(endpoint, CLOSE_CODES.serverClosing, 'server closing', 'closed');
    }
    this.events.complete();
  }

  /**
   * The backplane took this process for dead (it was frozen, or cut off from
   * Redis, for longer than the presence TTL) and removed these members: their
   * peers were told they left. Their connections are closed (4002) so that
   * the clients join again.
   */
  evicted(ids: readonly string[]): void {
    for (const id of ids) {
      const session = this.sessions.get(id);
      if (session) this.end(session, 'evicted');
    }
  }

  stats(): ServerStats {
    let detached = 0;
    for (const session of this.sessions.values()) if (!session.endpoint) detached += 1;
    return {
      connections: this.endpoints.size,
      endpoints: this.sessions.size,
      detached,
      pools: this.views.size,
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
      if (endpoint.state !== 'joining') return; // gone while the hook ran
    }
    if (poolId == null) {
      endpoint.state = 'connected';
      this.reject(endpoint, 'pool-refused', `pool "${requested}" refused`);
      return;
    }
    const id = randomUUID();
    const view = this.views.get(poolId) ?? this.view(poolId);
    const seen: PoolEvent[] = [];
    view.pending.add(seen);
    let outcome: JoinOutcome | undefined;
    try {
      const listening = view.ready;
      if (listening) await listening;
      const joined = this.backplane.join({
        pool: poolId,
        id,
        maxPeers: this.options.maxPeersPerPool,
        mustExist: this.options.pools === 'private',
      });
      outcome = joined instanceof Promise ? await joined : joined;
    } catch (error) {
      this.failed('join', error);
    } finally {
      view.pending.delete(seen);
    }
    if (endpoint.state !== 'joining') {
      // Gone while the backplane worked: undo a join that went through.
      if (outcome?.ok) this.backplane.leave(poolId, id);
      this.release(view);
      return;
    }
    endpoint.state = 'connected';
    if (!outcome?.ok) {
      this.release(view);
      if (outcome?.reason === 'pool-full') {
        this.reject(endpoint, 'pool-full', `pool "${poolId}" has ${this.options.maxPeersPerPool} members`);
      } else if (outcome) this.reject(endpoint, 'pool-not-found', `no pool "${poolId}"`);
      else this.reject(endpoint, 'pool-refused', `pool "${poolId}" is unavailable now`);
      return;
    }
    const window = this.options.resumeWindowMs;
    const token = window > 0 ? randomBytes(24).toString('base64url') : '';
    const session = new Session(id, poolId, token, outcome.seq, endpoint);
    const descriptions: Record<string, JsonValue> = {};
    for (const member of outcome.members) {
      session.peers.push(member.id);
      descriptions[member.id] = member.description;
    }
    const joined: Record<string, unknown> = {
      client_id: id,
      peers: outcome.members.map((member) => member.id),
      descriptions,
      pool: poolId,
    };
    if (window > 0) joined.resume = { token, window_ms: window };
    endpoint.link.send('rtc:joined', joined);
    endpoint.info = { ...endpoint.info, request: RELEASED };
    endpoint.session = session;
    endpoint.state = 'joined';
    view.locals.set(id, session);
    this.sessions.set(id, session);
    this.totals.joins += 1;
    this.events.next({ type: 'join', clientId: id, pool: poolId, requested, identity: endpoint.info.identity });
    // What happened while the backplane answered (a shared one delivers events and replies apart).
    for (const event of seen) {
      if (event.kind === 'relay') {
        if (event.to === id) send(session, event.type, event.data);
      } else if (event.kind === 'stop' && event.seq > session.joinSeq) {
        send(session, 'rtc:stop', {});
        this.end(session, 'stopped');
        return;
      } else this.tell(session, event);
    }
  }

  /** Takes a kept session over on this connection, or refuses (one reason for every failure). */
  private resume(endpoint: Endpoint, request: { id: string; token: string; received: number }): void {
    if (endpoint.state !== 'connected') {
      this.reject(endpoint, 'already-joined', 'this connection has already joined (or is joining) a pool');
      return;
    }
    const session = this.sessions.get(request.id);
    if (!session || !sameSecret(session.token, request.token)) {
      this.reject(endpoint, RESUME_REFUSED, 'no such session to resume (expired, unknown, or not yours)');
      return;
    }
    const replay = session.unacked ?? [];
    const from = request.received - session.firstUnacked;
    if (request.received > session.sent || from < 0) {
      // The client lost frames nobody holds any more: resuming would hide the gap.
      this.end(session, 'left');
      this.reject(endpoint, RESUME_REFUSED, 'the frames missed since are no longer held; join again');
      return;
    }
    const previous = session.endpoint;
    if (previous) {
      previous.session = null;
      this.drop(previous, CLOSE_CODES.resumedElsewhere, 'session resumed on another connection', 'resumed-elsewhere');
    }
    clearTimeout(session.expiry);
    session.expiry = undefined;
    session.endpoint = endpoint;
    endpoint.session = session;
    endpoint.state = 'joined';
    endpoint.link.send('rtc:resumed', { client_id: session.id, received: session.received });
    for (let i = from; i < replay.length; i++) {
      const frame = replay[i];
      if (frame) endpoint.link.send(frame.type, frame.data);
    }
    this.totals.resumes += 1;
    this.events.next({ type: 'resume', clientId: session.id, pool: session.pool });
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
    );
    this.totals.relays += 1;
    // The hot path: no event object when nobody listens.
    if (this.events.observed) this.events.next({ type: 'relay', event: message.type, from, to, pool: session.pool });
  }

  /** A view of pool `id`, listening to its events (in `ready` until the backplane confirms). */
  private view(id: string): PoolView {
    const view: PoolView = { id, locals: new Map(), pending: new Set() };
    this.views.set(id, view);
    const listening = this.backplane.listen(id, (event) => this.hear(view, event));
    if (listening instanceof Promise) {
      view.ready = listening.then(() => {
        view.ready = undefined;
      });
    }
    return view;
  }

  /** Stops listening to a pool nobody here is in or joining. */
  private release(view: PoolView): void {
    if (view.locals.size > 0 || view.pending.size > 0 || this.views.get(view.id) !== view) return;
    this.views.delete(view.id);
    this.backplane.unlisten(view.id);
  }

  /** One event of a pool this process serves. */
  private hear(view: PoolView, event: PoolEvent): void {
    for (const seen of view.pending) seen.push(event);
    if (event.kind === 'relay') {
      const target = view.locals.get(event.to);
      if (target) send(target, event.type, event.data);
      return;
    }
    if (event.kind === 'stop') {
      const members = [...view.locals.values()];
      for (const session of members) {
        send(session, 'rtc:stop', {});
        this.end(session, 'stopped');
      }
      this.events.next({ type: 'stop', pool: view.id, members: members.length });
      return;
    }
    for (const session of view.locals.values()) this.tell(session, event);
  }

  /** A membership event as one member sees it: only news it has not had. */
  private tell(session: Session, event: PoolEvent): void {
    if (event.kind === 'relay' || event.kind === 'stop' || event.seq <= session.joinSeq || event.id === session.id) {
      return;
    }
    if (event.kind === 'peer') {
      if (session.peers.includes(event.id)) return;
      session.peers.push(event.id);
      send(session, 'rtc:peer', { id: event.id });
    } else if (event.kind === 'close') {
      const at = session.peers.indexOf(event.id);
      if (at === -1) return;
      session.peers.splice(at, 1);
      send(session, 'rtc:close', { id: event.id, uid: event.id });
    } else if (session.peers.includes(event.id)) {
      send(session, 'rtc:describe', { id: event.id, description: event.description });
    }
  }

  private reject(endpoint: Endpoint, reason: RejectionReason, message: string): void {
    if (endpoint.session) send(endpoint.session, 'rtc:error', { message, reason });
    else endpoint.link.send('rtc:error', { message, reason });
    this.totals.rejections += 1;
    this.rejectionsByReason[reason] = (this.rejectionsByReason[reason] ?? 0) + 1;
    this.events.next({ type: 'reject', clientId: endpoint.id, reason, message });
  }

  private drop(endpoint: Endpoint, code: CloseCode, reason: string, why: DisconnectWhy): void {
    endpoint.link.close(code, reason);
    this.forget(endpoint, why);
  }

  /** The connection is gone; so is its session (a leave). */
  private forget(endpoint: Endpoint, why: DisconnectWhy): void {
    if (endpoint.state === 'gone') return;
    const id = endpoint.id;
    this.unplug(endpoint);
    if (endpoint.session) this.end(endpoint.session, 'left');
    endpoint.session = null;
    this.events.next({ type: 'disconnect', clientId: id, why });
  }

  /** The connection was lost: its session (if any, and if resumption is on) waits for a resume until the window closes. */
  private lost(endpoint: Endpoint, why: DisconnectWhy): void {
    const session = endpoint.session;
    if (!session || this.options.resumeWindowMs <= 0) {
      this.forget(endpoint, why);
      return;
    }
    this.unplug(endpoint);
    session.endpoint = null;
    session.expiry = setTimeout(() => this.end(session, 'left'), this.options.resumeWindowMs);
    session.expiry.unref?.();
    this.events.next({ type: 'detach', clientId: session.id, pool: session.pool });
    this.events.next({ type: 'disconnect', clientId: session.id, why });
  }

  private unplug(endpoint: Endpoint): void {
    endpoint.state = 'gone';
    endpoint.pingMark = null;
    this.endpoints.delete(endpoint);
  }

  /**
   * Ends a session. `left`: it leaves its pool (the others hear `rtc:close`,
   * with PyRTC's `uid` beside `id`); `stopped`: the pool is gone already;
   * `shutdown`: this process is closing, and leaves without counting it;
   * `evicted`: the backplane has removed it already.
   * A connection still attached is closed (4000 stopped, 1001 shutdown, 4002 evicted).
   */
  private end(session: Session, how: 'left' | 'stopped' | 'shutdown' | 'evicted'): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    clearTimeout(session.expiry);
    const view = this.views.get(session.pool);
    view?.locals.delete(session.id);
    if (how === 'left' || how === 'shutdown') this.backplane.leave(session.pool, session.id);
    if (how === 'left') {
      this.totals.leaves += 1;
      this.events.next({ type: 'leave', clientId: session.id, pool: session.pool });
    }
    if (view) this.release(view);
    const endpoint = session.endpoint;
    session.endpoint = null;
    if (endpoint && endpoint.state !== 'gone' && how !== 'left') {
      if (how === 'stopped') this.drop(endpoint, CLOSE_CODES.poolStopped, 'pool stopped', 'closed');
      else if (how === 'evicted')
        this.drop(endpoint, CLOSE_CODES.evicted, 'this server lost its place in the pool', 'closed');
      else this.drop(endpoint, CLOSE_CODES.serverClosing, 'server closing', 'closed');
    }
    if (endpoint) endpoint.session = null;
  }

  private failed(what: string, error: unknown): void {
    this.options.logger.log('error', 'server', `backplane ${what} failed`, { error: String(error) });
  }
}

/** Sends one frame to a member: counted and kept until acknowledged, so a resume can send it again. */
function send(session: Session, type: string, data: Record<string, unknown>): void {
  session.sent += 1;
  if (session.token) {
    session.unacked ??= [];
    const unacked = session.unacked;
    unacked.push({ type, data });
    // Trimmed in batches, not a shift() per frame: a busy session between two pongs sends hundreds.
    if (unacked.length >= 2 * MAX_UNACKED_FRAMES) {
      unacked.splice(0, MAX_UNACKED_FRAMES);
      session.firstUnacked += MAX_UNACKED_FRAMES;
    }
  }
  session.endpoint?.link.send(type, data);
}

/** The client has every frame before number `sent`: they need not be kept. */
function acknowledge(session: Session, sent: number): void {
  const unacked = session.unacked;
  if (!unacked) return;
  const drop = Math.min(sent - session.firstUnacked, unacked.length);
  if (drop <= 0) return;
  unacked.splice(0, drop);
  session.firstUnacked += drop;
  if (unacked.length === 0) session.unacked = undefined;
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return expected.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

function checkPoolId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > PROTOCOL_LIMITS.maxPoolLength) {
    throw new TypeError(`a pool id is a non-empty string of at most ${PROTOCOL_LIMITS.maxPoolLength} characters`);
  }
}
