import type { Awaitable } from '../../src/server/backplane/types.js';
import { Hub } from '../../src/server/hub.js';
import type { HubOptions } from '../../src/server/options.js';
import { silentLogger } from '../../src/shared/logger.js';

/**
 * A hub (the server without transports) for model and fuzz tests: a frozen
 * clock and a rate limit that never bites, so every frame is judged on its
 * content alone; `overrides` changes what a test needs.
 */
export function testHub(overrides: Partial<HubOptions> = {}): Hub {
  return new Hub({
    pools: 'public',
    resolvePool: undefined,
    maxPeersPerPool: 8,
    rateLimit: { perSecond: 1, burst: 1_000_000 },
    heartbeat: { intervalMs: 1_000, timeoutMs: 2_000 },
    joinTimeoutMs: 10_000,
    resumeWindowMs: 0,
    now: () => 0,
    logger: silentLogger,
    ...overrides,
  });
}

/** What the memory backplane answered, which it does synchronously (a promise here is a bug). */
export function settled<T>(value: Awaitable<T>): T {
  if (value instanceof Promise) throw new Error('the memory backplane answers synchronously');
  return value;
}
