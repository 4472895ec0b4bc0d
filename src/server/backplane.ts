/**
 * Where pools live. The hub keeps its own connections and sessions; which
 * endpoints are in which pool, their descriptions, and the events that every
 * process serving a pool must see go through a backplane: this process's
 * memory (the default), or Redis when several processes share pools.
 */
import type { JsonValue } from '../protocol/index.js';

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

interface MemoryPool {
  members: Map<string, JsonValue>;
  created: boolean;
  seq: number;
}

/** The embedded default: one process's pools; it answers and delivers events synchronously. */
export class MemoryBackplane implements Backplane {
  readonly #pools = new Map<string, MemoryPool>();
  readonly #listeners = new Map<string, (event: PoolEvent) => void>();

  listen(pool: string, listener: (event: PoolEvent) => void): void {
    this.#listeners.set(pool, listener);
  }

  unlisten(pool: string): void {
    this.#listeners.delete(pool);
  }

  join({ pool: id, id: member, maxPeers, mustExist }: JoinRequest): JoinOutcome {
    let pool = this.#pools.get(id);
    if (!pool && mustExist) return { ok: false, reason: 'pool-not-found' };
    if ((pool?.members.size ?? 0) >= maxPeers) return { ok: false, reason: 'pool-full' };
    if (!pool) {
      pool = { members: new Map(), created: false, seq: 0 };
      this.#pools.set(id, pool);
    }
    const members = [...pool.members].map(([peer, description]) => ({ id: peer, description }));
    const seq = pool.seq;
    pool.members.set(member, null);
    this.#publish(id, pool, (next) => ({ kind: 'peer', seq: next, id: member }));
    return { ok: true, seq, members };
  }

  leave(id: string, member: string): void {
    const pool = this.#pools.get(id);
    if (!pool?.members.delete(member)) return;
    if (pool.members.size === 0 && !pool.created) this.#pools.delete(id);
    this.#publish(id, pool, (seq) => ({ kind: 'close', seq, id: member }));
  }

  describe(id: string, member: string, description: JsonValue): boolean {
    const pool = this.#pools.get(id);
    if (!pool?.members.has(member)) return false;
    pool.members.set(member, description);
    this.#publish(id, pool, (seq) => ({ kind: 'describe', seq, id: member, description }));
    return true;
  }

  relay(id: string, event: Extract<PoolEvent, { kind: 'relay' }>): void {
    this.#listeners.get(id)?.(event);
  }

  createPool(id: string): void {
    const pool = this.#pools.get(id);
    if (pool) pool.created = true;
    else this.#pools.set(id, { members: new Map(), created: true, seq: 0 });
  }

  stopPool(id: string): boolean {
    const pool = this.#pools.get(id);
    if (!pool) return false;
    this.#pools.delete(id);
    this.#publish(id, pool, (seq) => ({ kind: 'stop', seq }));
    return true;
  }

  members(id: string): MemberRecord[] | undefined {
    const pool = this.#pools.get(id);
    return pool && [...pool.members].map(([member, description]) => ({ id: member, description }));
  }

  pools(): string[] {
    return [...this.#pools.keys()];
  }

  close(): void {
    this.#listeners.clear();
  }

  #publish(id: string, pool: MemoryPool, event: (seq: number) => PoolEvent): void {
    pool.seq += 1;
    this.#listeners.get(id)?.(event(pool.seq));
  }
}
