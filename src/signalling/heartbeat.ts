/**
 * The client's heartbeat (see `SignallingOptions.heartbeat`): it watches how
 * long the server has been quiet, asks for a sign of life after `intervalMs`
 * and gives the connection up `timeoutMs` after an unanswered ask. One timer,
 * moved only when it fires: a frame received costs a clock read.
 */
export interface HeartbeatSettings {
  /** Quiet time after which it pings, ms. */
  intervalMs: number;
  /** Time after an unanswered ping at which the connection is lost, ms. */
  timeoutMs: number;
}

/** What the heartbeat does: `ping` sends `rtc:ping`; `lost` gives the connection up. */
export interface HeartbeatActions {
  ping(): void;
  lost(waitedMs: number): void;
}

export class Heartbeat {
  /** When the last frame from the server arrived (`performance.now()`). */
  #lastHeard = 0;
  /** When the unanswered ping went out, if one has. */
  #pingedAt: number | undefined;
  /** The next look; undefined while stopped. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly settings: HeartbeatSettings,
    private readonly actions: HeartbeatActions,
  ) {}

  /** A frame from the server arrived: the connection carries frames. */
  heard(): void {
    this.#lastHeard = performance.now();
  }

  /** Starts watching, from now (restarts if running). */
  start(): void {
    this.stop();
    this.heard();
    this.#lookIn(this.settings.intervalMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pingedAt = undefined;
  }

  #lookIn(delayMs: number): void {
    this.#timer = setTimeout(() => this.#look(), delayMs);
  }

  #look(): void {
    const { intervalMs, timeoutMs } = this.settings;
    const now = performance.now();
    const pingedAt = this.#pingedAt;
    if (pingedAt !== undefined && this.#lastHeard < pingedAt) {
      const waited = now - pingedAt;
      if (waited < timeoutMs) this.#lookIn(timeoutMs - waited);
      else {
        this.stop();
        this.actions.lost(waited);
      }
      return;
    }
    this.#pingedAt = undefined;
    const quiet = now - this.#lastHeard;
    if (quiet < intervalMs) {
      this.#lookIn(intervalMs - quiet);
      return;
    }
    this.#pingedAt = now;
    this.#lookIn(timeoutMs);
    this.actions.ping();
  }
}
