/**
 * Operations made while Redis is away wait here, in the order they were
 * made, and run once the backplane has put back what Redis lost; after
 * `waitMs` of outage they fail instead, and so does everything made until
 * Redis is back. ioredis's own offline queue would run them before the
 * re-registration, which is why the backplane turns it off and uses this.
 */

/** Raised for operations that could not wait any longer for Redis, or came after `close`. */
export class BackplaneUnavailableError extends Error {
  readonly code = 'backplane-unavailable';
}

/** ioredis's answer to a command made on a broken connection with its offline queue off: nothing was sent. */
const NOT_SENT = "Stream isn't writeable";

interface Queued {
  run: () => void;
  fail: (error: Error) => void;
}

export class OutageQueue {
  #up = false;
  #failing = false;
  #closed = false;
  #queue: Queued[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly waitMs: number,
    private readonly unavailable: () => BackplaneUnavailableError,
    private readonly onDown: () => void,
    private readonly onGiveUp: (dropped: number) => void,
  ) {}

  get up(): boolean {
    return this.#up;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `op` now, or once Redis is back (in order), or fails if the outage has lasted too long. */
  run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new BackplaneUnavailableError('the backplane is closed'));
    if (this.#failing) return Promise.reject(this.unavailable());
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        op().then(resolve, (error: unknown) => {
          // The connection broke before its 'close' reached us: nothing was sent, so wait like the rest.
          if (error instanceof Error && error.message.startsWith(NOT_SENT) && !this.#closed) {
            this.down();
            if (!this.#failing) {
              this.#queue.push({ run: attempt, fail: reject });
              return;
            }
          }
          reject(error);
        });
      };
      if (this.#up) attempt();
      else this.#queue.push({ run: attempt, fail: reject });
    });
  }

  /** Redis is away: queue from now on, and give up after `waitMs`. */
  down(): void {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    this.onDown();
    this.#timer = setTimeout(() => {
      this.#failing = true;
      this.onGiveUp(this.#queue.length);
      this.#failAll(this.unavailable());
    }, this.waitMs);
    this.#timer.unref();
  }

  /** Redis is back and squared: run what waited, in order, then everything at once again. Returns how many waited. */
  resume(): number {
    clearTimeout(this.#timer);
    this.#failing = false;
    this.#up = true;
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.run();
    return queue.length;
  }

  close(error: Error): void {
    this.#closed = true;
    this.#up = false;
    clearTimeout(this.#timer);
    this.#failAll(error);
  }

  #failAll(error: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.fail(error);
  }
}
