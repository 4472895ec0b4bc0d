/** Stable codes for everything that can go wrong while negotiating. */
export type NegotiationErrorCode =
  | 'offer-failed'
  | 'answer-failed'
  | 'remote-offer-rejected'
  | 'remote-answer-rejected'
  | 'candidate-rejected'
  | 'rollback-failed'
  | 'signal-overflow'
  | 'not-provided'
  | 'machine-failed';

/**
 * A negotiation step failed. The connection's machine has already recovered
 * (or given up, for `rollback-failed`); this error is a report, never thrown
 * at the application. A `Pool` delivers it as an `error` event with the
 * connection it concerns.
 *
 * @example
 * actor.on('negotiation.error', ({ error }) => {
 *   if (error.code === 'remote-offer-rejected') console.warn(error.message);
 * });
 */
export class NegotiationError extends Error {
  /** Always `NegotiationError`, whatever a minifier does to the class's own name. */
  override readonly name = 'NegotiationError';
  /** Which step failed, to branch on. */
  readonly code: NegotiationErrorCode;

  constructor(code: NegotiationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Wraps whatever a WebRTC call rejected with, keeping it as `cause`. */
  static from(code: NegotiationErrorCode, cause: unknown): NegotiationError {
    if (cause instanceof NegotiationError) return cause;
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    return new NegotiationError(code, `${code}: ${detail}`, { cause });
  }
}

// The mark of every rtcpool error, so that `instanceof RtcpoolError` (src/shared/errors.ts) recognises this one
// too: the machines import nothing outside XState, so this class cannot extend that one.
Object.defineProperty(NegotiationError.prototype, Symbol.for('rtcpool.error'), { value: true });
