import { SignallingError } from '../protocol/errors.js';

/**
 * A two-way channel to the signalling server: the part you write to carry
 * rtcpool's signalling over any transport. A subclass overrides {@link send}
 * and {@link close}, and reports what happens on its transport with three
 * events on itself, most easily through the protected helpers:
 *
 * - a server event (`rtc:joined`, `rtc:sdp`, ...): {@link receive}, or
 *   `this.dispatchEvent(new CustomEvent(type, { detail: data }))` as in the
 *   original rtcpool. Pass the data as received: {@link Signalling} validates it.
 * - `error`, a `CustomEvent` whose `detail` is a `SignallingError`: a frame the
 *   transport could not even read (not JSON, binary, too large). {@link reject}.
 * - `close`: the transport is gone, by either side. {@link close} dispatches it.
 *
 * After `close` a transceiver dispatches nothing more, so late frames of a
 * closing socket are dropped here, once, for every subclass.
 *
 * @example
 * // A transceiver over a MessagePort whose other end relays to the server.
 * class PortTransceiver extends Transceiver {
 *   constructor(private readonly port: MessagePort) {
 *     super();
 *     port.onmessage = ({ data }) => this.receive(data.type, data.data);
 *   }
 *   override send(type: string, data: unknown): void {
 *     if (this.closed) throw new Error('PortTransceiver: closed');
 *     this.port.postMessage({ type, data });
 *   }
 *   override close(): void {
 *     this.port.close();
 *     super.close(); // dispatches `close` (once)
 *   }
 * }
 * const signalling = new Signalling(new PortTransceiver(port));
 */
export class Transceiver extends EventTarget {
  #closed = false;
  readonly #taps = new Set<(event: Event) => void>();

  /** True once `close` was dispatched: the transport is gone and nothing more arrives. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one event to the server. Override it; throw if the transport is
   * closed rather than losing the message silently.
   */
  send(type: string, _data: unknown): void {
    throw new Error(`${this.constructor.name} cannot send ${type}: override Transceiver.send`);
  }

  /** Closes the channel and dispatches `close` (once). Override it to close the transport, then call `super.close()`. */
  close(): void {
    this.dispatchEvent(new Event('close'));
  }

  /**
   * Calls `listener` with every event this transceiver dispatches, whatever its
   * type (like socket.io's `onAny`): how {@link Signalling} hears server events it
   * does not know. Returns the function that removes the listener.
   */
  onAny(listener: (event: Event) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  override dispatchEvent(event: Event): boolean {
    if (this.#closed) return false;
    this.#closed = event.type === 'close';
    const result = super.dispatchEvent(event);
    for (const tap of this.#taps) tap(event);
    return result;
  }

  /** Reports one server event. `error` and `close` are this class's own events, so a server cannot send them. */
  protected receive(type: string, data: unknown): void {
    if (type === 'error' || type === 'close') {
      this.reject(new SignallingError('unknown-event', `unknown event "${type}"`));
    } else this.dispatchEvent(new CustomEvent(type, { detail: data }));
  }

  /** Reports a frame the transport could not read as an `error` event; the channel stays open. */
  protected reject(error: SignallingError): void {
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
  }
}

/** The original rtcpool's `transceiver`, for drop-in use: `class MyTransceiver extends transceiver { ... }`. */
export const transceiver = Transceiver;
