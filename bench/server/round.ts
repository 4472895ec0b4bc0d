/**
 * One round: fresh server process(es), a fresh load generator, then heap at
 * idle, latency at a paced load and throughput at saturation, in that order.
 */
import { Redis } from 'ioredis';
import { type BenchChild, forkChild, sleep } from './child.js';
import type { StartArgs, WindowReport } from './load.js';
import type { RoundResult } from './report.js';
import type { HeapSample, ServerReady } from './server-process.js';

export interface RoundOptions {
  implementation: 'ours' | 'bare';
  /** Server processes; more than one needs `redis`. */
  processes: number;
  redis?: string;
  clients: number;
  poolPrefix: string;
  /** Paced load for the latency window, msg/s per client. */
  rate: number;
  latencySeconds: number;
  throughputSeconds: number;
  /** Messages in flight at saturation, across all clients. */
  window: number;
  /** Per-client ceiling at saturation, under the server's 50/s limit. */
  maxRate: number;
  /** Seconds to wait after the joins before the idle heap (more than the server's 10 s heartbeat). */
  idleSeconds: number;
  /** Extra Node flags for the server processes (`--cpu-prof`). */
  serverFlags: readonly string[];
}

export type Servers = BenchChild<ServerReady>[];

export async function startServers(
  options: Pick<RoundOptions, 'implementation' | 'processes' | 'redis' | 'serverFlags'>,
) {
  const args = [options.implementation, ...(options.redis ? ['--redis', options.redis] : [])];
  const flags = ['--expose-gc', ...(options.implementation === 'ours' ? options.serverFlags : [])];
  return Promise.all(
    Array.from({ length: options.processes }, () => forkChild<ServerReady>('server-process.ts', args, flags)),
  );
}

export const urlsOf = (servers: Servers) => servers.map((server) => `http://127.0.0.1:${server.ready.port}`);

/** heapUsed and rss summed over the server processes, each after forced GC. */
export async function heapOf(servers: Servers): Promise<HeapSample> {
  // One process at a time: forced collections in all of them at once would stall the whole cluster together.
  const samples: HeapSample[] = [];
  for (const server of servers) samples.push(await server.request<HeapSample>('heap'));
  return samples.reduce((sum, s) => ({
    heapUsed: sum.heapUsed + s.heapUsed,
    rss: sum.rss + s.rss,
    external: sum.external + s.external,
  }));
}

/** Open file descriptors of our server processes, summed. */
export async function descriptorsOf(servers: Servers): Promise<number> {
  const counts = await Promise.all(servers.map((server) => server.request<number>('fds')));
  return counts.reduce((sum, count) => sum + count, 0);
}

/** The longest any of our server processes' event loops was blocked since the last ask, ms. */
export async function longestBlockOf(servers: Servers): Promise<number> {
  const blocks = await Promise.all(servers.map((server) => server.request<number>('loop')));
  return Math.max(...blocks);
}

/** Backpressure pauses of our server processes so far, summed, and their open connections. */
export async function pausesOf(servers: Servers): Promise<{ pauses: number; connections: number }> {
  const [pauses, connections] = await Promise.all(
    ['pauses', 'connections'].map(async (what) => {
      const counts = await Promise.all(servers.map((server) => server.request<number>(what)));
      return counts.reduce((sum, count) => sum + count, 0);
    }),
  );
  return { pauses: pauses ?? 0, connections: connections ?? 0 };
}

/** CPU time of the server processes, ms. */
async function cpuOf(servers: Servers): Promise<number> {
  const samples = await Promise.all(servers.map((server) => server.request<NodeJS.CpuUsage>('cpu')));
  return samples.reduce((sum, s) => sum + (s.user + s.system) / 1000, 0);
}

export async function startLoad(servers: Servers, clients: number, poolPrefix: string) {
  const load = await forkChild<null>('load.ts', []);
  try {
    const connected = await load.request<{ ms: number }>('connect', { urls: urlsOf(servers), clients, poolPrefix });
    return { load, connectMs: connected.ms };
  } catch (error) {
    await load.stop();
    throw error;
  }
}

/** Redis's `used_memory`, bytes. */
async function redisMemory(url: string): Promise<number> {
  const redis = new Redis(url);
  try {
    return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  } finally {
    redis.disconnect();
  }
}

export async function runRound(options: RoundOptions): Promise<RoundResult> {
  const servers = await startServers(options);
  try {
    await sleep(200);
    const before = await heapOf(servers);
    const { load, connectMs } = await startLoad(servers, options.clients, options.poolPrefix);
    try {
      await sleep(1000);
      const joined = await heapOf(servers);
      // Idle means a heartbeat has gone by: our server keeps each client's recent frames until a pong acknowledges them.
      await sleep(options.idleSeconds * 1000);
      const idle = await heapOf(servers);
      const redisIdle = options.redis ? await redisMemory(options.redis) : undefined;

      await load.request('start', { mode: 'paced', rate: options.rate } satisfies StartArgs);
      await sleep(2000);
      const pacedWarmup = await load.request<WindowReport>('report');
      const pacedCpuBefore = await cpuOf(servers);
      await sleep(options.latencySeconds * 1000);
      const paced = await load.request<WindowReport>('report');
      const pacedCpuMs = (await cpuOf(servers)) - pacedCpuBefore;
      const loaded = await heapOf(servers);
      await load.request('stop');

      await load.request('start', {
        mode: 'saturate',
        window: options.window,
        maxRate: options.maxRate,
      } satisfies StartArgs);
      await sleep(1000);
      const saturatedWarmup = await load.request<WindowReport>('report');
      const cpuBefore = await cpuOf(servers);
      await sleep(options.throughputSeconds * 1000);
      const saturated = await load.request<WindowReport>('report');
      const serverCpuMs = (await cpuOf(servers)) - cpuBefore;
      await load.request('stop');
      const redisLoaded = options.redis ? await redisMemory(options.redis) : undefined;

      const errors: Record<string, number> = {};
      for (const window of [paced, saturated]) {
        for (const [reason, count] of Object.entries(window.errors)) errors[reason] = (errors[reason] ?? 0) + count;
      }
      return {
        throughput: saturated.received / saturated.seconds,
        serverCpu: serverCpuMs / 1000 / saturated.seconds,
        loadCpu: saturated.cpuMs / 1000 / saturated.seconds,
        p50: paced.latency.p50,
        p99: paced.latency.p99,
        pacedRate: paced.received / paced.seconds,
        pacedCpuPerFrameUs: (pacedCpuMs * 1000) / paced.received,
        heapPerClient: (idle.heapUsed - before.heapUsed) / options.clients,
        heapAtJoinPerClient: (joined.heapUsed - before.heapUsed) / options.clients,
        heapLoadedPerClient: (loaded.heapUsed - before.heapUsed) / options.clients,
        rssPerClient: (idle.rss - before.rss) / options.clients,
        connectMs,
        errors,
        ...(redisIdle !== undefined &&
          redisLoaded !== undefined && {
            redisBytesPerEvent:
              (redisLoaded - redisIdle) /
              [pacedWarmup, paced, saturatedWarmup, saturated].reduce((sum, window) => sum + window.received, 0),
          }),
      };
    } finally {
      await load.stop();
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}
