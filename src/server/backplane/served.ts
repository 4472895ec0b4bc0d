/**
 * What this process serves, as it last knew Redis held it: the pool
 * operations (redis.ts) keep it up to date, and presence (presence.ts) puts
 * it back when Redis lost it or tells `onEvicted` what was reaped. Neither
 * file imports the other; both share this.
 */
import type { ServedState } from './redis-scripts.js';

export class Served {
  /** pool -> member id -> [description JSON, session as `reconcile` takes it]. */
  readonly #members = new Map<string, Map<string, [string, string]>>();
  /** Pools this process made with `createPool`. */
  readonly #created = new Set<string>();
  /** The highest sequence number seen per pool this process serves or created. */
  readonly #seen = new Map<string, number>();

  /**
   * Member `id` joined (as of sequence number `seq`), or its session was taken over here (`json`: its
   * description); `session` is `<gen> <token hash> <join seq> <window ms>`.
   */
  joined(pool: string, id: string, seq: number, session: string, json = 'null'): void {
    let members = this.#members.get(pool);
    if (!members) {
      members = new Map();
      this.#members.set(pool, members);
    }
    members.set(id, [json, session]);
    this.see(pool, seq);
  }

  /** Member `id` is gone (left, or reaped); the pool's sequence number goes with its last member unless this process made it. */
  left(pool: string, id: string): void {
    const members = this.#members.get(pool);
    members?.delete(id);
    if (members?.size === 0) {
      this.#members.delete(pool);
      if (!this.#created.has(pool)) this.#seen.delete(pool);
    }
  }

  /**
   * Member `id`'s session was taken over in generation `gen`: forgotten here, unless this process is the one that
   * took it (it holds `gen` already). Otherwise, should Redis lose its data, this process would put the member back
   * as its own, and the process holding it would be told it lost it.
   */
  moved(pool: string, id: string, gen: number): void {
    const member = this.#members.get(pool)?.get(id);
    if (member && Number.parseInt(member[1], 10) < gen) this.left(pool, id);
  }

  /** Member `id`'s description is now `json`, if this process serves it. */
  described(pool: string, id: string, json: string): void {
    const member = this.#members.get(pool)?.get(id);
    if (member) member[0] = json;
  }

  created(pool: string): void {
    this.#created.add(pool);
  }

  /** The pool was stopped. */
  forget(pool: string): void {
    this.#members.delete(pool);
    this.#created.delete(pool);
    this.#seen.delete(pool);
  }

  /** Whether this process serves a member of `pool` or made it: then it keeps the pool's sequence number. */
  concerns(pool: string): boolean {
    return this.#members.has(pool) || this.#created.has(pool);
  }

  see(pool: string, seq: number): void {
    if (seq > (this.#seen.get(pool) ?? 0)) this.#seen.set(pool, seq);
  }

  /** Members Redis no longer holds as this process's (reaped while it was taken for dead, or taken over). */
  lost(members: ReadonlyArray<{ pool: string; id: string }>): void {
    for (const { pool, id } of members) this.#members.get(pool)?.delete(id);
  }

  get createdCount(): number {
    return this.#created.size;
  }

  /** Everything, as `reconcile` takes it. */
  state(): ServedState {
    const members: Array<readonly [string, string, string, string]> = [];
    for (const [pool, ids] of this.#members) {
      for (const [id, [json, session]] of ids) members.push([pool, id, json, session]);
    }
    return { created: [...this.#created], members, seen: [...this.#seen] };
  }
}

/** A member's session as {@link Served} keeps it and `reconcile` takes it. */
export function sessionFields(gen: number, tokenHash: string, joinSeq: number, windowMs: number): string {
  return `${gen} ${tokenHash} ${joinSeq} ${windowMs}`;
}
