import { RtcpoolError } from '../shared/errors.js';

/**
 * A message was sent on a signalling channel (or transceiver) that is
 * closed. Thrown rather than dropped: a lost offer or candidate would wedge a
 * negotiation without a trace. A `Pool` turns it into an `error` event
 * (`signalling-closed`) instead of letting it escape.
 *
 * @example
 * try {
 *   signalling.send(joinMessage('lobby'));
 * } catch (error) {
 *   if (error instanceof SignallingClosedError) reconnect();
 * }
 */
export class SignallingClosedError extends RtcpoolError {
  /** Always `SignallingClosedError`, whatever a minifier does to the class's own name. */
  override readonly name = 'SignallingClosedError';
  /** The one code of this error, as a `PoolError` reporting it carries too. */
  readonly code = 'signalling-closed';
}
