/** The options of the Redis backplane (redis.ts). */
import type { Logger } from '../../shared/logger.js';
import type { LostMember } from './presence.js';

export interface RedisBackplaneOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of every key and channel (default `rtcpool:`): several deployments can share one Redis. */
  prefix?: string;
  /**
   * How long a process counts as alive after its last heartbeat (default 10,000 ms): longer than the longest its
   * event loop may be blocked under load, and a bound on when a dead process's members that never come back are
   * closed (resumes do not wait for it).
   */
  presenceTtlMs?: number;
  /** How often a process heartbeats (default 1000 ms); well under `presenceTtlMs`. */
  presenceRefreshMs?: number;
  /** How often this process looks for dead ones (default 1000 ms). */
  reapIntervalMs?: number;
  /** How long operations wait for Redis to come back before failing (default 10,000 ms). */
  outageQueueMs?: number;
  /**
   * How long each pool's log keeps an event (default 60,000 ms): the longest subscriber outage a process
   * catches up from, and the oldest checkpoint a session can be taken over from. Memory in Redis grows with
   * it: about 600 bytes per relayed event (bench:server --cluster).
   */
  logRetentionMs?: number;
  /** Area `server`; connection loss and recovery are logged at `error`/`warn`. */
  logger?: Logger;
  /**
   * Members this process served that Redis no longer holds as its own: this
   * process was taken for dead (frozen or cut off longer than the TTL) and,
   * meanwhile, another process took the session over (`moved`) or its resume
   * window ran out (`gone`: its peers were told it left). Close their
   * connections.
   */
  onEvicted?: (members: readonly LostMember[]) => void;
  /** Operations sent to Redis and not yet answered at which `onBusy` says busy (default 1,000). */
  maxInFlight?: number;
  /**
   * Redis (or this process reading its answers) is behind, by `maxInFlight` operations; false once a quarter of
   * that is left. The server stops reading its connections meanwhile.
   */
  onBusy?: (busy: boolean) => void;
}
