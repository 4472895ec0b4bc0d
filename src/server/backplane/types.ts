/**
 * Where pools live. The hub keeps its own connections and sessions; which
 * endpoints are in which pool, their descriptions, and the events that every
 * process serving a pool must see go through a backplane: this process's
 * memory (the default), or Redis when several processes share pools.
 */
import type { JsonValue } from '../../protocol/index.js';

/** A pool member as the backplane stores it. */
export interface MemberRecord {
  id: string;
  description: JsonValue;
}

/**
 * What happened in a pool, in the one order every listening process sees.
 * Membership events carry the pool's sequence number: a join's snapshot has
 * one too, and an event at or below it is already in the snapshot. A
 * backplane with a log (Redis) also gives each event its place in it, `at`.
 */
export type PoolEvent = (
  | { kind: 'peer'; seq: number; id: string }
  | { kind: 'close'; seq: number; id: string }
  | { kind: 'describe'; seq: number; id: string; description: JsonValue }
  | { kind: 'stop'; seq: number }
  /**
   * A relay for member `to`; `data` is the server event's data, sender already written by the server. `n`: the
   * sender's frame number (its session's count of frames received, this one included), where sessions are kept.
   */
  | { kind: 'relay'; to: string; type: 'rtc:sdp' | 'rtc:candidate'; data: Record<string, unknown>; n?: number }
  /** Member `id`'s session was taken over by another process, which holds it as generation `gen`: not a frame. */
  | { kind: 'moved'; id: string; gen: number }
) & { at?: string };

/** Who sends a relay, where sessions are kept: its id, its session's generation and the relay's frame number. */
export interface Sender {
  id: string;
  gen: number;
  n: number;
}

/**
 * Where a member's frames stood when its client last acknowledged them: it had
 * `sent` frames, the last of them from the pool event at `at`, and had been
 * told of `peers`; the server had `received` frames from it.
 */
export interface Checkpoint {
  sent: number;
  at: string;
  received: number;
  peers: readonly string[];
}

/** A session taken over by this process: its new generation and what is needed to rebuild it from the pool's log. */
export interface Adopted {
  pool: string;
  /** The pool's sequence number in the member's join snapshot. */
  joinSeq: number;
  gen: number;
  description: JsonValue;
  checkpoint: Checkpoint;
}

/**
 * Sessions that outlive the process serving them (the Redis backplane): any
 * process can take one over with its token and rebuild what the client missed
 * from the pool's log.
 */
export interface SessionStore {
  /** The pool of session `id`, or undefined when there is no such session. */
  poolOf(id: string): Promise<string | undefined>;
  /** Takes session `id` over for this process when `tokenHash` is its token's; undefined when it cannot be. */
  adopt(id: string, tokenHash: string): Promise<Adopted | undefined>;
  /** The pool's events from `from` on, `from` first; undefined when the log no longer reaches back to it. */
  history(pool: string, from: string): Promise<PoolEvent[] | undefined>;
  /** Records a member's checkpoint, unless its session has moved on from generation `gen`. */
  checkpoint(id: string, gen: number, checkpoint: Checkpoint): void;
}

export type JoinOutcome =
  /**
   * Joined; `members` were there before (with their descriptions), as of sequence number `seq`. Where sessions
   * are kept: the session's generation, and `at`, the join's place in the pool's log.
   */
  | { ok: true; seq: number; members: MemberRecord[]; gen?: number; at?: string }
  | { ok: false; reason: 'pool-full' | 'pool-not-found' };

export interface JoinRequest {
  pool: string;
  id: string;
  maxPeers: number;
  /** Private pools: only a pool made by `createPool` admits. */
  mustExist: boolean;
  /** The session to keep beside the member, where sessions outlive processes: its token's hash and resume window. */
  session?: { tokenHash: string; windowMs: number };
}

/** A value, or a promise of it: the memory backplane answers at once, so the server stays synchronous on it. */
export type Awaitable<T> = T | Promise<T>;

export interface Backplane {
  /** Present when sessions outlive this process (Redis): a resume may then find its session here. */
  readonly sessions?: SessionStore | undefined;
  /**
   * Delivers every event of `pool` to `listener`, in order, until `unlisten`.
   * Resolves once no later event can be missed. One listener per pool per process.
   */
  listen(pool: string, listener: (event: PoolEvent) => void): Awaitable<void>;
  unlisten(pool: string): void;
  /** Adds member `id` if the pool admits it, then publishes `peer`. */
  join(request: JoinRequest): Awaitable<JoinOutcome>;
  /**
   * Removes member `id` and publishes `close`; an empty pool not made by `createPool` is forgotten. With `gen`,
   * only while its session is still that generation (not taken over since).
   */
  leave(pool: string, id: string, gen?: number): void;
  /** Stores member `id`'s description and publishes `describe`; false when it is not a member. */
  describe(pool: string, id: string, description: JsonValue): Awaitable<boolean>;
  /**
   * Publishes a relay to member `to` (the sender checked `to` is a peer it knows). With `sender`, only while the
   * sender's session is still that generation.
   */
  relay(pool: string, event: Extract<PoolEvent, { kind: 'relay' }>, sender?: Sender): void;
  /** Makes a pool that lives until stopped, empty or not. */
  createPool(pool: string): Awaitable<void>;
  /** Publishes `stop` and forgets the pool and its members; false when there is none. */
  stopPool(pool: string): Awaitable<boolean>;
  members(pool: string): Awaitable<MemberRecord[] | undefined>;
  pools(): Awaitable<string[]>;
  /**
   * Stops listening everywhere and lets go of its connections. Members this
   * process still serves leave (their pools hear `close`); the hub has
   * normally made them leave already.
   */
  close(): Awaitable<void>;
}
