/**
 * The receiving side of the pools' logs (RedisBackplane; redis-scripts.ts has
 * the writing side). Every pool event is an entry in the pool's Redis stream
 * and is published live, with the entry's id in front, on the pool's channel.
 * A process applies a pool's events in the order of their ids and remembers
 * the last one it applied, so:
 *
 * - live, it takes events from the channel (one message each, no polling of
 *   thousands of streams);
 * - when its subscriber connection comes back after a loss, it reads each
 *   pool's stream from the last id it applied, holding what the channel
 *   delivers meanwhile, and applies what it missed, then what it held, each
 *   event once ({@link PoolLog.catchUp});
 * - a session taken over from another process is rebuilt from the stream
 *   ({@link PoolLog.history}).
 *
 * The streams are trimmed to the backplane's `logRetentionMs`: a process whose
 * subscriber stays away longer, or a session whose checkpoint is older, finds
 * the log no longer reaching back, and says so (see the backplane's header).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Served } from './served.js';
import type { PoolEvent } from './types.js';

interface Listening {
  listener: (event: PoolEvent) => void;
  /** The id of the last event applied. */
  last: string | undefined;
  /**
   * Where the log ended once subscribed: a catch-up before any event was applied starts there. Not a reason to
   * skip an event: one published before that read may still be on its way over the subscriber connection.
   */
  since: string | undefined;
  /** Events the channel delivered while a catch-up reads the stream. */
  held: Array<[at: string, body: string]> | undefined;
}

export interface PoolLogParts {
  command: Redis;
  subscriber: Redis;
  prefix: string;
  /** Runs a command through the backplane's outage queue. */
  run: <T>(operation: () => Promise<T>) => Promise<T>;
  served: Served;
  logger: Logger;
}

/** A stream reply: entries of `[id, [field, value, ...]]`. */
type Entries = Array<[id: string, fields: string[]]>;

export class PoolLog {
  readonly #parts: PoolLogParts;
  readonly #channelPrefix: string;
  readonly #listening = new Map<string, Listening>();
  /** The subscriber was lost: catch up once it is back. */
  #behind = false;

  constructor(parts: PoolLogParts) {
    this.#parts = parts;
    this.#channelPrefix = `${parts.prefix}events:`;
    const { subscriber, logger } = parts;
    subscriber.on('message', (channel: string, message: string) => this.#message(channel, message));
    subscriber.on('close', () => {
      if (this.#behind) return;
      this.#behind = true;
      for (const listening of this.#listening.values()) listening.held ??= [];
    });
    subscriber.on('ready', () => {
      if (!this.#behind) return;
      this.catchUp().catch((error: unknown) => {
        logger.log('error', 'server', 'backplane: catching up on pool events failed', { error: String(error) });
      });
    });
  }

  get size(): number {
    return this.#listening.size;
  }

  /** Delivers the pool's events from now on; resolves once subscribed and the log's current end is known. */
  async listen(pool: string, listener: (event: PoolEvent) => void): Promise<void> {
    const listening: Listening = { listener, last: undefined, since: undefined, held: undefined };
    this.#listening.set(pool, listening);
    await this.#parts.subscriber.subscribe(this.#channelPrefix + pool);
    const [latest] = (await this.#parts.run(() =>
      this.#parts.command.xrevrange(this.#key(pool), '+', '-', 'COUNT', 1),
    )) as Entries;
    listening.since = latest?.[0] ?? '0-0';
  }

  unlisten(pool: string): boolean {
    if (!this.#listening.delete(pool)) return false;
    this.#parts.subscriber.unsubscribe(this.#channelPrefix + pool).catch((error: unknown) => {
      this.#parts.logger.log('warn', 'server', 'backplane: UNSUBSCRIBE failed', { pool, error: String(error) });
    });
    return true;
  }

  clear(): void {
    this.#listening.clear();
  }

  /**
   * The subscriber is back: once it has resubscribed, reads every pool's stream
   * from the last event applied and applies what was missed, then what the
   * channel delivered meanwhile, each once.
   */
  async catchUp(): Promise<void> {
    const { subscriber, logger } = this.#parts;
    await subscriber.ping(); // answered after the SUBSCRIBEs ioredis sent again on reconnect
    this.#behind = false;
    let missed = 0;
    // Every pool's read goes out at once (pipelined on the one connection); each is applied in turn.
    const reads = [...this.#listening].map(([pool, listening]) => {
      const from = listening.last ?? listening.since;
      const read =
        from !== undefined && listening.held
          ? this.#read(pool, from).catch((error: unknown) => {
              logger.log('error', 'server', 'backplane: could not read a pool log', { pool, error: String(error) });
              return undefined;
            })
          : undefined;
      return { pool, listening, from, read };
    });
    for (const { pool, listening, from, read } of reads) {
      if (read && from !== undefined) {
        const events = await read;
        if (!events) {
          logger.log('error', 'server', 'backplane: events of a pool were lost for this process', { pool, from });
        }
        for (const [at, body] of events ?? []) {
          if (this.#listening.get(pool) !== listening) break;
          if (later(at, from)) missed += this.#apply(pool, listening, at, body) ? 1 : 0;
        }
      }
      const held = listening.held ?? [];
      listening.held = undefined;
      for (const [at, body] of held) this.#apply(pool, listening, at, body);
    }
    logger.log('warn', 'server', 'backplane: caught up on pool events', { pools: this.#listening.size, missed });
  }

  /** The pool's events from `from` on (`from` first), or undefined when the stream no longer has `from`. */
  async history(pool: string, from: string): Promise<PoolEvent[] | undefined> {
    const entries = await this.#read(pool, from);
    if (!entries) return undefined;
    const events: PoolEvent[] = [];
    for (const [at, body] of entries) {
      const event = parseEvent(body);
      if (event) events.push({ ...event, at });
    }
    return events;
  }

  /** Entries from `from` (inclusive) to the end, or undefined when `from` is no longer there ('0-0': all of them). */
  async #read(pool: string, from: string): Promise<Array<[string, string]> | undefined> {
    const entries = (await this.#parts.run(() => this.#parts.command.xrange(this.#key(pool), from, '+'))) as Entries;
    const found = entries.map(([id, fields]): [string, string] => [id, fields[1] ?? '']);
    if (from === '0-0') return found;
    if (found[0]?.[0] !== from) return undefined;
    return found;
  }

  #message(channel: string, message: string): void {
    if (!channel.startsWith(this.#channelPrefix)) return;
    const pool = channel.slice(this.#channelPrefix.length);
    const space = message.indexOf(' ');
    const at = message.slice(0, space);
    const body = message.slice(space + 1);
    const listening = this.#listening.get(pool);
    if (listening?.held) listening.held.push([at, body]);
    else this.#apply(pool, listening, at, body);
  }

  /** Applies one event unless it is at or before the last one applied; true when applied. */
  #apply(pool: string, listening: Listening | undefined, at: string, body: string): boolean {
    if (listening?.last !== undefined && !later(at, listening.last)) return false;
    if (listening) listening.last = at;
    const event = parseEvent(body);
    const { served, logger } = this.#parts;
    if (!event) {
      logger.log('warn', 'server', 'backplane: unreadable pool event ignored', { pool });
      return false;
    }
    if (event.kind === 'moved') served.moved(pool, event.id, event.gen);
    else if (event.kind !== 'relay') {
      if (served.concerns(pool)) served.see(pool, event.seq);
      if (event.kind === 'describe') served.described(pool, event.id, JSON.stringify(event.description));
      else if (event.kind === 'stop') served.forget(pool);
    }
    if (!listening) return true;
    event.at = at;
    try {
      listening.listener(event);
    } catch (error) {
      logger.log('error', 'server', 'backplane: a pool listener threw', { pool, error: String(error) });
    }
    return true;
  }

  #key(pool: string): string {
    return `${this.#parts.prefix}log:${pool}`;
  }
}

/** Whether stream id `a` comes after `b` (`<ms>-<n>`, compared as numbers). */
export function later(a: string, b: string): boolean {
  const i = a.indexOf('-');
  const j = b.indexOf('-');
  const ms = Number(a.slice(0, i)) - Number(b.slice(0, j));
  return ms !== 0 ? ms > 0 : Number(a.slice(i + 1)) > Number(b.slice(j + 1));
}

/** `<seq> <event JSON>`, or `- <event JSON>` for relays and `moved`, as the scripts write them. */
export function parseEvent(body: string): PoolEvent | undefined {
  const space = body.indexOf(' ');
  if (space < 1) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(body.slice(space + 1));
  } catch {
    return undefined;
  }
  if (typeof event !== 'object' || event === null || !('kind' in event) || typeof event.kind !== 'string') {
    return undefined;
  }
  const head = body.slice(0, space);
  const unsequenced = event.kind === 'relay' || event.kind === 'moved';
  if (head === '-') return unsequenced ? (event as PoolEvent) : undefined;
  const seq = Number(head);
  return Number.isSafeInteger(seq) && !unsequenced ? ({ ...event, seq } as PoolEvent) : undefined;
}
