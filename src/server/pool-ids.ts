/** Pool ids: what makes one valid, and the `resolvePool` hook that may replace the one a client asked for. */
import { PROTOCOL_LIMITS } from '../protocol/index.js';
import type { Logger } from '../shared/logger.js';
import type { ConnectionInfo, ResolvePool } from './options.js';

/** Throws a TypeError unless `id` is a non-empty string within the protocol's length limit. */
export function checkPoolId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > PROTOCOL_LIMITS.maxPoolLength) {
    throw new TypeError(`a pool id is a non-empty string of at most ${PROTOCOL_LIMITS.maxPoolLength} characters`);
  }
}

/**
 * The pool `resolvePool` puts a join into, or null to refuse it. A hook that throws, or answers an invalid id,
 * refuses this join only (logged).
 */
export async function resolvePoolId(
  resolvePool: ResolvePool<unknown>,
  requested: string,
  connection: ConnectionInfo<unknown>,
  logger: Logger,
): Promise<string | null> {
  try {
    const poolId = await resolvePool(requested, connection);
    if (poolId == null) return null;
    checkPoolId(poolId);
    return poolId;
  } catch (error) {
    logger.log('warn', 'server', 'resolvePool failed; join refused', { requested, error: String(error) });
    return null;
  }
}
