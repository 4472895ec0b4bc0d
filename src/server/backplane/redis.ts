/**
 * Pools shared by several server processes through one Redis.
 *
 * Decisions, and the guarantees that follow from them:
 *
 * - **One order per pool.** Every change to a pool (join, leave, describe,
 *   stop, a reaped member) is one Lua script that changes the state, bumps
 *   the pool's sequence number and PUBLISHes the event on the pool's channel
 *   (redis-scripts.ts). Relays are PUBLISHed on the same channel from the
 *   same command connection, so every listening process sees one total order
 *   per pool, and one sender's relays stay in the order it sent them.
 * - **Two connections per process**: commands, and one subscriber for every
 *   pool this process listens to. `listen` resolves when Redis has
 *   acknowledged the SUBSCRIBE. Events reach a listener on another connection
 *   than the reply to `join`: a join's own `peer` event (and later ones) may
 *   arrive before `join` resolves, exactly as MemoryBackplane delivers them
 *   synchronously inside `join`.
 * - **Sequence numbers never run backwards**: a forgotten pool's counter is
 *   kept for an hour (MemoryBackplane starts a forgotten pool again at 0; the
 *   order of events is the same, the numbers may be higher).
 * - **Presence.** Each process has a random id and refreshes a key with a TTL
 *   (`presenceTtlMs`, default 5 s) every `presenceRefreshMs` (1 s). Every
 *   process runs the reaper every `reapIntervalMs` (1 s): one script that
 *   removes the members of each process whose presence expired and
 *   publishes `close` for each. It is atomic and idempotent, so it needs no
 *   lock: two reapers cannot both reap one member. Bound: **a dead process's
 *   endpoints are closed for their peers within presenceTtlMs +
 *   reapIntervalMs** (6 s with the defaults) after its last heartbeat. A
 *   process that was only frozen longer than the TTL finds on its next
 *   heartbeat that it was reaped and reports its lost members to
 *   `onEvicted` (their peers already got `rtc:close`).
 * - **Redis down.** ioredis reconnects (backoff up to 2 s). ioredis's own
 *   offline queue is off: its queued commands would run before this
 *   process re-registers. Instead every operation made while Redis is away
 *   waits in this class's queue, in order, for up to `outageQueueMs`
 *   (default 10 s); after that they fail (`join` rejects, a `relay` or
 *   `leave` is dropped and logged) until Redis is back. On reconnect the
 *   process reloads its scripts, waits until its subscriber has resubscribed,
 *   and heartbeats; if Redis lost its data (the `epoch` key is gone: a
 *   restart without persistence, a FLUSHALL) it re-registers, silently, the
 *   members it serves, the pools it created and the sequence numbers it saw;
 *   then it runs the queued operations. **Events published while a process's
 *   subscriber is away are lost for that process** (Redis pub/sub does not
 *   replay): its endpoints may miss a `peer`, `close`, `describe` or relay
 *   sent in that window. Commands in flight at the instant the connection
 *   broke are resent by ioredis on reconnect, before the re-registration.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { type Logger, silentLogger } from '../../logger.js';
import type { JsonValue } from '../../protocol/index.js';
import type { Backplane, JoinOutcome, JoinRequest, MemberRecord, PoolEvent } from '../backplane.js';
import { BackplaneUnavailableError, OutageQueue } from './outage-queue.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';

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
  readonly #prefix: string;
  readonly #channelPrefix: string;
  readonly #ttlMs: number;
  readonly #refreshMs: number;
  readonly #reapMs: number;
  readonly #logger: Logger;
  readonly #onEvicted: RedisBackplaneOptions['onEvicted'];
  readonly #where: string;
  readonly #shas = new Map<ScriptName, string>();
  readonly #listeners = new Map<string, (event: PoolEvent) => void>();
  /** What this process serves, to put back if Redis loses it: pool -> member id -> description JSON. */
  readonly #mine = new Map<string, Map<string, string>>();
  readonly #created = new Set<string>();
  /** The highest sequence number seen per pool this process serves or created. */
  readonly #seen = new Map<string, number>();
  #epoch = '';
  #started = false;
  /** Every pool operation goes through it: it holds them while Redis is away. */
  readonly #ops: OutageQueue;
  #recovering = false;
  #syncing: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;
  /** The last connection error before the first connection, for the message of a failed start. */
  #startError: Error | undefined;

  private constructor(options: RedisBackplaneOptions) {
    this.#prefix = options.prefix ?? 'rtcpool:';
    this.#channelPrefix = `${this.#prefix}events:`;
    this.#ttlMs = options.presenceTtlMs ?? 5000;
    this.#refreshMs = options.presenceRefreshMs ?? 1000;
    this.#reapMs = options.reapIntervalMs ?? 1000;
    if (!(this.#refreshMs > 0 && this.#ttlMs > 2 * this.#refreshMs && this.#reapMs > 0)) {
      throw new RangeError('presenceTtlMs must exceed twice presenceRefreshMs, and both intervals be positive');
    }
    this.#logger = options.logger ?? silentLogger;
    this.#onEvicted = options.onEvicted;
    this.#where = redact(options.url);
    const waitMs = options.outageQueueMs ?? 10_000;
    this.#ops = new OutageQueue(
      waitMs,
      () => new BackplaneUnavailableError(`Redis at ${this.#where} is unreachable`),
      () =>
        this.#logger.log('error', 'server', 'backplane: lost the connection to Redis; pool operations wait', {
          at: this.#where,
          waitMs,
        }),
      (dropped) =>
        this.#logger.log('error', 'server', 'backplane: Redis still away; operations fail until it is back', {
          at: this.#where,
          dropped,
        }),
    );
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
      const reply = await this.#script('join', pool, id, maxPeers, mustExist ? '1' : '0', this.process);
      const [verdict, seq, flat] = reply as [string, number, string[]];
      if (verdict !== 'ok') return { ok: false, reason: verdict as 'pool-full' | 'pool-not-found' };
      this.#serve(pool).set(id, 'null');
      this.#see(pool, seq);
      return { ok: true, seq, members: records(flat) };
    });
  }

  leave(pool: string, id: string): void {
    // Forgotten only once Redis has it: a leave queued during an outage needs the member put back first.
    const forget = () => {
      const members = this.#mine.get(pool);
      members?.delete(id);
      if (members?.size === 0) {
        this.#mine.delete(pool);
        if (!this.#created.has(pool)) this.#seen.delete(pool);
      }
    };
    this.#ops
      .run(() => this.#script('leave', pool, id))
      .then(forget, (error: unknown) => {
        forget();
        this.#logger.log('error', 'server', 'backplane: leave failed; the member stays until reaped', {
          pool,
          id,
          error: String(error),
        });
      });
  }

  describe(pool: string, id: string, description: JsonValue): Promise<boolean> {
    const json = JSON.stringify(description);
    return this.#ops.run(async () => {
      const done = (await this.#script('describe', pool, id, json)) === 1;
      const members = this.#mine.get(pool);
      if (done && members?.has(id)) members.set(id, json);
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
      await this.#script('create', pool);
      this.#created.add(pool);
    });
  }

  stopPool(pool: string): Promise<boolean> {
    return this.#ops.run(async () => {
      const stopped = (await this.#script('stop', pool)) === 1;
      this.#forgetPool(pool);
      return stopped;
    });
  }

  members(pool: string): Promise<MemberRecord[] | undefined> {
    return this.#ops.run(async () => {
      const [exists, flat] = (await this.#script('members', pool)) as [number, string[]?];
      return exists === 1 ? records(flat ?? []) : undefined;
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
    this.#stopTimers();
    this.#listeners.clear();
    if (this.#ops.up) {
      try {
        await this.#script('retire', this.process);
      } catch (error) {
        this.#logger.log('warn', 'server', 'backplane: could not unregister; the reaper will', {
          error: String(error),
        });
      }
    }
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
    this.#stopTimers();
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
      await this.#loadScripts();
      await this.#sync();
    } catch (error) {
      this.#ops.close(new BackplaneUnavailableError('no Redis'));
      this.#command.disconnect();
      this.#subscriber.disconnect();
      const why = this.#startError?.message ?? String(error);
      throw new Error(`rtcpool: cannot use Redis at ${this.#where}: ${why}`, { cause: error });
    }
    this.#started = true;
    this.#ops.resume();
    this.#command.on('close', () => this.#ops.down());
    this.#command.on('ready', () => void this.#recover());
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
    this.#timers.push(
      setInterval(() => void this.#heartbeat(), this.#refreshMs),
      setInterval(() => void this.#reap(), this.#reapMs),
    );
    for (const timer of this.#timers) timer.unref();
    this.#logger.log('info', 'server', 'backplane: connected to Redis', {
      at: this.#where,
      process: this.process,
      presenceTtlMs: this.#ttlMs,
      reapIntervalMs: this.#reapMs,
    });
  }

  async #recover(): Promise<void> {
    if (this.#recovering || this.#ops.closed || this.#ops.up) return;
    this.#recovering = true;
    try {
      await this.#loadScripts();
      // Resubscribed before anything queued runs, so this process hears what its own queue causes.
      if (this.#subscriber.status !== 'ready') await withTimeout(once(this.#subscriber, 'ready'), 5000);
      await this.#subscriber.ping();
      await this.#sync();
      if (this.#ops.closed) return;
      const queued = this.#ops.resume();
      this.#logger.log('warn', 'server', 'backplane: Redis is back', { at: this.#where, queued });
    } catch (error) {
      this.#logger.log('error', 'server', 'backplane: recovery failed; retrying', { error: String(error) });
      setTimeout(() => void this.#recover(), 500).unref();
    } finally {
      this.#recovering = false;
    }
  }

  /** Heartbeats, and squares this process's members with Redis when Redis lost them or reaped them. */
  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      try {
        const candidate = randomBytes(8).toString('hex');
        const [epoch, known] = (await this.#script('register', this.process, this.#ttlMs, candidate)) as [
          string,
          number,
        ];
        if (this.#epoch === '') this.#epoch = epoch;
        else if (epoch !== this.#epoch) {
          this.#epoch = epoch;
          const missing = await this.#reconcile(true);
          this.#logger.log('error', 'server', 'backplane: Redis lost its data; re-registered this process', {
            members: missing.length,
            pools: this.#created.size,
          });
        } else if (known === 0) {
          const missing = await this.#reconcile(false);
          for (const { pool, id } of missing) this.#mine.get(pool)?.delete(id);
          this.#logger.log('error', 'server', 'backplane: this process was taken for dead and its members reaped', {
            members: missing.length,
          });
          if (missing.length > 0) this.#onEvicted?.(missing);
        }
      } finally {
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }

  async #reconcile(readd: boolean): Promise<Array<{ pool: string; id: string }>> {
    const members: string[] = [];
    for (const [pool, ids] of this.#mine) for (const [id, json] of ids) members.push(pool, id, json);
    const seqs: Array<string | number> = [];
    for (const [pool, seq] of this.#seen) seqs.push(pool, seq);
    const flat = (await this.#script(
      'reconcile',
      this.process,
      readd ? '1' : '0',
      this.#created.size,
      ...this.#created,
      members.length / 3,
      ...members,
      seqs.length / 2,
      ...seqs,
    )) as string[];
    const missing: Array<{ pool: string; id: string }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) missing.push({ pool: flat[i] as string, id: flat[i + 1] as string });
    return missing;
  }

  async #heartbeat(): Promise<void> {
    if (!this.#ops.up || this.#syncing) return;
    try {
      await this.#sync();
    } catch (error) {
      this.#logger.log('warn', 'server', 'backplane: heartbeat failed', { error: String(error) });
    }
  }

  async #reap(): Promise<void> {
    if (!this.#ops.up) return;
    try {
      const flat = (await this.#script('reap')) as Array<string | number>;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        this.#logger.log('warn', 'server', 'backplane: reaped a dead process', {
          process: flat[i],
          members: flat[i + 1],
        });
      }
    } catch (error) {
      this.#logger.log('warn', 'server', 'backplane: reaper failed', { error: String(error) });
    }
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
      if (this.#mine.has(pool) || this.#created.has(pool)) this.#see(pool, event.seq);
      if (event.kind === 'describe') {
        const members = this.#mine.get(pool);
        if (members?.has(event.id)) members.set(event.id, JSON.stringify(event.description));
      } else if (event.kind === 'stop') this.#forgetPool(pool);
    }
    const listener = this.#listeners.get(pool);
    if (!listener) return;
    try {
      listener(event);
    } catch (error) {
      this.#logger.log('error', 'server', 'backplane: a pool listener threw', { pool, error: String(error) });
    }
  }

  #serve(pool: string): Map<string, string> {
    let members = this.#mine.get(pool);
    if (!members) {
      members = new Map();
      this.#mine.set(pool, members);
    }
    return members;
  }

  #see(pool: string, seq: number): void {
    if (seq > (this.#seen.get(pool) ?? 0)) this.#seen.set(pool, seq);
  }

  #forgetPool(pool: string): void {
    this.#mine.delete(pool);
    this.#created.delete(pool);
    this.#seen.delete(pool);
  }

  #channel(pool: string): string {
    return this.#channelPrefix + pool;
  }

  async #loadScripts(): Promise<void> {
    for (const [name, lua] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
      const sha = (await this.#command.script('LOAD', lua)) as string;
      this.#shas.set(name, sha);
    }
  }

  async #script(name: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    const sha = this.#shas.get(name) ?? createHash('sha1').update(SCRIPTS[name]).digest('hex');
    try {
      return await this.#command.evalsha(sha, 0, this.#prefix, ...args);
    } catch (error) {
      // Only after a SCRIPT FLUSH behind our back: scripts are loaded on every (re)connect.
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      this.#logger.log('warn', 'server', 'backplane: Redis forgot its scripts; sending them again', { name });
      return this.#command.eval(SCRIPTS[name], 0, this.#prefix, ...args);
    }
  }

  #stopTimers(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
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
