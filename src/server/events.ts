/**
 * What the server reports about itself: the events it emits as it works and
 * the counters it keeps. Public (`rtcpool/server` re-exports them), so they
 * change only with the observability they promise.
 */
import type { ConnectionInfo } from './options.js';
import type { RejectionReason } from './reasons.js';

/** Why a connection went away, as the `disconnect` event reports it. */
export type DisconnectWhy = 'closed' | 'heartbeat' | 'join-timeout' | 'rate-limit' | 'resumed-elsewhere';

/** What the server reports as it works: for logs, metrics and benchmarks. */
export type ServerEvent<Identity = unknown> =
  | {
      /** A connection was admitted (origin and `authenticate` passed); it has not joined yet. */
      type: 'connect';
      /** Which transport it came over. */
      transport: ConnectionInfo<Identity>['transport'];
    }
  | {
      /** An endpoint joined a pool. */
      type: 'join';
      /** The id the server gave it. */
      clientId: string;
      /** The pool joined, after `resolvePool`. */
      pool: string;
      /** The pool name the client asked for. */
      requested: string;
      /** What `authenticate` returned for its connection. */
      identity: Identity | undefined;
    }
  | {
      /** A member left its pool: it closed on purpose, or its resume window ran out. */
      type: 'leave';
      /** The member. */
      clientId: string;
      /** The pool it left. */
      pool: string;
    }
  | {
      /** A description or candidate was relayed (emitted only while someone listens: it is the hot path). */
      type: 'relay';
      /** Which kind of signal. */
      event: 'rtc:sdp' | 'rtc:candidate';
      /** The sending member. */
      from: string;
      /** The receiving member. */
      to: string;
      /** Their pool. */
      pool: string;
    }
  | {
      /** The server answered a client frame with `rtc:error`. */
      type: 'reject';
      /** The sender, or null if it had not joined. */
      clientId: string | null;
      /** The `reason` sent. */
      reason: RejectionReason;
      /** The `message` sent. */
      message: string;
    }
  | {
      /** A member's description was set (`server.describe`). */
      type: 'describe';
      /** The member described. */
      clientId: string;
      /** Its pool. */
      pool: string;
    }
  | {
      /** A pool was stopped (`stopPool` on any process, or this one closing): its members here got `rtc:stop`. */
      type: 'stop';
      /** The pool. */
      pool: string;
      /** How many of its members this process served. */
      members: number;
    }
  | {
      /** A connection went away. */
      type: 'disconnect';
      /** The endpoint it carried, or null if it had not joined. */
      clientId: string | null;
      /** Why. */
      why: DisconnectWhy;
    }
  | {
      /** A joined endpoint's connection was lost; its session is kept for `resumeWindowMs`. */
      type: 'detach';
      /** The endpoint whose session is kept. */
      clientId: string;
      /** Its pool. */
      pool: string;
    }
  | {
      /** A kept session continues on a new connection. */
      type: 'resume';
      /** The endpoint resumed (same id). */
      clientId: string;
      /** Its pool (unchanged). */
      pool: string;
    };

/** Running totals since the server started (current counts for connections, endpoints, pools). */
export interface ServerStats {
  /** Open connections, joined or not. */
  connections: number;
  /** Pool members served by this process, connected or kept for resumption. */
  endpoints: number;
  /** Of those, sessions without a connection, waiting to be resumed. */
  detached: number;
  /** Pools with members on this process. */
  pools: number;
  /** Joins accepted. */
  joins: number;
  /** Members that left (see the `leave` event); a stopped pool's members are not counted. */
  leaves: number;
  /** Sessions resumed on a new connection. */
  resumes: number;
  /** Descriptions and candidates relayed. */
  relays: number;
  /** `rtc:error` answers sent. */
  rejections: number;
  /**
   * Times this process stopped reading every connection because Redis (or its answers) fell behind by the backplane's
   * `maxInFlight` operations (backpressure; never in memory mode).
   */
  pauses: number;
  /** How long, in all, ms. */
  pausedMs: number;
  /** The same, by `reason`; a reason never sent has no entry. */
  rejectionsByReason: Partial<Record<RejectionReason, number>>;
}
