/**
 * Soak: our server (one process, or a cluster sharing pools through Redis)
 * under a fixed moderate load for minutes, with a trickle of clients leaving
 * and rejoining, its heap sampled after forced GC and its open file
 * descriptors counted every 30 s. A leak shows as a heap or a descriptor
 * count that keeps climbing while the load stays the same. Beside them: the
 * longest the servers' event loops were blocked (leaving out the forced GC),
 * their backpressure pauses, and their connections, which a server that fell
 * too far behind loses.
 */
import { sleep } from './child.js';
import type { StartArgs, WindowReport } from './load.js';
import { slope } from './report.js';
import { descriptorsOf, heapOf, longestBlockOf, pausesOf, startLoad, startServers } from './round.js';

export interface SoakOptions {
  sizes: number[];
  rate: number;
  soakMinutes: number;
  maxRate: number;
  /** Server processes; more than one shares pools through `redis`. */
  processes: number;
  redis?: string | undefined;
}

/** Descriptors that may come and go with the churn (sockets closing, sockets opening) without being a leak. */
const FD_SLACK = 50;

const SAMPLE_SECONDS = 30;
/** Clients that leave and rejoin per second, as a share of all clients: join and leave paths leak too. */
const CHURN_SHARE = 0.002;
/**
 * Flat: the heap grows less than this share of where it started, by the regression over the judged samples and
 * from the mean of the first {@link ENDS} judged samples to the mean of the last {@link ENDS}. One sample against
 * one is not the rule: a sample taken while the server is behind holds that moment's frames and buffers (single
 * samples of a steady run swing by ±10 %), which is noise at either end, not growth.
 */
const FLAT_SHARE = 0.05;
const ENDS = 3;
/** Samples before this are warm-up and not judged (when at least three samples come after it). */
const WARM_UP_MINUTES = 1;

export async function runSoak(options: SoakOptions): Promise<void> {
  const clients = options.sizes[0] ?? 1000;
  const churn = clients * CHURN_SHARE;
  console.log(
    `soak: ${clients} clients at ${options.rate} msg/s each; churn: ${churn.toFixed(1)} a second, in turn leaving and ` +
      'joining again, or cut off and resuming their session on a new connection; ' +
      `heap after GC and open descriptors every ${SAMPLE_SECONDS} s for ${options.soakMinutes} min` +
      (options.processes > 1 ? `; ${options.processes} server processes and Redis (summed over the processes)` : ''),
  );
  const servers = await startServers({
    implementation: 'ours',
    processes: options.processes,
    ...(options.redis ? { redis: options.redis } : {}),
    serverFlags: [],
  });
  const samples: { minutes: number; heap: number; fds: number }[] = [];
  let connections = { least: Number.POSITIVE_INFINITY, last: Number.NaN };
  let pausesBefore = 0;
  try {
    const before = await heapOf(servers);
    const { load } = await startLoad(servers, clients, 'soak');
    try {
      await load.request('start', { mode: 'paced', rate: options.rate, churnPerSecond: churn } satisfies StartArgs);
      const started = performance.now();
      await sleep(2000);
      await load.request('report');
      console.log(
        `${'min'.padStart(5)}${'heap MB'.padStart(10)}${'KB/client'.padStart(11)}${'rss MB'.padStart(9)}${'fds'.padStart(8)}` +
          `${'msg/s'.padStart(8)}${'p50'.padStart(12)}${'p99'.padStart(12)}${'rejoins'.padStart(9)}${'resumes'.padStart(9)}` +
          `${'lost'.padStart(6)}${'loop ms'.padStart(9)}${'pauses'.padStart(8)}${'conns'.padStart(7)}   errors`,
      );
      const end = started + options.soakMinutes * 60_000;
      for (;;) {
        const heap = await heapOf(servers);
        const fds = await descriptorsOf(servers);
        const window = await load.request<WindowReport>('report');
        const block = await longestBlockOf(servers);
        const now = await pausesOf(servers);
        const pauses = now.pauses - pausesBefore;
        pausesBefore = now.pauses;
        connections = { least: Math.min(connections.least, now.connections), last: now.connections };
        const minutes = (performance.now() - started) / 60_000;
        samples.push({ minutes, heap: heap.heapUsed, fds });
        const errors = Object.entries(window.errors).map(([reason, count]) => `${reason} ×${count}`);
        console.log(
          `${minutes.toFixed(1).padStart(5)}${(heap.heapUsed / 2 ** 20).toFixed(2).padStart(10)}` +
            `${((heap.heapUsed - before.heapUsed) / clients / 1024).toFixed(2).padStart(11)}` +
            `${(heap.rss / 2 ** 20).toFixed(0).padStart(9)}${String(fds).padStart(8)}` +
            `${(window.received / window.seconds).toFixed(0).padStart(8)}` +
            `${`${window.latency.p50.toFixed(2)} ms`.padStart(12)}${`${window.latency.p99.toFixed(2)} ms`.padStart(12)}` +
            `${String(window.reconnects).padStart(9)}${String(window.resumes).padStart(9)}` +
            `${String(window.resumeLost).padStart(6)}${block.toFixed(0).padStart(9)}${String(pauses).padStart(8)}` +
            `${String(now.connections).padStart(7)}   ${errors.join(', ') || '-'}`,
        );
        const left = end - performance.now();
        if (left <= 1000) break;
        await sleep(Math.min(SAMPLE_SECONDS * 1000, left));
      }
      await load.request('stop');
    } finally {
      await load.stop();
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  // The first minute is warm-up: the sample taken as the load starts has not yet got the traffic's
  // steady share of buffers and code, and would make any run look like it grows.
  const settled = samples.filter((sample) => sample.minutes >= WARM_UP_MINUTES);
  const judged = settled.length >= 3 ? settled : samples;
  const mean = (some: typeof judged) => some.reduce((sum, s) => sum + s.heap, 0) / some.length;
  const first = mean(judged.slice(0, ENDS));
  const last = mean(judged.slice(-ENDS));
  const lastOverFirst = (judged[judged.length - 1]?.heap ?? Number.NaN) / (judged[0]?.heap ?? Number.NaN);
  const perMinute = slope(judged.map((s) => ({ x: s.minutes, y: s.heap })));
  const span = (judged[judged.length - 1]?.minutes ?? 0) - (judged[0]?.minutes ?? 0);
  const growth = perMinute * span;
  const flat = growth <= FLAT_SHARE * first && last / first <= 1 + FLAT_SHARE;
  const firstFds = judged[0]?.fds ?? Number.NaN;
  const lastFds = judged[judged.length - 1]?.fds ?? Number.NaN;
  const maxFds = Math.max(...judged.map((sample) => sample.fds));
  const fdsFlat = lastFds <= firstFds + FD_SLACK && maxFds <= firstFds + FD_SLACK;
  console.log('');
  console.log(
    `connections: ${connections.last} of ${clients} at the end, ${connections.least} at the fewest ` +
      '(a client that is cut off or resuming is briefly not connected)',
  );
  console.log(
    `descriptors: ${firstFds} → ${lastFds} (highest ${maxFds}); verdict: ${fdsFlat ? 'FLAT' : 'GROWING'} ` +
      `(flat = never more than ${FD_SLACK} above the first judged sample)`,
  );
  console.log(
    `heap trend: ${(perMinute / 1024).toFixed(1)} KB/min over ${span.toFixed(1)} min (${(growth / 2 ** 20).toFixed(2)} MB, ` +
      `${((growth / first) * 100).toFixed(1)} %), last ${ENDS}/first ${ENDS} ${(last / first).toFixed(3)} ` +
      `(last/first sample ${lastOverFirst.toFixed(3)}); verdict: ${flat ? 'FLAT' : 'GROWING'} ` +
      `(from minute ${judged[0]?.minutes.toFixed(1)}: flat = growth by the regression and from the mean of the ` +
      `first ${ENDS} samples to the mean of the last ${ENDS} both under ${FLAT_SHARE * 100}% of the first ${ENDS})`,
  );
}
