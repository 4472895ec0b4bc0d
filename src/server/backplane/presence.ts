/**
 * Presence and recovery for RedisBackplane (redis.ts has the pool
 * operations):
 *
 * - this process's registration and its heartbeat, which also notices when
 *   Redis lost its data (the `epoch` key changed) or reaped this process
 *   (it is no longer registered) and squares what it serves with Redis;
 * - the reaper, which deals with the members of processes whose presence
 *   expired;
 * - recovery when the command connection is back: resubscribed, heartbeat
 *   (and re-registration if needed), then the operations that waited.
 *
 * Decisions, and the guarantees that follow from them:
 *
 * - **Presence.** Each process has a random id and refreshes a key with a
 *   TTL (`presenceTtlMs`, default 10 s) every `presenceRefreshMs` (1 s). Every
 *   process runs the reaper every `reapIntervalMs` (1 s): one script that
 *   orphans the members of each process whose presence expired and removes
 *   orphans whose resume window has passed, publishing `close` for each. It is
 *   atomic and idempotent, so it needs no lock: two reapers cannot both reap
 *   one member.
 * - **A dead process's members** with resumable sessions are orphaned, not
 *   removed: kept, silently for their pools, for their resume window
 *   (`resumeWindowMs`) from the moment they are reaped, so that their clients
 *   resume on another process. Members without (resumption off) are removed at
 *   once. Bound: **a dead process's endpoints that do not come back are closed
 *   for their peers within presenceTtlMs + reapIntervalMs + resumeWindowMs +
 *   reapIntervalMs** after its last heartbeat (27 s with the defaults; 11 s
 *   without resumption).
 * - **A process that was only frozen** longer than the TTL finds on its next
 *   heartbeat that it was reaped, and takes back silently the members still
 *   orphaned in the generation it holds. The rest it reports to `onEvicted`:
 *   those another process took over meanwhile (`moved`) and those whose
 *   window ran out (`gone`: their peers got `rtc:close`).
 * - **Redis down.** ioredis reconnects (backoff up to 2 s). ioredis's own
 *   offline queue is off: its queued commands would run before this process
 *   re-registers. Instead every operation made while Redis is away (its
 *   connection closed, or broken without having said so yet) waits in the
 *   backplane's queue (outage-queue.ts), in order, for up to `outageQueueMs`
 *   (default 10 s); after that they fail (`join` rejects, a `relay` or `leave`
 *   is dropped and logged) until Redis is back. On reconnect the process
 *   waits until its subscriber has resubscribed, and heartbeats; if Redis lost
 *   its data (the `epoch` key is gone: a restart without persistence, a
 *   FLUSHALL) it re-registers, silently, the members it serves (with their
 *   sessions, but no checkpoint until their clients acknowledge again), the
 *   pools it created and the sequence numbers it saw; then it runs the queued
 *   operations. Commands in flight at the instant the connection broke are
 *   resent by ioredis on reconnect, before the re-registration.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { OutageQueue } from './outage-queue.js';
import type { Scripts } from './redis-scripts.js';
import type { Served } from './served.js';

/**
 * A member this process served that Redis no longer holds as its own: its session was taken over by another
 * process (`moved`), or it was removed (`gone`: its peers were told it left).
 */
export interface LostMember {
  pool: string;
  id: string;
  why: 'moved' | 'gone';
}

export interface PresenceTiming {
  ttlMs: number;
  refreshMs: number;
  reapMs: number;
}

/** The presence options with their defaults; throws a RangeError for ones a live process could miss. */
export function presenceTiming(options: {
  presenceTtlMs?: number;
  presenceRefreshMs?: number;
  reapIntervalMs?: number;
}): PresenceTiming {
  const timing = {
    ttlMs: options.presenceTtlMs ?? 10_000,
    refreshMs: options.presenceRefreshMs ?? 1000,
    reapMs: options.reapIntervalMs ?? 1000,
  };
  // Two heartbeats per TTL: one late heartbeat must not get a live process reaped.
  if (!(timing.refreshMs > 0 && timing.ttlMs > 2 * timing.refreshMs && timing.reapMs > 0)) {
    throw new RangeError('presenceTtlMs must exceed twice presenceRefreshMs, and both intervals be positive');
  }
  return timing;
}

/** What presence works with, all owned by the backplane. */
export interface PresenceParts extends PresenceTiming {
  /** This process's id in Redis. */
  process: string;
  command: Redis;
  subscriber: Redis;
  /** The scripts, defined on `command`. */
  scripts: Scripts;
  /** What this process serves: put back when Redis lost it, trimmed when it was reaped. */
  served: Served;
  /** The pool operations' queue: presence says when Redis is away and when it is back and squared. */
  ops: OutageQueue;
  logger: Logger;
  /** The Redis URL without its password, for logs. */
  where: string;
  onEvicted: ((members: readonly LostMember[]) => void) | undefined;
}

export class Presence {
  readonly #parts: PresenceParts;
  /** The `epoch` key's value when this process last heartbeat; a different one means Redis lost its data. */
  #epoch = '';
  #syncing: Promise<void> | undefined;
  #recovering = false;
  #timers: NodeJS.Timeout[] = [];
  /** When the last heartbeat was answered (performance.now()), to warn when they fall too far apart. */
  #beaten = 0;

  constructor(parts: PresenceParts) {
    this.#parts = parts;
  }

  /** The first heartbeat: registers this process. Rejects if Redis does not answer. */
  register(): Promise<void> {
    return this.#sync();
  }

  /** Once registered: heartbeats and reaps on timers, and recovers whenever the command connection is back. */
  start(): void {
    const { command, ops, refreshMs, reapMs, ttlMs, logger, where, process } = this.#parts;
    command.on('close', () => ops.down());
    command.on('ready', () => void this.#recover());
    this.#timers.push(
      setInterval(() => void this.#heartbeat(), refreshMs),
      setInterval(() => void this.#reap(), reapMs),
    );
    for (const timer of this.#timers) timer.unref();
    logger.log('info', 'server', 'backplane: connected to Redis', {
      at: where,
      process,
      presenceTtlMs: ttlMs,
      reapIntervalMs: reapMs,
    });
  }

  /** No more heartbeats or reaping: the process is leaving, or playing dead. */
  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  /** Unregisters this process, its members leaving with `close`; if Redis is away, the reaper will do it. */
  async retire(): Promise<void> {
    const { ops, scripts, process, logger } = this.#parts;
    if (!ops.up) return;
    try {
      await scripts.retire(process);
    } catch (error) {
      logger.log('warn', 'server', 'backplane: could not unregister; the reaper will', { error: String(error) });
    }
  }

  async #recover(): Promise<void> {
    const { ops, subscriber, logger, where } = this.#parts;
    if (this.#recovering || ops.closed || ops.up) return;
    this.#recovering = true;
    try {
      // Resubscribed before anything queued runs, so this process hears what its own queue causes.
      if (subscriber.status !== 'ready') await withTimeout(once(subscriber, 'ready'), 5000);
      await subscriber.ping();
      await this.#sync();
      if (ops.closed) return;
      const queued = ops.resume();
      logger.log('warn', 'server', 'backplane: Redis is back', { at: where, queued });
    } catch (error) {
      logger.log('error', 'server', 'backplane: recovery failed; retrying', { error: String(error) });
      setTimeout(() => void this.#recover(), 500).unref();
    } finally {
      this.#recovering = false;
    }
  }

  /** Heartbeats, and squares this process's members with Redis when Redis lost them or reaped them. */
  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      const { scripts, process, ttlMs, served, logger, onEvicted } = this.#parts;
      try {
        const [epoch, known] = await scripts.register(process, ttlMs, randomBytes(8).toString('hex'));
        if (this.#epoch === '') this.#epoch = epoch;
        else if (epoch !== this.#epoch || known === 0) {
          // Redis lost its data (put back what this process serves), or took this process for dead (take back
          // what was not taken over or removed meanwhile).
          const readd = epoch !== this.#epoch;
          this.#epoch = epoch;
          const lost = await this.#reconcile(readd);
          served.lost(lost);
          logger.log(
            'error',
            'server',
            readd
              ? 'backplane: Redis lost its data; re-registered this process'
              : 'backplane: this process was taken for dead; took back what was still its own',
            {
              moved: lost.filter(({ why }) => why === 'moved').length,
              gone: lost.filter(({ why }) => why === 'gone').length,
              pools: served.createdCount,
            },
          );
          if (lost.length > 0) onEvicted?.(lost);
        }
      } finally {
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }

  /** What Redis does not hold of what this process serves; with `readd`, put back silently first. */
  async #reconcile(readd: boolean): Promise<LostMember[]> {
    const { scripts, process, served } = this.#parts;
    const flat = await scripts.reconcile(process, readd, served.state());
    const lost: LostMember[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      lost.push({
        pool: flat[i] as string,
        id: flat[i + 1] as string,
        why: flat[i + 2] === 'moved' ? 'moved' : 'gone',
      });
    }
    return lost;
  }

  async #heartbeat(): Promise<void> {
    if (!this.#parts.ops.up || this.#syncing) return;
    try {
      await this.#sync();
      // Late heartbeats (an event loop blocked, Redis or its answers behind) come before being taken for dead.
      const { ttlMs, logger } = this.#parts;
      const now = performance.now();
      const since = now - this.#beaten;
      if (this.#beaten > 0 && since > ttlMs / 2) {
        const why = 'backplane: heartbeats are late; past the presence TTL this process is taken for dead';
        logger.log('warn', 'server', why, { sinceLastMs: Math.round(since), presenceTtlMs: ttlMs });
      }
      this.#beaten = now;
    } catch (error) {
      this.#parts.logger.log('warn', 'server', 'backplane: heartbeat failed', { error: String(error) });
    }
  }

  async #reap(): Promise<void> {
    const { ops, scripts, logger } = this.#parts;
    if (!ops.up) return;
    try {
      const flat = await scripts.reap();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        logger.log('warn', 'server', 'backplane: reaped a dead process', { process: flat[i], members: flat[i + 1] });
      }
    } catch (error) {
      logger.log('warn', 'server', 'backplane: reaper failed', { error: String(error) });
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
