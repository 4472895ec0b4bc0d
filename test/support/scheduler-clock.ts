import type fc from 'fast-check';

/**
 * An XState clock whose timers are tasks of the scheduler, so the machines'
 * delays interleave with everything else. Every timer fires after any other
 * task fast-check picks; a cleared timer's task runs and does nothing.
 */
export function schedulerClock(s: fc.Scheduler) {
  let nextId = 0;
  const cancelled = new Set<number>();
  return {
    setTimeout(fn: (...args: unknown[]) => void, _timeout: number): number {
      const id = ++nextId;
      s.schedule(Promise.resolve(), 'timer').then(() => {
        if (!cancelled.delete(id)) fn();
      });
      return id;
    },
    clearTimeout(id: number): void {
      cancelled.add(id);
    },
  };
}
