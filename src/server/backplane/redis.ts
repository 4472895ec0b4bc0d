/**
 * Pools shared by several server processes through one Redis. This file has
 * the backplane and its pool operations; presence.ts has presence and
 * recovery, redis-scripts.ts the Lua, outage-queue.ts the wait while Redis
 * is away.
 *
 * Decisions, and the guarantees that follow from them:
 *
 * - **One order per pool, kept in a log.** Every change to a pool (join,
 *   leave, describe, stop, a reaped member) and every relay is one Lua script
 *   that changes the state, bumps the pool's sequence number (not for relays),
 *   appends the event to the pool's stream and publishes it, with its id, on
 *   the pool's channel (redis-scripts.ts), all from the one command connection,
 *   so every listening process sees one total order per pool, and one
 *   sender's relays stay in the order it sent them. A process that missed
 *   events (its subscriber was away) reads them from the stream (pool-log.ts).
 *   The streams keep `logRetentionMs` (default 60 s) of events. The
 *   scripts go through ioredis's `defineCommand`: sent in full the first
 *   time on each connection, by SHA after that, and in full again if Redis
 *   forgot them (SCRIPT FLUSH). That resend goes behind whatever this
 *   process sent meanwhile: the operations Redis refused with NOSCRIPT right
 *   after a flush may land after later ones (a relay, say).
 * - **Two connections per process**: commands, and one subscriber for every
 *   pool this process listens to. `listen` resolves when Redis has
 *   acknowledged the SUBSCRIBE. Events reach a listener on another connection
 *   than the reply to `join`: a join's own `peer` event (and later ones) may
 *   arrive before `join` resolves, exactly as MemoryBackplane delivers them
 *   synchronously inside `join`.
 * - **Sequence numbers never run backwards**: a forgotten pool's counter is
 *   kept for an hour (MemoryBackplane starts a forgotten pool again at 0; the
 *   order of events is the same, the numbers may be higher).
 * - **Presence, dead processes, Redis down**: see presence.ts.
 * - **Sessions live in Redis** beside the members (redis-lua.ts has the
 *   record), so any process can take one over (`sessions.adopt`,
 *   ../adoption.ts): the session's generation goes up, a `moved` event tells
 *   the process that had it, and every later write the old process makes for
 *   it (relay, leave, checkpoint) names the old generation and is refused.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { JsonValue } from '../../protocol/index.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { BackplaneUnavailableError, OutageQueue } from './outage-queue.js';
import { PoolLog } from './pool-log.js';
import { Presence, presenceTiming } from './presence.js';
import type { RedisBackplaneOptions } from './redis-options.js';
import { DEFAULT_LOG_RETENTION_MS, defineScripts, type Scripts } from './redis-scripts.js';
import { Served, sessionFields } from './served.js';
import type {
  Adopted,
  Backplane,
  Checkpoint,
  JoinOutcome,
  JoinRequest,
  MemberRecord,
  PoolEvent,
  Sender,
  SessionStore,
} from './types.js';

export { BackplaneUnavailableError } from './outage-queue.js';
export type { RedisBackplaneOptions } from './redis-options.js';

/**
 * Connects to Redis and registers this process; resolves once both
 * connections are ready, rejects (and lets go of them) if Redis is
 * unreachable.
 *
 * @example
 * const backplane = await createRedisBackplane({ url: 'redis://127.0.0.1:6379', logger: consoleLogger() });
 */
export function createRedisBackplane(options: RedisBackplaneOptions): Promise<RedisBackplane> {
  return RedisBackplane.connect(options);
}

export class RedisBackplane implements Backplane {
  /** This process's id in Redis. */
  readonly process = randomBytes(8).toString('hex');
  readonly #command: Redis;
  readonly #subscriber: Redis;
  readonly #scripts: Scripts;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #where: string;
  readonly #log: PoolLog;
  /** What this process serves, to put back if Redis loses it. */
  readonly #served = new Served();
  /** Every pool operation goes through it: it holds them while Redis is away. */
  readonly #ops: OutageQueue;
  readonly #presence: Presence;
  #started = false;
  #closing: Promise<void> | undefined;
  /** The last connection error before the first connection, for the message of a failed start. */
  #startError: Error | undefined;

  private constructor(options: RedisBackplaneOptions) {
    const timing = presenceTiming(options);
    this.#prefix = options.prefix ?? 'rtcpool:';
    this.#logger = options.logger ?? silentLogger;
    this.#where = redact(options.url);
    const waitMs = options.outageQueueMs ?? 10_000;
    this.#ops = new OutageQueue({
      waitMs,
      // ioredis's own test for sending a command rather than refusing it unsent (outage-queue.ts says why).
      writable: () => this.#command.status === 'ready' && this.#command.stream.writable,
      unavailable: () => new BackplaneUnavailableError(`Redis at ${this.#where} is unreachable`),
      onDown: () =>
        this.#logger.log('error', 'server', 'backplane: lost the connection to Redis; pool operations wait', {
          at: this.#where,
          waitMs,
        }),
      onGiveUp: (dropped) =>
        this.#logger.log('error', 'server', 'backplane: Redis still away; operations fail until it is back', {
          at: this.#where,
          dropped,
        }),
      busyAt: inFlightLimit(options.maxInFlight),
      onBusy: (busy) => options.onBusy?.(busy),
    });
    const connection = (role: string, offlineQueue: boolean) => ({
      lazyConnect: true,
      connectionName: `rtcpool-${role}-${this.process}`,
      enableOfflineQueue: offlineQueue,
      // No retries before the first connection: an unreachable Redis at start is an error, not a wait.
      retryStrategy: (times: number) => (this.#started && !this.#ops.closed ? Math.min(100 * times, 2000) : null),
    });
    this.#command = new Redis(options.url, connection('command', false));
    // The subscriber keeps ioredis's queue: a SUBSCRIBE made while Redis is away waits for it.
    this.#subscriber = new Redis(options.url, connection('subscriber', true));
    const retentionMs = options.logRetentionMs ?? DEFAULT_LOG_RETENTION_MS;
    if (!(Number.isSafeInteger(retentionMs) && retentionMs > 0))
      throw new RangeError('logRetentionMs: a positive integer');
    this.#scripts = defineScripts(this.#command, this.#prefix, retentionMs);
    this.#log = new PoolLog({
      command: this.#command,
      subscriber: this.#subscriber,
      prefix: this.#prefix,
      run: (operation) => this.#ops.run(operation),
      served: this.#served,
      logger: this.#logger,
    });
    this.#presence = new Presence({
      ...timing,
      process: this.process,
      command: this.#command,
      subscriber: this.#subscriber,
      scripts: this.#scripts,
      served: this.#served,
      ops: this.#ops,
      logger: this.#logger,
      where: this.#where,
      onEvicted: options.onEvicted,
    });
  }

  /** See {@link createRedisBackplane}. */
  static async connect(options: RedisBackplaneOptions): Promise<RedisBackplane> {
    const backplane = new RedisBackplane(options);
    await backplane.#start();
    return backplane;
  }

  /** Sessions kept in Redis: any process can take one over. */
  readonly sessions: SessionStore = {
    poolOf: async (id) =>
      (await this.#ops.run(() => this.#command.hget(`${this.#prefix}session:${id}`, 'pool'))) ?? undefined,
    adopt: (id, tokenHash) => this.#adopt(id, tokenHash),
    history: (pool, from) => this.#log.history(pool, from),
    checkpoint: (id, gen, checkpoint) => this.#checkpoint(id, gen, checkpoint),
  };

  listen(pool: string, listener: (event: PoolEvent) => void): Promise<void> {
    return this.#log.listen(pool, listener);
  }

  unlisten(pool: string): void {
    this.#log.unlisten(pool);
  }

  join({ pool, id, maxPeers, mustExist, session }: JoinRequest): Promise<JoinOutcome> {
    const kept = session ?? { tokenHash: '', windowMs: 0 };
    return this.#ops.run(async () => {
      const reply = await this.#scripts.join(pool, id, maxPeers, mustExist, this.process, kept);
      if (reply[0] !== 'ok') return { ok: false, reason: reply[0] };
      const [, seq, flat, at] = reply;
      this.#served.joined(pool, id, seq, sessionFields(1, kept.tokenHash, seq, kept.windowMs));
      return { ok: true, seq, members: records(flat), gen: 1, at };
    });
  }

  leave(pool: string, id: string, gen = 0): void {
    // Forgotten only once Redis has it: a leave queued during an outage needs the member put back first.
    this.#ops
      .run(() => this.#scripts.leave(pool, id, gen))
      .then(
        () => this.#served.left(pool, id),
        (error: unknown) => {
          this.#served.left(pool, id);
          this.#logger.log('error', 'server', 'backplane: leave failed; the member stays until reaped', {
            pool,
            id,
            error: String(error),
          });
        },
      );
  }

  describe(pool: string, id: string, description: JsonValue): Promise<boolean> {
    const json = JSON.stringify(description);
    return this.#ops.run(async () => {
      const done = (await this.#scripts.describe(pool, id, json)) === 1;
      if (done) this.#served.described(pool, id, json);
      return done;
    });
  }

  relay(pool: string, event: Extract<PoolEvent, { kind: 'relay' }>, sender?: Sender): void {
    const json = JSON.stringify(sender ? { ...event, n: sender.n } : event);
    this.#ops
      .run(() => this.#scripts.relay(pool, sender?.id ?? '', sender?.gen ?? 0, json))
      .then(
        (published) => {
          if (published === 1) return;
          // From a session Redis no longer holds as this process's: taken over by another process (a frame read
          // late), or removed while this process was taken for dead (the next heartbeat ends it here).
          const why = "backplane: relay refused: its sender's session is no longer this process's";
          this.#logger.log('warn', 'server', why, { pool, from: sender?.id });
        },
        (error: unknown) => {
          this.#logger.log('error', 'server', 'backplane: relay dropped', { pool, to: event.to, error: String(error) });
        },
      );
  }

  createPool(pool: string): Promise<void> {
    return this.#ops.run(async () => {
      await this.#scripts.create(pool);
      this.#served.created(pool);
    });
  }

  stopPool(pool: string): Promise<boolean> {
    return this.#ops.run(async () => {
      const stopped = (await this.#scripts.stop(pool)) === 1;
      this.#served.forget(pool);
      return stopped;
    });
  }

  members(pool: string): Promise<MemberRecord[] | undefined> {
    return this.#ops.run(async () => {
      const reply = await this.#scripts.members(pool);
      return reply[0] === 1 ? records(reply[1]) : undefined;
    });
  }

  pools(): Promise<string[]> {
    return this.#ops.run(() => this.#command.smembers(`${this.#prefix}pools`));
  }

  /**
   * Unregisters this process (members it still serves leave, with `close`)
   * and closes both connections.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#ops.closed) return;
    this.#presence.stop();
    this.#log.clear();
    await this.#presence.retire();
    this.#ops.close(new BackplaneUnavailableError('the backplane is closed'));
    await Promise.allSettled([this.#command.quit(), this.#subscriber.quit()]);
    this.#command.disconnect();
    this.#subscriber.disconnect();
    this.#logger.log('info', 'server', 'backplane: closed', { process: this.process });
  }

  /**
   * Stops heartbeating and drops both connections without leaving or
   * unregistering: what a crash looks like to the other processes, which reap
   * this one's members within presenceTtlMs + reapIntervalMs. For tests.
   */
  abandon(): void {
    this.#presence.stop();
    this.#log.clear();
    this.#ops.close(new BackplaneUnavailableError('the backplane was abandoned'));
    this.#command.disconnect();
    this.#subscriber.disconnect();
  }

  async #start(): Promise<void> {
    for (const [role, connection] of [
      ['command', this.#command],
      ['subscriber', this.#subscriber],
    ] as const) {
      connection.on('error', (error: Error) => {
        if (!this.#started) this.#startError = error;
        if (this.#ops.up || !this.#started) {
          this.#logger.log('warn', 'server', `backplane: Redis ${role} connection error`, { error: error.message });
        }
      });
    }
    try {
      await Promise.all([this.#command.connect(), this.#subscriber.connect()]);
      await this.#presence.register();
    } catch (error) {
      this.#ops.close(new BackplaneUnavailableError('no Redis'));
      this.#command.disconnect();
      this.#subscriber.disconnect();
      const why = this.#startError?.message ?? String(error);
      throw new Error(`rtcpool: cannot use Redis at ${this.#where}: ${why}`, { cause: error });
    }
    this.#started = true;
    this.#ops.resume();
    this.#subscriber.on('close', () => {
      if (!this.#ops.closed) {
        this.#logger.log(
          'error',
          'server',
          'backplane: lost the Redis subscriber; pool events are read from the logs once it is back',
        );
      }
    });
    this.#subscriber.on('ready', () => {
      this.#logger.log('warn', 'server', 'backplane: Redis subscriber back', { pools: this.#log.size });
    });
    this.#presence.start();
  }

  async #adopt(id: string, tokenHash: string): Promise<Adopted | undefined> {
    const reply = await this.#ops.run(() => this.#scripts.adopt(id, tokenHash, this.process));
    if (reply[0] !== 1) return undefined;
    const [, pool, joinSeq, gen, json, sent, at, received, peers, windowMs] = reply;
    this.#served.joined(pool, id, 0, sessionFields(gen, tokenHash, joinSeq, windowMs), json);
    const checkpoint = { sent, at, received, peers: peers === '' ? [] : peers.split(' ') };
    return { pool, joinSeq, gen, description: JSON.parse(json) as JsonValue, checkpoint };
  }

  #checkpoint(id: string, gen: number, { sent, at, received, peers }: Checkpoint): void {
    this.#ops
      .run(() => this.#scripts.checkpoint(id, gen, sent, at, received, peers.join(' ')))
      .catch((error: unknown) => {
        this.#logger.log('warn', 'server', 'backplane: checkpoint not recorded', { id, error: String(error) });
      });
  }
}

function records(flat: string[]): MemberRecord[] {
  const members: MemberRecord[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const record = flat[i + 1] as string;
    members.push({ id: flat[i] as string, description: JSON.parse(record.slice(record.indexOf(' ') + 1)) });
  }
  return members;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable Redis URL)';
  }
}

function inFlightLimit(limit = 1000): number {
  if (!(Number.isSafeInteger(limit) && limit > 0)) throw new RangeError('maxInFlight: a positive integer');
  return limit;
}
