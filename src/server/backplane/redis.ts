/**
 * Pools shared by several server processes through one Redis. This file has
 * the backplane and its pool operations; presence.ts has presence and
 * recovery, redis-scripts.ts the Lua, outage-queue.ts the wait while Redis
 * is away.
 *
 * Decisions, and the guarantees that follow from them:
 *
 * - **One order per pool.** Every change to a pool (join, leave, describe,
 *   stop, a reaped member) is one Lua script that changes the state, bumps
 *   the pool's sequence number and PUBLISHes the event on the pool's channel
 *   (redis-scripts.ts). Relays are PUBLISHed on the same channel from the
 *   same command connection, so every listening process sees one total order
 *   per pool, and one sender's relays stay in the order it sent them. The
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
 * - **Presence** (presence.ts). Each process has a random id and refreshes a
 *   key with a TTL (`presenceTtlMs`, default 5 s) every `presenceRefreshMs`
 *   (1 s). Every process runs the reaper every `reapIntervalMs` (1 s): one
 *   script that removes the members of each process whose presence expired
 *   and publishes `close` for each. It is atomic and idempotent, so it needs
 *   no lock: two reapers cannot both reap one member. Bound: **a dead
 *   process's endpoints are closed for their peers within presenceTtlMs +
 *   reapIntervalMs** (6 s with the defaults) after its last heartbeat. A
 *   process that was only frozen longer than the TTL finds on its next
 *   heartbeat that it was reaped and reports its lost members to
 *   `onEvicted` (their peers already got `rtc:close`).
 * - **Redis down.** ioredis reconnects (backoff up to 2 s). ioredis's own
 *   offline queue is off: its queued commands would run before this
 *   process re-registers. Instead every operation made while Redis is away
 *   (its connection closed, or broken without having said so yet) waits in
 *   the backplane's queue (outage-queue.ts), in order, for up to
 *   `outageQueueMs` (default 10 s); after that they fail (`join` rejects, a
 *   `relay` or `leave` is dropped and logged) until Redis is back. On
 *   reconnect (presence.ts) the process waits until its subscriber has
 *   resubscribed, and heartbeats; if Redis lost its data (the `epoch` key is
 *   gone: a restart without persistence, a FLUSHALL) it re-registers,
 *   silently, the members it serves, the pools it created and the sequence
 *   numbers it saw; then it runs the queued operations. **Events published
 *   while a process's subscriber is away are lost for that process** (Redis
 *   pub/sub does not replay): its endpoints may miss a `peer`, `close`,
 *   `describe` or relay sent in that window. Commands in flight at the
 *   instant the connection broke are resent by ioredis on reconnect, before
 *   the re-registration.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { JsonValue } from '../../protocol/index.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { BackplaneUnavailableError, OutageQueue } from './outage-queue.js';
import { Presence, presenceTiming } from './presence.js';
import { defineScripts, type Scripts } from './redis-scripts.js';
import { Served } from './served.js';
import type { Backplane, JoinOutcome, JoinRequest, MemberRecord, PoolEvent } from './types.js';

export { BackplaneUnavailableError } from './outage-queue.js';

export interface RedisBackplaneOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of every key and channel (default `rtcpool:`): several deployments can share one Redis. */
  prefix?: string;
  /** How long a process counts as alive after its last heartbeat (default 5000 ms). */
  presenceTtlMs?: number;
  /** How often a process heartbeats (default 1000 ms); well under `presenceTtlMs`. */
  presenceRefreshMs?: number;
  /** How often this process looks for dead ones (default 1000 ms). */
  reapIntervalMs?: number;
  /** How long operations wait for Redis to come back before failing (default 10,000 ms). */
  outageQueueMs?: number;
  /** Area `server`; connection loss and recovery are logged at `error`/`warn`. */
  logger?: Logger;
  /**
   * Members this process served that Redis no longer holds because this
   * process was taken for dead (frozen or cut off longer than the TTL) and
   * reaped: their peers were told they closed. Close their connections.
   */
  onEvicted?: (members: ReadonlyArray<{ pool: string; id: string }>) => void;
}

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
  readonly #channelPrefix: string;
  readonly #logger: Logger;
  readonly #where: string;
  readonly #listeners = new Map<string, (event: PoolEvent) => void>();
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
    this.#channelPrefix = `${this.#prefix}events:`;
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
    this.#scripts = defineScripts(this.#command, this.#prefix);
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

  async listen(pool: string, listener: (event: PoolEvent) => void): Promise<void> {
    this.#listeners.set(pool, listener);
    await this.#subscriber.subscribe(this.#channel(pool));
  }

  unlisten(pool: string): void {
    if (!this.#listeners.delete(pool)) return;
    this.#subscriber.unsubscribe(this.#channel(pool)).catch((error: unknown) => {
      this.#logger.log('warn', 'server', 'backplane: UNSUBSCRIBE failed', { pool, error: String(error) });
    });
  }

  join({ pool, id, maxPeers, mustExist }: JoinRequest): Promise<JoinOutcome> {
    return this.#ops.run(async () => {
      const reply = await this.#scripts.join(pool, id, maxPeers, mustExist, this.process);
      if (reply[0] !== 'ok') return { ok: false, reason: reply[0] };
      const [, seq, flat] = reply;
      this.#served.joined(pool, id, seq);
      return { ok: true, seq, members: records(flat) };
    });
  }

  leave(pool: string, id: string): void {
    // Forgotten only once Redis has it: a leave queued during an outage needs the member put back first.
    this.#ops
      .run(() => this.#scripts.leave(pool, id))
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

  relay(pool: string, event: Extract<PoolEvent, { kind: 'relay' }>): void {
    const message = `- ${JSON.stringify(event)}`;
    this.#ops
      .run(() => this.#command.publish(this.#channel(pool), message))
      .catch((error: unknown) => {
        this.#logger.log('error', 'server', 'backplane: relay dropped', { pool, to: event.to, error: String(error) });
      });
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
    this.#listeners.clear();
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
    this.#listeners.clear();
    this.#ops.close(new BackplaneUnavailableError('the backplane was abandoned'));
    this.#command.disconnect();
    this.#subscriber.disconnect();
  }

  async #start(): Promise<void> {
    this.#subscriber.on('message', (channel: string, message: string) => this.#deliver(channel, message));
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
          'backplane: lost the Redis subscriber; pool events are lost until it is back',
        );
      }
    });
    this.#subscriber.on('ready', () => {
      this.#logger.log('warn', 'server', 'backplane: Redis subscriber back', { pools: this.#listeners.size });
    });
    this.#presence.start();
  }

  #deliver(channel: string, message: string): void {
    if (!channel.startsWith(this.#channelPrefix)) return;
    const pool = channel.slice(this.#channelPrefix.length);
    const event = parseEvent(message);
    if (!event) {
      this.#logger.log('warn', 'server', 'backplane: unreadable pool event ignored', { pool });
      return;
    }
    if (event.kind !== 'relay') {
      if (this.#served.concerns(pool)) this.#served.see(pool, event.seq);
      if (event.kind === 'describe') this.#served.described(pool, event.id, JSON.stringify(event.description));
      else if (event.kind === 'stop') this.#served.forget(pool);
    }
    const listener = this.#listeners.get(pool);
    if (!listener) return;
    try {
      listener(event);
    } catch (error) {
      this.#logger.log('error', 'server', 'backplane: a pool listener threw', { pool, error: String(error) });
    }
  }

  #channel(pool: string): string {
    return this.#channelPrefix + pool;
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

/** `<seq> <event JSON>` or `- <relay JSON>`, as the scripts and `relay` publish them. */
function parseEvent(message: string): PoolEvent | undefined {
  const space = message.indexOf(' ');
  if (space < 1) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(message.slice(space + 1));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || !('kind' in body) || typeof body.kind !== 'string') return undefined;
  const head = message.slice(0, space);
  if (head === '-') return body.kind === 'relay' ? (body as PoolEvent) : undefined;
  const seq = Number(head);
  return Number.isSafeInteger(seq) && body.kind !== 'relay' ? ({ ...body, seq } as PoolEvent) : undefined;
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
