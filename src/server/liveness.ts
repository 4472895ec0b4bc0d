/**
 * Which connections are still there: the heartbeat (pings, and dropping the
 * silent), the join timeout, and early pings for members holding many frames.
 * It decides; the hub's `disconnect` carries the decision out.
 */
import { CLOSE_CODES } from './reasons.js';
import { closing, type Departure, type Endpoint, type Session } from './sessions.js';

/** A heartbeat round is this many sweeps, each over its share of the connections. */
export const HEARTBEAT_SLICES = 10;

/** Unacknowledged frames past which a member is pinged before its round comes. */
export const EARLY_PING_FRAMES = 64;

/** What a sweep, and a pong, ask of the hub. */
export interface Disconnects {
  disconnect(endpoint: Endpoint, departure: Departure): void;
  /** The client has the session's frames up to number `sent`. */
  acknowledged(session: Session, sent: number): void;
}

/** The hub's options that liveness reads. */
export interface LivenessOptions {
  heartbeat: { intervalMs: number; timeoutMs: number };
  joinTimeoutMs: number;
  now: () => number;
}

/** Silent for too long: treated like any lost connection, so a joined member's session is kept. */
const SILENT: Departure = { why: 'heartbeat', keepSession: true, close: 'terminate' };

const UNJOINED = closing('join-timeout', CLOSE_CODES.joinTimeout, 'no rtc:join in time');

/** The heartbeat's state: which slice comes next, and how connections are dealt out to slices. */
export class Liveness {
  /** Connections opened so far, which deals them out to heartbeat slices. */
  private opened = 0;
  private slice = 0;
  /** When the last sweep ran (the hub's clock). */
  private swept: number | undefined;
  /** Since when every connection's reading is paused ({@link Liveness.hold}), or undefined. */
  private heldSince: number | undefined;
  /** How often, and how long in all, reading was paused. */
  readonly paused = { pauses: 0, pausedMs: 0 };

  constructor(
    private readonly options: LivenessOptions,
    private readonly hub: Disconnects,
  ) {}

  /** Deals a new connection to a heartbeat slice. */
  enrol(endpoint: Endpoint): void {
    endpoint.slice = this.opened++ % HEARTBEAT_SLICES;
    if (this.heldSince !== undefined) endpoint.link.pause?.();
  }

  /**
   * Pauses (`on`) or resumes reading every connection's frames, the new ones too: backpressure while the
   * backplane is behind. A paused connection's silence is this process's doing, and so is the wait of one whose
   * `rtc:join` (or `rtc:resume`) is unread: neither is dropped for it while paused, and both are credited the time
   * paused after.
   */
  hold(endpoints: Iterable<Endpoint>, on: boolean): void {
    const now = this.options.now();
    if (on) {
      if (this.heldSince !== undefined) return;
      this.heldSince = now;
      this.paused.pauses += 1;
      for (const endpoint of endpoints) endpoint.link.pause?.();
      return;
    }
    if (this.heldSince === undefined) return;
    const held = now - this.heldSince;
    this.heldSince = undefined;
    this.paused.pausedMs += held;
    for (const endpoint of endpoints) {
      credit(endpoint, 'lastSeen', held, now);
      credit(endpoint, 'connectedAt', held, now);
      endpoint.link.resume?.();
    }
  }

  /** Any sign of life (a pong) that is not a message. A pong also proves what was sent before its ping arrived. */
  alive(endpoint: Endpoint): void {
    endpoint.lastSeen = this.options.now();
    if (endpoint.pingMark !== null && endpoint.session) this.hub.acknowledged(endpoint.session, endpoint.pingMark);
    endpoint.pingMark = null;
  }

  /**
   * One slice of a heartbeat round ({@link HEARTBEAT_SLICES} make a round,
   * one every `intervalMs / HEARTBEAT_SLICES`): for a tenth of the
   * connections, drops those silent for longer than the timeout (keeping
   * their sessions, as for any lost connection) or still unjoined after the
   * join timeout, and pings the rest. Slicing spreads the pings, and the
   * burst of pongs that answers them, over the interval instead of stalling
   * every relay once per interval. Members holding {@link EARLY_PING_FRAMES}
   * or more unacknowledged frames are pinged in every slice, so that their
   * pongs release those frames sooner. A sweep that runs late does not count
   * the time this process was not running as its connections' silence.
   */
  sweep(endpoints: Iterable<Endpoint>): void {
    const now = this.options.now();
    const { timeoutMs, intervalMs } = this.options.heartbeat;
    const due = intervalMs / HEARTBEAT_SLICES;
    const late = this.swept === undefined ? 0 : now - this.swept - due;
    this.swept = now;
    // A live connection answers every round's ping, so it is silent at most an interval plus this process's
    // lateness: with the default timeout (two intervals), lateness up to an interval cannot drop it.
    if (late > intervalMs) {
      // This process did not run for a while (a long GC pause, a frozen event loop, a machine far behind): the
      // silence of its connections over that time is its own, and what they sent meanwhile is still waiting to be
      // read. Without this, a process that froze for longer than the timeout would drop every connection it has
      // the moment it woke, before reading a single pong.
      for (const endpoint of endpoints) credit(endpoint, 'lastSeen', late, now);
    }
    // Paused, nobody's silence or unread join is their own (see `hold`).
    const judging = this.heldSince === undefined;
    const slice = this.slice;
    this.slice = (slice + 1) % HEARTBEAT_SLICES;
    for (const endpoint of endpoints) {
      const { link } = endpoint;
      if (endpoint.slice !== slice) {
        // A member holding many frames for a resume is pinged in every slice, not once a round: its
        // pong releases them. Quiet members wait for their round (a ping each costs a frame and a pong).
        const held = endpoint.session?.unacked?.length ?? 0;
        if (held >= EARLY_PING_FRAMES && endpoint.pingMark === null && endpoint.session && link.ping) {
          endpoint.pingMark = endpoint.session.sent;
          link.ping();
        }
        continue;
      }
      if (judging && link.ping && now - endpoint.lastSeen > timeoutMs) {
        this.hub.disconnect(endpoint, SILENT);
      } else if (judging && endpoint.state === 'connected' && now - endpoint.connectedAt > this.options.joinTimeoutMs) {
        this.hub.disconnect(endpoint, UNJOINED);
      } else if (link.ping) {
        if (endpoint.pingMark === null && endpoint.session) endpoint.pingMark = endpoint.session.sent;
        link.ping();
      }
    }
  }
}

/** Moves an endpoint's clock forward by `ms` of this process's own doing, never past `now`. */
function credit(endpoint: Endpoint, field: 'lastSeen' | 'connectedAt', ms: number, now: number): void {
  endpoint[field] = Math.min(now, endpoint[field] + ms);
}
