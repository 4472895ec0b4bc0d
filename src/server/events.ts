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
  | { type: 'connect'; transport: ConnectionInfo<Identity>['transport'] }
  | { type: 'join'; clientId: string; pool: string; requested: string; identity: Identity | undefined }
  | { type: 'leave'; clientId: string; pool: string }
  | { type: 'relay'; event: 'rtc:sdp' | 'rtc:candidate'; from: string; to: string; pool: string }
  | { type: 'reject'; clientId: string | null; reason: RejectionReason; message: string }
  | { type: 'describe'; clientId: string; pool: string }
  | { type: 'stop'; pool: string; members: number }
  | { type: 'disconnect'; clientId: string | null; why: DisconnectWhy }
  /** A joined endpoint's connection was lost; its session is kept for `resumeWindowMs`. */
  | { type: 'detach'; clientId: string; pool: string }
  /** A kept session continues on a new connection. */
  | { type: 'resume'; clientId: string; pool: string };

/** Running totals since the server started (current counts for connections, endpoints, pools). */
export interface ServerStats {
  connections: number;
  /** Pool members served by this process, connected or kept for resumption. */
  endpoints: number;
  /** Of those, sessions without a connection, waiting to be resumed. */
  detached: number;
  /** Pools with members on this process. */
  pools: number;
  joins: number;
  leaves: number;
  resumes: number;
  relays: number;
  rejections: number;
  rejectionsByReason: Partial<Record<RejectionReason, number>>;
}
