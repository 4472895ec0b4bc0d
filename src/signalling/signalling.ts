import { type Observable, Subject } from 'rxjs';
import type { Logger } from '../logger.js';
import { SignallingError } from '../protocol/errors.js';
import type { ClientMessage, ServerMessage } from '../protocol/messages.js';
import { parseServerEvent } from '../protocol/parse.js';
import { type SocketIoLike, SocketIoTransceiver } from './socketio.js';
import type { Transceiver } from './transceiver.js';
import { type WebSocketLike, WebSocketTransceiver, type WebSocketTransceiverOptions } from './websocket.js';

type Data<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>['data'];

/**
 * The events a {@link Signalling} dispatches on itself, by the names the
 * original rtcpool used, each a `CustomEvent` whose `detail` is the parsed
 * message's data (version 2 fields, whichever version the server spoke).
 */
export interface SignallingEventMap {
  /** `rtc:joined`: this endpoint is in the pool. */
  join: CustomEvent<Data<'rtc:joined'>>;
  /** `rtc:peer` (v1 `rtc:request_offers`): a peer joined after us. */
  peer: CustomEvent<Data<'rtc:peer'>>;
  /** The same as `peer`, under its version 1 name. */
  request: CustomEvent<Data<'rtc:peer'>>;
  /** `rtc:sdp` (v1 `rtc:offer`, `rtc:answer`): a description from a peer. */
  sdp: CustomEvent<Data<'rtc:sdp'>>;
  /** The same as `sdp`, when the description is an offer. */
  offer: CustomEvent<Data<'rtc:sdp'>>;
  /** The same as `sdp`, when the description is an answer. */
  answer: CustomEvent<Data<'rtc:sdp'>>;
  /** `rtc:candidate`: a trickled candidate (null: the peer's last). */
  candidate: CustomEvent<Data<'rtc:candidate'>>;
  /** `rtc:close`: a peer left. */
  close: CustomEvent<Data<'rtc:close'>>;
  /** `rtc:stop`: the server force-closed the pool. */
  stop: CustomEvent<Data<'rtc:stop'>>;
  /** `rtc:describe`: the back-end set a peer's description. */
  describe: CustomEvent<Data<'rtc:describe'>>;
  /** `rtc:error`: the server refused something this endpoint sent. */
  servererror: CustomEvent<Data<'rtc:error'>>;
  /** `rtc:resumed`: the session continues on a new connection after a lost one. */
  resumed: CustomEvent<Data<'rtc:resumed'>>;
  /** A frame or event from the server was refused here (malformed, unknown, invalid); the channel carries on. */
  error: CustomEvent<SignallingError>;
}

const names: Record<ServerMessage['type'], string[]> = {
  'rtc:joined': ['join'],
  'rtc:peer': ['peer', 'request'],
  'rtc:sdp': ['sdp'],
  'rtc:candidate': ['candidate'],
  'rtc:close': ['close'],
  'rtc:stop': ['stop'],
  'rtc:describe': ['describe'],
  'rtc:error': ['servererror'],
  'rtc:resumed': ['resumed'],
};

export interface SignallingOptions {
  /** Area `signal`: a warning per refused frame, one info line on close, each message at debug. */
  logger?: Logger;
}

/**
 * The client's signalling channel: what a pool reads server messages from
 * and sends its own through. Wraps a {@link Transceiver} and parses each event
 * it receives once, into a typed {@link ServerMessage} (both protocol versions,
 * normalized to version 2) or a {@link SignallingError}. Nothing it receives
 * makes it throw or stop.
 *
 * Read it as streams (`messages`, `errors`) or, as in the original rtcpool, as
 * events on the instance (see {@link SignallingEventMap}).
 *
 * Both streams are hot (a subscriber sees what arrives after it subscribed)
 * and complete when the channel closes, by {@link close} or because the
 * transport went away.
 *
 * @example
 * const signalling = new Signalling.websocket(new WebSocket('wss://example.org/rtc'));
 * // or new Signalling.socket.io(io(url)), or new Signalling(new MyTransceiver())
 * signalling.messages.subscribe((message) => {
 *   if (message.type === 'rtc:joined') console.log('I am', message.data.client_id);
 * });
 * signalling.addEventListener('peer', (event) => console.log('peer joined', event.detail.id));
 * signalling.send(joinMessage('lobby'));
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed overloads of EventTarget's methods
export class Signalling extends EventTarget {
  /**
   * `new Signalling.websocket(socket, options?)`: a Signalling over a {@link WebSocketTransceiver}.
   *
   * @example
   * const signalling = new Signalling.websocket(new WebSocket(url));
   */
  static readonly websocket = class WebSocketSignalling extends Signalling {
    constructor(socket: WebSocketLike, options: WebSocketTransceiverOptions & SignallingOptions = {}) {
      super(new WebSocketTransceiver(socket, options), options);
    }
  };

  /**
   * `new Signalling.socket.io(socket, options?)`: a Signalling over a {@link SocketIoTransceiver}.
   *
   * @example
   * const signalling = new Signalling.socket.io(io(url));
   */
  static readonly socket = {
    io: class SocketIoSignalling extends Signalling {
      constructor(socket: SocketIoLike, options: SignallingOptions = {}) {
        super(new SocketIoTransceiver(socket), options);
      }
    },
  };

  readonly transceiver: Transceiver;
  readonly #messages = new Subject<ServerMessage>();
  readonly #errors = new Subject<SignallingError>();
  readonly #logger: Logger | undefined;
  readonly #untap: () => void;
  #closed = false;

  /** Every server message, parsed and typed. Completes when the channel closes. */
  readonly messages: Observable<ServerMessage> = this.#messages.asObservable();
  /** Every frame or event refused (also dispatched as `error`). Completes when the channel closes. */
  readonly errors: Observable<SignallingError> = this.#errors.asObservable();

  constructor(transceiver: Transceiver, options: SignallingOptions = {}) {
    super();
    this.transceiver = transceiver;
    this.#logger = options.logger;
    this.#untap = transceiver.onAny((event) => this.#hear(event));
    if (transceiver.closed) this.#end();
  }

  /** True once the channel is closed: nothing more arrives and {@link send} throws. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one message to the server.
   *
   * @throws Error once the channel is closed (a lost message must not pass unnoticed).
   * @example
   * signalling.send(sdpMessage(peerId, pc.localDescription.toJSON()));
   */
  send(message: ClientMessage): void {
    if (this.#closed) throw new Error(`Signalling: closed, ${message.type} not sent`);
    this.#logger?.log('debug', 'signal', `send ${message.type}`);
    this.transceiver.send(message.type, message.data);
  }

  /** Closes the transceiver and completes `messages` and `errors`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.transceiver.close();
    this.#end();
  }

  #hear(event: Event): void {
    const detail = event instanceof CustomEvent ? event.detail : undefined;
    if (event.type === 'close') this.#end();
    else if (event.type === 'error') {
      // The detail stays out of the message: a hostile toString must not throw out of the transport's listener.
      this.#refuse(
        detail instanceof SignallingError
          ? detail
          : new SignallingError('malformed-frame', 'the transceiver reported an error', { cause: detail }),
      );
    } else {
      const result = parseServerEvent(event.type, detail);
      if (result.ok) this.#deliver(result.message);
      else this.#refuse(result.error);
    }
  }

  #deliver(message: ServerMessage): void {
    this.#logger?.log('debug', 'signal', `received ${message.type}`);
    this.#messages.next(message);
    const dispatched = names[message.type];
    for (const name of message.type === 'rtc:sdp' ? [...dispatched, message.data.description.type] : dispatched) {
      this.dispatchEvent(new CustomEvent(name, { detail: message.data }));
    }
  }

  #refuse(error: SignallingError): void {
    this.#logger?.log('warn', 'signal', `refused a frame: ${error.message}`, { code: error.code });
    this.#errors.next(error);
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#untap();
    this.#logger?.log('info', 'signal', 'signalling closed');
    this.#messages.complete();
    this.#errors.complete();
  }
}

// Typed listeners for the events above; the methods themselves are EventTarget's.
export interface Signalling {
  addEventListener<K extends keyof SignallingEventMap>(
    type: K,
    listener: (event: SignallingEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof SignallingEventMap>(
    type: K,
    listener: (event: SignallingEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/**
 * The original rtcpool's `signalling`, for drop-in use:
 * `new signalling(transceiver)`, `new signalling.websocket(ws)`, `new signalling.socket.io(io())`.
 */
export const signalling = Signalling;
