import { LEGACY_SERVER_EVENTS, SERVER_EVENTS } from '../protocol/messages.js';
import { Transceiver } from './transceiver.js';

type Listener = (data: unknown) => void;
type AnyListener = (event: string, data: unknown) => void;

/** What {@link SocketIoTransceiver} needs of a socket.io client socket (`io(url)` fits). */
export interface SocketIoLike {
  emit(event: string, data: unknown): unknown;
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  /** Used when present, to report events the protocol does not know. */
  onAny?(listener: AnyListener): unknown;
  offAny?(listener: AnyListener): unknown;
  disconnect(): unknown;
}

const known: readonly string[] = [...SERVER_EVENTS, ...LEGACY_SERVER_EVENTS];

/**
 * Signalling over socket.io: each message is the socket.io event `type` with
 * `data` as its one argument. socket.io buffers what is emitted while it
 * connects. The protocol's server events are listened to by name; any other
 * event (seen through `onAny`, where the socket has it) is reported as an
 * unknown event. A `disconnect` closes the transceiver: the server has
 * forgotten this endpoint, so a reconnected socket would not be in the pool.
 * {@link send} after that throws.
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
    this.#listen('disconnect', () => this.close());
    socket.onAny?.(this.#unknown);
  }

  override send(type: string, data: unknown): void {
    if (this.closed) throw new Error(`SocketIoTransceiver: closed, ${type} not sent`);
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
