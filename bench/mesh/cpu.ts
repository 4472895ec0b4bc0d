/**
 * CPU time the browsers spend, all their processes together (Chromium's
 * browser, renderers, GPU and network service; Firefox's parent, content,
 * socket and GPU processes), read from Linux's per-thread scheduler
 * statistics.
 *
 * Wall time on a shared two-core machine stretches with whatever else runs;
 * CPU time barely does, so it is the steadier measure of how much work an
 * implementation makes the browser do. The processes come from each browser
 * (`DriverBrowser.processIds`: the DevTools protocol for Chromium, the
 * process tree for Firefox), so new renderers of every round are counted;
 * the numbers come from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on
 * the CPU). Elsewhere than Linux the meter reads NaN.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { DriverBrowser } from '../../test/support/browser-driver.js';

/** Milliseconds one process's threads have spent on a CPU so far (0 if it is gone). */
function processCpuMs(pid: number): number {
  let nanoseconds = 0;
  try {
    for (const thread of readdirSync(`/proc/${pid}/task`)) {
      // A thread may end between listing and reading.
      try {
        nanoseconds += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
  } catch {}
  return nanoseconds / 1e6;
}

export interface CpuMeter {
  /**
   * Starts a measurement; the function it returns gives the browsers' CPU
   * time since, ms. Only processes alive at the end count (a renderer of the
   * last round that exits meanwhile must not subtract its whole life); new
   * ones count in full.
   */
  start(): Promise<() => Promise<number>>;
}

/** One meter over every process of `browsers` (each browser counted once). */
export function cpuMeter(browsers: readonly DriverBrowser[]): CpuMeter {
  if (process.platform !== 'linux') return { start: async () => async () => Number.NaN };
  const unique = [...new Set(browsers)];
  const sample = async (): Promise<Map<number, number>> => {
    const ids = (await Promise.all(unique.map((browser) => browser.processIds()))).flat();
    return new Map(ids.map((id) => [id, processCpuMs(id)]));
  };
  return {
    async start() {
      const before = await sample();
      return async () => {
        let total = 0;
        for (const [pid, ms] of await sample()) total += ms - (before.get(pid) ?? 0);
        return total;
      };
    },
  };
}
