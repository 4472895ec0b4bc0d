/**
 * A connection and the pool membership it carries. An {@link Endpoint} is one
 * connection; a {@link Session} is one pool member, which outlives a lost
 * connection for the resume window and may go on over another. They point at
 * each other, which is why they share a file (two would import each other).
 *
 * A session counts the frames each way since `rtc:joined` and holds what it
 * sent until the client has surely received it, so that a resume loses
 * nothing in either direction: {@link send} holds, {@link acknowledge} lets
 * go, {@link replayFrom} and {@link takeOver} are the resume handshake
 * ({@link startSession} the join's).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { JsonValue } from '../protocol/index.js';
import type { Checkpoint, MemberRecord } from './backplane/types.js';
import type { DisconnectWhy } from './events.js';
import type { IceServerMinter } from './ice-servers.js';
import type { ConnectionInfo } from './options.js';
import type { TokenBucket } from './rate.js';
import type { CloseCode } from './reasons.js';

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
  /** Stops reading the connection's frames until `resume` (backpressure); absent where the transport cannot. */
  pause?(): void;
  resume?(): void;
}

/** How an endpoint goes away: what `Hub.disconnect` does with its session and its connection. */
export interface Departure {
  why: DisconnectWhy;
  /**
   * True when the connection was lost rather than closed on purpose: a joined
   * endpoint's session then waits out the resume window (when resumption is
   * on). False: the session ends at once, a leave.
   */
  keepSession: boolean;
  /**
   * What the hub does to the connection: close it with a code, cut it at once
   * (`terminate`: it stopped answering), or nothing (absent: the transport
   * reported it closed).
   */
  close?: { code: CloseCode; reason: string } | 'terminate';
}

/** The departure of a connection the hub gives up on: closed with `code`, its session ended. */
export function closing(why: DisconnectWhy, code: CloseCode, reason: string): Departure {
  return { why, keepSession: false, close: { code, reason } };
}

/** A frame held for a resume; `at`: the pool event it came from, where the backplane keeps a log. */
interface HeldFrame {
  type: string;
  data: Record<string, unknown>;
  at: string | undefined;
}

/**
 * Unacknowledged frames a session keeps at least (and at most twice as many): a resume that needs
 * older ones is refused.
 */
export const MAX_UNACKED_FRAMES = 256;

/**
 * The least time between two checkpoints of one session (written when its client acknowledges frames: a busy one
 * every second, a quiet one every server heartbeat). A checkpoint is at most this plus a heartbeat (10 s) old,
 * which with the resume window (15 s) stays well within the pool log's retention (60 s by default).
 */
export const CHECKPOINT_EVERY_MS = 15_000;

/** One pool member: what outlives a connection. */
export class Session {
  endpoint: Endpoint | null;
  description: JsonValue = null;
  /**
   * The peers this member has been told about: the only ones it may relay to.
   * An array, not a Set: a pool has a few dozen members at most, and an idle
   * server's memory is mostly these sessions. Replaced, never grown in place:
   * a pushed array reserves room for 16 more ids (about 130 bytes per member).
   */
  peers: readonly string[] = [];
  /** Frames sent to this member since `rtc:joined`. */
  sent = 0;
  /** Frames received from it since `rtc:joined`. */
  received = 0;
  /** Frames sent that the client may not have; `unacked[0]` is frame number `firstUnacked`. */
  unacked: HeldFrame[] | undefined;
  firstUnacked = 0;
  /** The window's timer while detached. */
  expiry: ReturnType<typeof setTimeout> | undefined;
  /** Which holder of the session this process is, where sessions outlive processes (0: they do not). */
  gen = 0;
  /** When its checkpoint was last written (the hub's clock), where sessions outlive processes; first one at once. */
  checkpointed = -CHECKPOINT_EVERY_MS;

  constructor(
    readonly id: string,
    readonly pool: string,
    /** What a resume must present; empty when resumption is off, which also means no frame is held. */
    readonly token: string,
    /** The pool's sequence number in the join's snapshot: earlier events are in it. */
    readonly joinSeq: number,
    endpoint: Endpoint | null,
  ) {
    this.endpoint = endpoint;
  }
}

/** One connection as the hub sees it. */
export class Endpoint {
  session: Session | null = null;
  state: 'connected' | 'joining' | 'joined' | 'gone' = 'connected';
  lastSeen: number;
  connectedAt: number;
  /** `session.sent` when the unanswered ping went out: its pong proves those frames arrived. */
  pingMark: number | null = null;
  /** Which heartbeat slice looks after it. */
  slice = 0;
  /**
   * The request that opened the connection, for `resolvePool` alone: let go
   * once joined, as it holds the headers (about 1 KB per connection).
   */
  request: IncomingMessage | undefined;
  readonly identity: unknown;
  readonly transport: ConnectionInfo<unknown>['transport'];

  constructor(
    readonly link: Link,
    info: ConnectionInfo<unknown>,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.request = info.request;
    this.identity = info.identity;
    this.transport = info.transport;
    this.lastSeen = now;
    this.connectedAt = now;
  }

  get id(): string | null {
    return this.session?.id ?? null;
  }

  /**
   * What `resolvePool` sees, made when it is called rather than kept: only an
   * endpoint that has not joined yet still has its request.
   */
  info(): ConnectionInfo<unknown> {
    const { request } = this;
    if (request === undefined) throw new Error('the connection has joined already: its request is let go');
    return { identity: this.identity, request, transport: this.transport };
  }
}

/** A new session's token: empty when sessions do not outlive connections (`resumeWindowMs` 0). */
export function newToken(windowMs: number): string {
  return windowMs > 0 ? randomBytes(24).toString('base64url') : '';
}

/**
 * Starts the session of a member the backplane has admitted (`snapshot`: the
 * pool as it was before) on `endpoint`, and tells the client: `rtc:joined`,
 * with a token to resume it by when sessions outlive connections
 * (`resumeWindowMs`), and its ICE servers when the server hands some out.
 * `rtc:joined` is never held for a resume: the credentials in it live on
 * the wire only.
 */
export function startSession(
  endpoint: Endpoint,
  id: string,
  pool: string,
  snapshot: { seq: number; members: MemberRecord[]; gen?: number | undefined },
  token: string,
  options: { resumeWindowMs: number; iceServers?: IceServerMinter | undefined },
): Session {
  const windowMs = options.resumeWindowMs;
  const session = new Session(id, pool, token, snapshot.seq, endpoint);
  session.gen = snapshot.gen ?? 0;
  const descriptions: Record<string, JsonValue> = {};
  for (const member of snapshot.members) descriptions[member.id] = member.description;
  session.peers = snapshot.members.map((member) => member.id);
  const joined: Record<string, unknown> = {
    client_id: id,
    peers: snapshot.members.map((member) => member.id),
    descriptions,
    pool,
  };
  if (windowMs > 0) joined.resume = { token, window_ms: windowMs };
  joined.answers_ping = true;
  if (options.iceServers) joined.ice_servers = options.iceServers(id);
  endpoint.link.send('rtc:joined', joined);
  endpoint.request = undefined;
  endpoint.session = session;
  endpoint.state = 'joined';
  return session;
}

/**
 * Sends one frame to a member (from pool event `at`, where the backplane keeps a log): counted and held until
 * acknowledged, so a resume can send it again.
 */
export function send(session: Session, type: string, data: Record<string, unknown>, at?: string): void {
  session.sent += 1;
  if (session.token) {
    session.unacked ??= [];
    const unacked = session.unacked;
    unacked.push({ type, data, at });
    // Trimmed in batches, not a shift() per frame: a busy session between two pongs sends hundreds.
    if (unacked.length >= 2 * MAX_UNACKED_FRAMES) {
      unacked.splice(0, MAX_UNACKED_FRAMES);
      session.firstUnacked += MAX_UNACKED_FRAMES;
    }
  }
  session.endpoint?.link.send(type, data);
}

/**
 * The client has every frame up to number `sent` (at the hub's time `now`): they need not be held. Returns where
 * the session then stands, when it is kept beyond this process (`gen`), its last checkpoint is
 * {@link CHECKPOINT_EVERY_MS} old, and the place can be named in the pool's log: the entry of the last frame
 * acknowledged, or, when the client has everything, `logEnd` (the last entry this process heard of the pool, so that
 * a quiet member's checkpoint keeps up with its pool's log even when it gets no frames).
 */
export function acknowledge(session: Session, sent: number, now: number, logEnd?: string): Checkpoint | undefined {
  if (sent > session.sent) return undefined;
  const unacked = session.unacked;
  const drop = unacked ? Math.min(sent - session.firstUnacked, unacked.length) : 0;
  const all = sent === session.sent;
  const at = all ? (logEnd ?? unacked?.[drop - 1]?.at) : drop > 0 ? unacked?.[drop - 1]?.at : undefined;
  let checkpoint: Checkpoint | undefined;
  if (session.gen > 0 && at !== undefined && now - session.checkpointed >= CHECKPOINT_EVERY_MS) {
    session.checkpointed = now;
    checkpoint = { sent, at, received: session.received, peers: peersBefore(session, drop) };
  }
  if (unacked && drop > 0) {
    unacked.splice(0, drop);
    session.firstUnacked += drop;
    if (unacked.length === 0) session.unacked = undefined;
  }
  return checkpoint;
}

/** The peers the member had been told of when it had the first `count` held frames: the later ones undone. */
function peersBefore(session: Session, count: number): readonly string[] {
  const unacked = session.unacked ?? [];
  let peers = session.peers;
  for (let i = unacked.length - 1; i >= count; i--) {
    const frame = unacked[i] as HeldFrame;
    const id = frame.data.id as string;
    if (frame.type === 'rtc:peer') peers = peers.filter((peer) => peer !== id);
    else if (frame.type === 'rtc:close') peers = [...peers, id];
  }
  return peers;
}

/** The hash a session's token is kept as where sessions outlive processes: a stolen copy of the store resumes none. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` is the session's (in constant time: tokens are not guessed a byte at a time). */
export function ownsSession(session: Session, token: string): boolean {
  const a = Buffer.from(session.token);
  const b = Buffer.from(token);
  return session.token.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

/** The frames to send again on a resume: `frames` from index `from` on. */
export interface Replay {
  frames: readonly HeldFrame[];
  from: number;
}

/**
 * What a client that has received `received` frames missed, or undefined when
 * some of it is no longer held (or it claims more than was sent): resuming
 * would hide that gap.
 */
export function replayFrom(session: Session, received: number): Replay | undefined {
  const from = received - session.firstUnacked;
  if (received > session.sent || from < 0) return undefined;
  // The array itself, not a copy: a frame sent before the replay goes out belongs in it too.
  return { frames: session.unacked ?? [], from };
}

/**
 * Moves a session (detached, or taken from its previous connection by the
 * caller) onto `endpoint`: `rtc:resumed` (with ICE servers minted afresh,
 * when the server hands some out), then the frames the client missed.
 */
export function takeOver(session: Session, endpoint: Endpoint, replay: Replay, iceServers?: IceServerMinter): void {
  clearTimeout(session.expiry);
  session.expiry = undefined;
  session.endpoint = endpoint;
  endpoint.session = session;
  endpoint.state = 'joined';
  endpoint.request = undefined;
  const resumed: Record<string, unknown> = { client_id: session.id, received: session.received };
  if (iceServers) resumed.ice_servers = iceServers(session.id);
  endpoint.link.send('rtc:resumed', resumed);
  const { frames } = replay;
  for (let i = replay.from; i < frames.length; i++) {
    const frame = frames[i];
    if (frame) endpoint.link.send(frame.type, frame.data);
  }
}
