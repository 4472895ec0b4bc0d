/**
 * A FIFO of tasks for the simulated connections, the signalling channel and
 * XState's clock, so a benchmark spends its time computing, not sleeping.
 *
 * Each task runs in an event-loop turn of its own (`setImmediate`), so every
 * microtask a task starts has settled before the next task runs, as between
 * two tasks in a browser. `queueMicrotask` alone would be cheaper but would
 * squeeze a connection's tasks in between an operation's result and the
 * caller's `await`: gathered candidates would then fire before the code that
 * set the description could send it, which never happens on a real stack.
 * Unlike `setTimeout`, `setImmediate` has no 1 ms floor.
 */
export class TaskQueue {
  /** Tasks run since the queue was made. */
  tasksRun = 0;
  readonly #tasks: Array<() => void> = [];
  #head = 0;
  #pumping = false;
  #onIdle: Array<() => void> = [];
  #nextTimerId = 0;
  readonly #pendingTimers = new Set<number>();

  /** The `schedule` option of `SimulatedPeerConnection`. */
  readonly schedule = (_label: string, run: () => void): void => {
    this.#tasks.push(run);
    if (!this.#pumping) {
      this.#pumping = true;
      setImmediate(this.#pump);
    }
  };

  /** Resolves once no task is left, the microtasks of the last one included. */
  idle(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#onIdle.push(resolve));
  }

  /** An XState clock whose timers are tasks of this queue: delays keep their order but are never waited out. */
  readonly clock = {
    setTimeout: (fn: (...args: unknown[]) => void, _timeout: number): number => {
      const id = ++this.#nextTimerId;
      this.#pendingTimers.add(id);
      this.schedule('timer', () => {
        if (this.#pendingTimers.delete(id)) fn();
      });
      return id;
    },
    clearTimeout: (id: number): void => {
      this.#pendingTimers.delete(id);
    },
  };

  readonly #pump = (): void => {
    const task = this.#tasks[this.#head];
    if (task === undefined) {
      // The previous task's microtasks have all run and scheduled nothing.
      this.#tasks.length = 0;
      this.#head = 0;
      this.#pumping = false;
      const waiting = this.#onIdle;
      this.#onIdle = [];
      for (const resolve of waiting) resolve();
      return;
    }
    // Advancing a head index keeps a long queue O(1) per task; `shift` would copy it.
    this.#tasks[this.#head] = noop;
    this.#head += 1;
    this.tasksRun += 1;
    setImmediate(this.#pump);
    task();
  };
}

const noop = (): void => undefined;
