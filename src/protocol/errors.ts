import { RtcpoolError } from '../shared/errors.js';

/** Stable codes for everything a frame can get wrong. */
export type SignallingErrorCode =
  /** Not JSON, not a `{ type, data }` object, or `data` is not an object. */
  | 'malformed-frame'
  /** A well-formed frame whose `type` this side of the protocol does not know. */
  | 'unknown-event'
  /** A known event with a missing or invalid field; `field` names it. */
  | 'invalid-field'
  /** The raw frame is longer than `maxFrameBytes`; it was not parsed. */
  | 'frame-too-large'
  /**
   * An event this side must never send: a client's `rtc:describe`. Descriptions
   * are trusted because only the back-end sets them (the original demo server's hole).
   */
  | 'forbidden-event';

/**
 * A signalling frame was rejected. Parsers return it (they never throw); a
 * server answers it with `rtc:error { message, reason: code }` and keeps going.
 *
 * @example
 * const result = parseServerFrame(event.data);
 * if (!result.ok) logger.log('warn', 'signal', result.error.message, { code: result.error.code });
 */
export class SignallingError extends RtcpoolError {
  /** Always `SignallingError`, whatever a minifier does to the class's own name. */
  override readonly name = 'SignallingError';
  /** What was wrong with the frame; a server sends it back as the `rtc:error` reason. */
  readonly code: SignallingErrorCode;
  /** The offending field as a path such as `data.description.sdp`, for `invalid-field`. */
  readonly field?: string;

  constructor(code: SignallingErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.field !== undefined) this.field = options.field;
  }
}
