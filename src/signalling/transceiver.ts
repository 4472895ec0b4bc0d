import { SignallingError } from '../protocol/errors.js';
import { SignallingClosedError } from './errors.js';

/**
 * What a transport reports about itself, on a channel of its own that no
 * received frame can reach: `open` (first connected), `offline` (the
 * connection was lost; a new one is being made), `online` (a new connection
 * is up after `offline`), `closed` (over, by either side; nothing follows).
 */
export type TransportEvent = 'open' | 'offline' | 'online' | 'closed';

/** What a transport received: one server event (not yet validated), or why a frame could not even be read. */
export type ReceivedFrame =
  | {
      /** The event name, as the transport delivered it. */
      type: string;
      /** The event's data, not yet validated. */
      data: unknown;
    }
  | SignallingError;

/**
 * Event names that belong to the transport (its own states, and `error` for
 * unreadable frames). A server event of one of these names is refused, so a
 * server can never fake them, not even to a listener of the original API.
 */
const TRANSPORT_NAMES: ReadonlySet<string> = new Set(['open', 'offline', 'online', 'close', 'closed', 'error']);

/**
 * A two-way channel to the signalling server: the part you write to carry
 * rtcpool's signalling over any transport. A subclass overrides {@link send}
 * and {@link close}, and reports what happens on its transport through two
 * separate paths:
 *
 * - **Data**: each server event (`rtc:joined`, `rtc:sdp`, ...) with
 *   {@link receive}, passing the data as received ({@link Signalling}
 *   validates it); a frame the transport could not even read (not JSON,
 *   too large) with {@link reject}. Events the subclass dispatches on itself,
 *   in the style of the original rtcpool (`this.dispatchEvent(new
 *   CustomEvent(type, { detail: data }))`), are server events too, whatever
 *   their name, and an `error` CustomEvent is an unreadable frame.
 * - **Control**: the transport's own state, only through the protected
 *   methods {@link connected} (`open`, or `online` after a loss),
 *   {@link disconnected} (`offline`) and {@link close} (`closed`). No frame of
 *   any name reaches this path.
 *
 * {@link Signalling} listens to both with {@link onFrame} and
 * {@link onTransport}. For the original client's listeners the transceiver
 * also dispatches each server event as a `CustomEvent` of its type, unreadable
 * frames as `error`, and its states as `open`, `offline`, `online` and `close`
 * Events. After `close` nothing more is reported or dispatched, so late
 * frames of a closing socket are dropped here, once, for every subclass.
 *
 * @example
 * // A transceiver over a MessagePort whose other end relays to the server.
 * class PortTransceiver extends Transceiver {
 *   constructor(private readonly port: MessagePort) {
 *     super();
 *     port.onmessage = ({ data }) => this.receive(data.type, data.data);
 *     this.connected();
 *   }
 *   override send(type: string, data: unknown): void {
 *     if (this.closed) throw new SignallingClosedError(`PortTransceiver: closed, ${type} not sent`);
 *     this.port.postMessage({ type, data });
 *   }
 *   override close(): void {
 *     this.port.close();
 *     super.close(); // reports `closed` (once)
 *   }
 * }
 * const signalling = new Signalling(new PortTransceiver(port));
 */
export class Transceiver extends EventTarget {
  #closed = false;
  #offline = false;
  #opened = false;
  /** Set while this class dispatches its own events, which are then not taken for a subclass's server events. */
  #dispatching = false;
  readonly #frameListeners = new Set<(frame: ReceivedFrame) => void>();
  readonly #transportListeners = new Set<(event: TransportEvent) => void>();
  readonly #taps = new Set<(event: Event) => void>();

  /** True once `closed` was reported: the transport is gone and nothing more arrives. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one event to the server. Override it; throw (a {@link SignallingClosedError})
   * if the transport is closed rather than losing the message silently.
   */
  send(type: string, _data: unknown): void {
    if (this.#closed) throw new SignallingClosedError(`${this.constructor.name}: closed, ${type} not sent`);
    throw new TypeError(`${this.constructor.name} cannot send ${type}: override Transceiver.send`);
  }

  /**
   * True when this transceiver replaces a lost connection by itself (reporting `offline`, then `online`), so that
   * {@link reconnect} does something. A subclass that does overrides both.
   */
  get reconnects(): boolean {
    return false;
  }

  /**
   * Takes the current connection for lost although it has not closed (it went silent: {@link Signalling}'s
   * heartbeat calls this) and makes a new one, reporting `offline` and then `online`. Does nothing unless
   * {@link reconnects}.
   */
  reconnect(): void {}

  /** Closes the channel and reports `closed` (once). Override it to close the transport, then call `super.close()`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#report('closed', 'close');
  }

  /** Calls `listener` with every server event and every unreadable frame. Returns the function that removes it. */
  onFrame(listener: (frame: ReceivedFrame) => void): () => void {
    this.#frameListeners.add(listener);
    return () => this.#frameListeners.delete(listener);
  }

  /** Calls `listener` with each change of the transport's state. Returns the function that removes it. */
  onTransport(listener: (event: TransportEvent) => void): () => void {
    this.#transportListeners.add(listener);
    return () => this.#transportListeners.delete(listener);
  }

  /**
   * Calls `listener` with every event this transceiver dispatches, whatever
   * its type (like socket.io's `onAny`), for logging and tests. Returns the
   * function that removes it.
   */
  onAny(listener: (event: Event) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /**
   * A subclass dispatching an event itself, as the original rtcpool's
   * transceivers did, reports a server event (an `error` CustomEvent: an
   * unreadable frame, its detail the cause). Only this class's own protected
   * methods report the transport's state.
   */
  override dispatchEvent(event: Event): boolean {
    if (this.#dispatching) return this.#dispatch(event);
    if (this.#closed) return false;
    const detail = event instanceof CustomEvent ? (event.detail as unknown) : undefined;
    if (event.type === 'error') {
      this.reject(
        detail instanceof SignallingError
          ? detail
          : new SignallingError('malformed-frame', 'the transceiver reported an error', { cause: detail }),
      );
    } else this.receive(event.type, detail);
    return true;
  }

  /** Reports one server event, as received. A server event named like one of the transport's own is refused. */
  protected receive(type: string, data: unknown): void {
    if (this.#closed) return;
    if (TRANSPORT_NAMES.has(type)) {
      this.reject(new SignallingError('unknown-event', `unknown event ${JSON.stringify(type)}`));
      return;
    }
    for (const listener of this.#frameListeners) listener({ type, data });
    this.#emit(new CustomEvent(type, { detail: data }));
  }

  /** Reports a frame the transport could not read; the channel stays open. */
  protected reject(error: SignallingError): void {
    if (this.#closed) return;
    for (const listener of this.#frameListeners) listener(error);
    this.#emit(new CustomEvent('error', { detail: error }));
  }

  /** The transport is connected: `open` the first time, `online` after {@link disconnected}. */
  protected connected(): void {
    if (this.#closed || (this.#opened && !this.#offline)) return;
    // A transport that was connected before this transceiver saw it (a socket.io socket already up) comes back `online`.
    const event = this.#offline ? 'online' : 'open';
    this.#opened = true;
    this.#offline = false;
    this.#report(event, event);
  }

  /** The connection was lost and a new one is being made: `offline`. Call {@link close} instead when it is over. */
  protected disconnected(): void {
    if (this.#closed || this.#offline) return;
    this.#offline = true;
    this.#report('offline', 'offline');
  }

  #report(event: TransportEvent, name: string): void {
    for (const listener of this.#transportListeners) listener(event);
    this.#emit(new Event(name));
  }

  /** Dispatches one of this class's own events: not taken for a subclass's server event. */
  #emit(event: Event): void {
    const outer = this.#dispatching;
    this.#dispatching = true;
    try {
      this.#dispatch(event);
    } finally {
      this.#dispatching = outer;
    }
  }

  #dispatch(event: Event): boolean {
    const result = super.dispatchEvent(event);
    for (const tap of this.#taps) tap(event);
    return result;
  }
}

/** The original rtcpool's `transceiver`, for drop-in use: `class MyTransceiver extends transceiver { ... }`. */
export const transceiver = Transceiver;
