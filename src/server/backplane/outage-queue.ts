/**
 * Operations made while Redis is away wait here, in the order they were
 * made, and run once the backplane has put back what Redis lost; after
 * `waitMs` of outage they fail instead, and so does everything made until
 * Redis is back. ioredis's own offline queue would run them before the
 * re-registration, which is why the backplane turns it off and uses this.
 *
 * When is Redis away? The backplane says so (`down`) when its command
 * connection emits 'close', and `resume`s once it has recovered. But an
 * operation can be made after the connection broke and before that 'close'
 * reaches us: a socket that has read the server's FIN stops being writable
 * at once, while ioredis's status stays 'ready' until the socket's own
 * 'close' an event-loop turn or more later, and ioredis emits its events on
 * a later tick still. With its offline queue off, ioredis refuses a command
 * on a connection that is not ready or not writable, without sending it.
 *
 * So an operation asks `writable()` (the backplane answers with ioredis's own
 * test: status 'ready' and a writable socket) just before it runs: if not,
 * the queue goes down and the operation waits with the rest, sure that
 * nothing was sent. An operation sends its command synchronously when
 * called (every ioredis call does), so the answer still holds when ioredis
 * makes the same test. (The one command ioredis sends later on its own is a
 * script again in full after NOSCRIPT; should the connection break just
 * then, that operation fails like one in flight.)
 *
 * Asking after a failure instead would be unsound both ways. The state of
 * the connection when the failure reaches us says nothing about the command:
 * in the window above the status is still 'ready' although nothing was sent;
 * and a command written before the break stays with ioredis, which resends
 * it on reconnect, and fails later only if the reconnection takes too long
 * (MaxRetriesPerRequestError) or the connection is closed, when Redis may
 * have run it: run again, it could publish its event twice. So a failure is
 * always the operation's own.
 */

import { RtcpoolError } from '../../shared/errors.js';

/** Raised for operations that could not wait any longer for Redis, or came after `close`. */
export class BackplaneUnavailableError extends RtcpoolError {
  override readonly name = 'BackplaneUnavailableError';
  readonly code = 'backplane-unavailable';
}

export interface OutageQueueOptions {
  /** How long operations wait for Redis to come back before failing. */
  waitMs: number;
  /** Whether a command made now would be sent (see the top of this file). */
  writable: () => boolean;
  /** The error for operations that waited too long, or come while the queue fails them. */
  unavailable: () => BackplaneUnavailableError;
  /** The queue went down: operations wait from now on. */
  onDown: () => void;
  /** Redis has been away `waitMs`: the `dropped` operations that waited fail, and so will new ones. */
  onGiveUp: (dropped: number) => void;
  /** Operations sent and not yet answered at which the queue is busy; not busy again at a quarter of it. */
  busyAt: number;
  /** Busy, or no longer: the backplane is (no longer) behind, and whoever feeds it should (no longer) hold back. */
  onBusy: (busy: boolean) => void;
}

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
  /** Operations sent and not yet answered. */
  #inFlight = 0;
  #busy = false;

  readonly #options: OutageQueueOptions;

  constructor(options: OutageQueueOptions) {
    this.#options = options;
  }

  get up(): boolean {
    return this.#up;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `op` now, or once Redis is back (in order), or fails if the outage
   * has lasted too long. `op` must send its command synchronously when called.
   */
  run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new BackplaneUnavailableError('the backplane is closed'));
    if (this.#failing) return Promise.reject(this.#options.unavailable());
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        // Up, but the connection broke before its 'close' reached us: send nothing, wait like the rest.
        if (!this.#options.writable()) {
          this.down();
          this.#queue.push({ run: attempt, fail: reject });
          return;
        }
        this.#sent();
        op().then(
          (value) => {
            this.#answered();
            resolve(value);
          },
          (error: unknown) => {
            this.#answered();
            reject(error);
          },
        );
      };
      if (this.#up) attempt();
      else this.#queue.push({ run: attempt, fail: reject });
    });
  }

  /** Redis is away: queue from now on, and give up after `waitMs`. */
  down(): void {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    this.#options.onDown();
    this.#timer = setTimeout(() => {
      this.#failing = true;
      this.#options.onGiveUp(this.#queue.length);
      this.#failAll(this.#options.unavailable());
    }, this.#options.waitMs);
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

  get inFlight(): number {
    return this.#inFlight;
  }

  #sent(): void {
    this.#inFlight += 1;
    if (!this.#busy && this.#inFlight >= this.#options.busyAt) {
      this.#busy = true;
      this.#options.onBusy(true);
    }
  }

  #answered(): void {
    this.#inFlight -= 1;
    if (this.#busy && this.#inFlight <= this.#options.busyAt / 4) {
      this.#busy = false;
      this.#options.onBusy(false);
    }
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
