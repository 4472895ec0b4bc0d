import { LEGACY_SERVER_EVENTS, SERVER_EVENTS } from '../protocol/messages.js';
import { SignallingClosedError } from './errors.js';
import { Transceiver } from './transceiver.js';

/**
 * A listener for one event: its one argument is the event's data.
 *
 * @inline
 */
type Listener = (data: unknown) => void;
/**
 * A listener for every event, with its name.
 *
 * @inline
 */
type AnyListener = (event: string, data: unknown) => void;

/** What {@link SocketIoTransceiver} needs of a socket.io client socket (`io(url)` fits). */
export interface SocketIoLike {
  /** Sends one message: the event `type` with `data` as its one argument. */
  emit(event: string, data: unknown): unknown;
  /** Listens to each server event by name, and to `connect` and `disconnect`. */
  on(event: string, listener: Listener): unknown;
  /** Removes those listeners when the transceiver closes. */
  off(event: string, listener: Listener): unknown;
  /** Used when present, to report events the protocol does not know. */
  onAny?(listener: AnyListener): unknown;
  /** Removes the `onAny` listener when the transceiver closes. */
  offAny?(listener: AnyListener): unknown;
  /** Called when the transceiver closes. */
  disconnect(): unknown;
  /** The socket's Manager (`socket.io`), when present: whether it reconnects after a lost connection. */
  readonly io?: {
    /** False when the Manager was made with `reconnection: false`: a lost connection is then the end. */
    reconnection(): boolean;
  };
  /** What socket.io keeps to emit once it reconnects, when present: emptied on `offline` (see the class). */
  sendBuffer?: unknown[];
}

const known: readonly string[] = [...SERVER_EVENTS, ...LEGACY_SERVER_EVENTS];

/**
 * Signalling over socket.io: each message is the socket.io event `type` with
 * `data` as its one argument. socket.io buffers what is emitted while it
 * connects. The protocol's server events are listened to by name; any other
 * event (seen through `onAny`, where the socket has it) is reported as an
 * unknown event.
 *
 * socket.io reconnects by itself. A `disconnect` that it will not repair
 * (`io client disconnect`, `io server disconnect`, or a Manager made with
 * `reconnection: false`) closes the transceiver, and {@link send} throws after
 * that. Any other (`transport close`, `ping timeout`, ...) is reported
 * `offline`, and the next `connect` `online`: {@link Signalling} then
 * resumes its session. Events that socket.io buffered to emit on reconnection
 * are dropped on `offline`: Signalling sends again whatever the server
 * missed, and would otherwise find them sent twice.
 *
 * @example
 * import { io } from 'socket.io-client';
 * const signalling = new Signalling(new SocketIoTransceiver(io('https://example.org')));
 */
export class SocketIoTransceiver extends Transceiver {
  readonly #socket: SocketIoLike;
  readonly #listeners = new Map<string, Listener>();
  readonly #unknown: AnyListener = (type, data) => {
    if (!known.includes(type)) this.receive(type, data);
  };

  constructor(socket: SocketIoLike) {
    super();
    this.#socket = socket;
    for (const type of known) this.#listen(type, (data) => this.receive(type, data));
    this.#listen('disconnect', (reason) => {
      if (reason === 'io client disconnect' || reason === 'io server disconnect' || socket.io?.reconnection() === false)
        return this.close();
      if (socket.sendBuffer) socket.sendBuffer.length = 0;
      this.disconnected();
    });
    this.#listen('connect', () => this.connected());
    socket.onAny?.(this.#unknown);
  }

  override send(type: string, data: unknown): void {
    if (this.closed) throw new SignallingClosedError(`SocketIoTransceiver: closed, ${type} not sent`);
    this.#socket.emit(type, data);
  }

  /** Removes this transceiver's listeners and disconnects the socket. Idempotent. */
  override close(): void {
    if (this.closed) return;
    for (const [type, listener] of this.#listeners) this.#socket.off(type, listener);
    this.#socket.offAny?.(this.#unknown);
    this.#socket.disconnect();
    super.close();
  }

  #listen(type: string, listener: Listener): void {
    this.#listeners.set(type, listener);
    this.#socket.on(type, listener);
  }
}
