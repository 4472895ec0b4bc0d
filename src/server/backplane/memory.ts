/** The embedded default backplane: pools in this process's memory. */
import type { JsonValue } from '../../protocol/index.js';
import type { Backplane, JoinOutcome, JoinRequest, MemberRecord, PoolEvent } from './types.js';

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
