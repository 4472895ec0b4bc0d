/**
 * One server under test, alone in its process (forked with `--expose-gc`):
 * `ours` (createSignallingServer, default options unless the orchestrator
 * passes `--redis`) or `bare` (bare.ts). Answers the orchestrator over IPC:
 * `heap` (forced GC, then `process.memoryUsage()`), `cpu` (this process's CPU
 * time), `relays` (frames relayed so far), `fds` (open file descriptors; ours only), `loop` (the longest the
 * event loop was blocked since the last `loop`, ms, leaving out the forced GC of `heap`), `pauses` (times
 * ours stopped reading for backpressure).
 *
 *   node --expose-gc --import tsx bench/server/server-process.ts ours|bare [--redis redis://127.0.0.1:PORT] [--port N]
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULTS, type SignallingServerOptions } from '../../src/server/options.js';
import { consoleLogger } from '../../src/shared/logger.js';
import { startBareRelay } from './bare.js';
import { serveParent } from './child.js';

export interface ServerReady {
  port: number;
  /** The options given to createSignallingServer beyond its defaults (none for bare). */
  options: Record<string, unknown>;
}

export interface HeapSample {
  heapUsed: number;
  rss: number;
  external: number;
}

/**
 * Our server from the built package (`npm run bench:server` builds first), as users run it: under
 * tsx's loader the sources carry esbuild's keepNames wrappers, which give every closure its own
 * property array, about 1 KB more per client than the real thing.
 */
const built = new URL('../../dist/server/index.js', import.meta.url).href;
const { createSignallingServer } = (await import(built)) as typeof import('../../src/server/index.js');

const gc = (globalThis as { gc?: () => void }).gc;

/** How late the event loop ran (a timer every 20 ms): a frozen loop is a server that answers nobody. */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/** The longest block before the last forced GC, since the last call (ns). */
let carried = 0;

/** The longest block since the last call, ms. */
function longestBlock(): number {
  const max = Math.max(carried, loopDelay.max) / 1e6;
  carried = 0;
  loopDelay.reset();
  return max;
}

/** Full collections until the heap stops shrinking (weak refs and finalizers can free more on a second pass). */
async function settledHeap(): Promise<HeapSample> {
  if (!gc) throw new Error('the server process needs --expose-gc');
  carried = Math.max(carried, loopDelay.max);
  let last = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 6; pass += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (used >= last * 0.999) break;
    last = used;
  }
  const { heapUsed, rss, external } = process.memoryUsage();
  // The collections above blocked the loop on the bench's account: not counted in `loop` (the delay is recorded
  // by the monitor's first timer after them, which runs before this one).
  await new Promise((resolve) => setTimeout(resolve, 50));
  loopDelay.reset();
  return { heapUsed, rss, external };
}

/** File descriptors this process holds (Linux: the entries of /proc/self/fd), or NaN where that is unknown. */
function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { redis: { type: 'string' }, port: { type: 'string', default: '0' } },
  });
  const implementation = positionals[0];
  if (implementation === 'bare') {
    const bare = await startBareRelay(DEFAULTS.maxMessageBytes);
    serveParent({ port: bare.port, options: {} } satisfies ServerReady, {
      heap: settledHeap,
      cpu: () => process.cpuUsage(),
      relays: () => bare.relays,
    });
    return;
  }
  if (implementation !== 'ours') throw new Error('server-process: ours or bare');
  const options: SignallingServerOptions = values.redis === undefined ? {} : { redis: values.redis };
  // Warnings and errors (a lost Redis connection, a catch-up, a refused relay) go to stderr, which the bench shows:
  // a run that goes wrong says what the server saw.
  const server = await createSignallingServer({
    host: '127.0.0.1',
    port: Number(values.port),
    logger: consoleLogger('warn'),
    ...options,
  });
  serveParent({ port: server.port, options: { ...options } } satisfies ServerReady, {
    heap: settledHeap,
    cpu: () => process.cpuUsage(),
    relays: () => server.stats().relays,
    connections: () => server.stats().connections,
    fds: openDescriptors,
    loop: longestBlock,
    pauses: () => server.stats().pauses,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
