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
 * one too, and an event at or below it is already in the snapshot.
 */
export type PoolEvent =
  | { kind: 'peer'; seq: number; id: string }
  | { kind: 'close'; seq: number; id: string }
  | { kind: 'describe'; seq: number; id: string; description: JsonValue }
  | { kind: 'stop'; seq: number }
  /** A relay for member `to`; `data` is the server event's data, sender already written by the server. */
  | { kind: 'relay'; to: string; type: 'rtc:sdp' | 'rtc:candidate'; data: Record<string, unknown> };

export type JoinOutcome =
  /** Joined; `members` were there before (with their descriptions), as of sequence number `seq`. */
  { ok: true; seq: number; members: MemberRecord[] } | { ok: false; reason: 'pool-full' | 'pool-not-found' };

export interface JoinRequest {
  pool: string;
  id: string;
  maxPeers: number;
  /** Private pools: only a pool made by `createPool` admits. */
  mustExist: boolean;
}

/** A value, or a promise of it: the memory backplane answers at once, so the server stays synchronous on it. */
export type Awaitable<T> = T | Promise<T>;

export interface Backplane {
  /**
   * Delivers every event of `pool` to `listener`, in order, until `unlisten`.
   * Resolves once no later event can be missed. One listener per pool per process.
   */
  listen(pool: string, listener: (event: PoolEvent) => void): Awaitable<void>;
  unlisten(pool: string): void;
  /** Adds member `id` if the pool admits it, then publishes `peer`. */
  join(request: JoinRequest): Awaitable<JoinOutcome>;
  /** Removes member `id` and publishes `close`; an empty pool not made by `createPool` is forgotten. */
  leave(pool: string, id: string): void;
  /** Stores member `id`'s description and publishes `describe`; false when it is not a member. */
  describe(pool: string, id: string, description: JsonValue): Awaitable<boolean>;
  /** Publishes a relay to member `to` (the sender checked `to` is a peer it knows). */
  relay(pool: string, event: Extract<PoolEvent, { kind: 'relay' }>): void;
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
