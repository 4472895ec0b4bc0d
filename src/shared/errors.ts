/** The mark every rtcpool error carries; `NegotiationError` (in `machines/`, which cannot import this file) sets it itself. */
const RTCPOOL_ERROR = Symbol.for('rtcpool.error');

/**
 * The base of every error rtcpool throws or reports: `PoolError`,
 * `SignallingError`, `SignallingClosedError` and `NegotiationError`. Each has
 * a stable `code` to branch on and a human `message`.
 *
 * `NegotiationError` comes from the machines, which import nothing but
 * XState; it carries the same mark instead of extending this class, and
 * `instanceof RtcpoolError` recognises it all the same.
 *
 * @example
 * try {
 *   await pool.join('lobby');
 * } catch (error) {
 *   if (error instanceof RtcpoolError) console.warn(error.code, error.message);
 *   else throw error;
 * }
 */
export abstract class RtcpoolError extends Error {
  /** Stable across versions, unlike `message`: branch on this. Each subclass narrows it to its own codes. */
  abstract readonly code: string;
}

Object.defineProperty(RtcpoolError.prototype, RTCPOOL_ERROR, { value: true });

// `x instanceof RtcpoolError` is true for every marked error. Subclasses inherit this function, and `this` is
// then the subclass `instanceof` was asked about: they keep the ordinary prototype check.
Object.defineProperty(RtcpoolError, Symbol.hasInstance, {
  value(this: unknown, value: unknown): boolean {
    if (this !== RtcpoolError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof Error && (value as { [RTCPOOL_ERROR]?: unknown })[RTCPOOL_ERROR] === true;
  },
});
