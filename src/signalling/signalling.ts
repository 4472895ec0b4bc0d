import { Observable, Subject } from 'rxjs';
import { SignallingError } from '../protocol/errors.js';
import {
  type ClientMessage,
  pingMessage,
  RESUME_REFUSED,
  resumeMessage,
  type ServerMessage,
} from '../protocol/messages.js';
import { parseServerEvent } from '../protocol/parse.js';
import type { Logger } from '../shared/logger.js';
import { SignallingClosedError } from './errors.js';
import {
  EVENT_NAMES,
  type SignallingCloseReason,
  type SignallingEventMap,
  type SignallingOptions,
  type SignallingState,
} from './events.js';
import { Heartbeat } from './heartbeat.js';
import { type SocketIoLike, SocketIoTransceiver } from './socketio.js';
import type { ReceivedFrame, Transceiver, TransportEvent } from './transceiver.js';
import { type WebSocketLike, WebSocketTransceiver, type WebSocketTransceiverOptions } from './websocket.js';

/** What the server says to one connection rather than to the session: not counted, not sent again after a resume. */
const UNCOUNTED: ReadonlySet<string> = new Set(['rtc:error', 'rtc:pong']);

export type { SignallingCloseReason, SignallingEventMap, SignallingOptions, SignallingState } from './events.js';

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
 * It owns the session. When `rtc:joined` grants a resume token and the
 * transceiver can reconnect (`offline` / `online` events, as
 * {@link WebSocketTransceiver} from a factory and {@link SocketIoTransceiver}
 * have), a lost connection does not end the channel: {@link send} queues,
 * `state$` says `offline`, and on the new connection it sends `rtc:resume`
 * first, then every frame the server did not get, then what was queued; the
 * server sends what this side missed. When the session cannot be resumed
 * it ends by itself and says why in {@link closeReason}.
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
   * `new Signalling.websocket(socket, options?)`: a Signalling over a
   * {@link WebSocketTransceiver}. Given a socket factory, a URL or a list of
   * URLs (tried in turn), it reconnects and resumes its session after a lost
   * connection.
   *
   * @example
   * const signalling = new Signalling.websocket(() => new WebSocket(url));
   */
  static readonly websocket = class WebSocketSignalling extends Signalling {
    constructor(
      socket: WebSocketLike | (() => WebSocketLike) | string | readonly string[],
      options: WebSocketTransceiverOptions & SignallingOptions = {},
    ) {
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
    /** The subclass over socket.io, so that `new Signalling.socket.io(socket)` reads as the original's. */
    io: class SocketIoSignalling extends Signalling {
      constructor(socket: SocketIoLike, options: SignallingOptions = {}) {
        super(new SocketIoTransceiver(socket), options);
      }
    },
  };

  /** The transport it reads from and sends through; closed with the channel. */
  readonly transceiver: Transceiver;
  readonly #messages = new Subject<ServerMessage>();
  readonly #errors = new Subject<SignallingError>();
  readonly #logger: Logger | undefined;
  #state: SignallingState = 'online';
  readonly #states = new Subject<SignallingState>();
  readonly #unlisten: () => void;
  readonly #maxOutbox: number;
  #closed = false;
  /** The session to resume, from `rtc:joined`. */
  #session: { id: string; token: string; windowMs: number } | undefined;
  /** Server frames received since `rtc:joined`, valid or not (`rtc:resumed` excepted). */
  #received = 0;
  /** Frames sent since `rtc:joined`, the oldest being the session's frame number `#base`. */
  #outbox: ClientMessage[] = [];
  #base = 0;
  /** Sent `rtc:resume`, waiting for `rtc:resumed`. */
  #resuming = false;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #closeReason: SignallingCloseReason | undefined;
  /** Undefined with `heartbeat: false`. */
  readonly #heartbeat: Heartbeat | undefined;
  /** The server said in `rtc:joined` that it answers `rtc:ping`. */
  #answersPing = false;

  /** Every server message, parsed and typed. Completes when the channel closes. */
  readonly messages: Observable<ServerMessage> = this.#messages.asObservable();
  /** Every frame or event refused (also dispatched as `error`). Completes when the channel closes. */
  readonly errors: Observable<SignallingError> = this.#errors.asObservable();
  /** `online` / `offline`, now and after every change. Completes when the channel closes. */
  readonly state$: Observable<SignallingState> = new Observable((subscriber) => {
    subscriber.next(this.#state);
    return this.#states.subscribe(subscriber);
  });

  constructor(transceiver: Transceiver, options: SignallingOptions = {}) {
    super();
    this.transceiver = transceiver;
    this.#logger = options.logger;
    this.#maxOutbox = options.maxOutbox ?? 1000;
    this.#heartbeat =
      options.heartbeat === false
        ? undefined
        : new Heartbeat(
            { intervalMs: 5000, timeoutMs: 5000, ...options.heartbeat },
            {
              ping: () => this.send(pingMessage(this.#session ? this.#received : undefined)),
              lost: (waited) => {
                this.#logger?.log(
                  'info',
                  'signal',
                  `no answer to rtc:ping in ${Math.round(waited)} ms: connection lost`,
                );
                this.transceiver.reconnect();
              },
            },
          );
    // Two paths: what the server sent, and what the transport says of itself. No frame reaches the second.
    const offFrames = transceiver.onFrame((frame) => this.#frame(frame));
    const offTransport = transceiver.onTransport((event) => this.#transport(event));
    this.#unlisten = () => {
      offFrames();
      offTransport();
    };
    if (transceiver.closed) this.#end();
  }

  /** True once the channel is closed: nothing more arrives and {@link send} throws. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the channel ended by itself; undefined while open and after {@link close}. Set before the streams complete. */
  get closeReason(): SignallingCloseReason | undefined {
    return this.#closeReason;
  }

  /** `offline` while a lost connection is being replaced and the session resumed. */
  get state(): SignallingState {
    return this.#state;
  }

  /**
   * Sends one message to the server; while `offline`, queues it to send once
   * the session resumes.
   *
   * @throws SignallingClosedError once the channel is closed (a lost message must not pass unnoticed).
   * @example
   * signalling.send(sdpMessage(peerId, pc.localDescription.toJSON()));
   */
  send(message: ClientMessage): void {
    if (this.#closed) throw new SignallingClosedError(`Signalling: closed, ${message.type} not sent`);
    this.#logger?.log('debug', 'signal', `send ${message.type}`);
    if (this.#session && this.#outbox.push(message) > this.#maxOutbox) {
      this.#outbox.shift();
      this.#base++;
    }
    if (this.state === 'online') this.#transmit(message);
  }

  /** Closes the transceiver (a clean leave: the server ends the session at once) and completes the streams. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#end(); // first: the transceiver's own `close` is then not heard as a lost connection
    this.transceiver.close();
  }

  #transmit(message: ClientMessage): void {
    this.transceiver.send(message.type, message.data);
  }

  #transport(event: TransportEvent): void {
    const session = this.#session;
    if (event === 'closed') this.#giveUp('connection-lost', 'the connection closed');
    else if (event === 'offline') this.#offline();
    else if (event === 'online') {
      // The new connection's first frame; everything else waits for `rtc:resumed`.
      if (session) this.#transmit(resumeMessage(session.id, session.token, this.#received));
      this.#resuming = true;
    }
  }

  /**
   * One server frame or event, readable or not: every one counts (see the
   * protocol's counting rule), but `rtc:joined`, `rtc:resumed`, the server's
   * answers to this connection (`rtc:error`, `rtc:pong`) and whatever comes
   * before `rtc:resumed` on a new connection (the server sends that first).
   */
  #frame(frame: ReceivedFrame): void {
    this.#heartbeat?.heard();
    const result =
      frame instanceof SignallingError
        ? { ok: false as const, error: frame }
        : parseServerEvent(frame.type, frame.data);
    const message = result.ok ? result.message : undefined;
    if (message?.type === 'rtc:resumed') {
      if (this.#resuming) this.#resumed(message.data.received);
    } else if (message?.type === 'rtc:joined') {
      // Counting starts after it. No grant (resumption off, a version 1 server): a lost connection is the end.
      const grant = message.data.resume;
      this.#session = grant && { id: message.data.client_id, token: grant.token, windowMs: grant.window_ms };
      this.#received = 0;
      this.#outbox = [];
      this.#base = 0;
      this.#answersPing = message.data.answers_ping === true;
      this.#startHeartbeat();
    } else if (this.#resuming && message?.type === 'rtc:error' && message.data.reason === RESUME_REFUSED) {
      this.#giveUp('resume-refused', message.data.message);
    } else if (this.#session && !this.#resuming && (frame instanceof SignallingError || !UNCOUNTED.has(frame.type))) {
      this.#received++; // before rtc:resumed nothing is a session frame
    }
    if (this.#closed) return;
    if (result.ok) this.#deliver(result.message);
    else this.#refuse(result.error);
  }

  /** The connection is lost: keep the session, queue sends, give up when the server's window has passed. */
  #offline(): void {
    const session = this.#session;
    this.#resuming = false;
    this.#heartbeat?.stop();
    if (!session) {
      this.#giveUp('connection-lost', 'the connection was lost, with no session to resume');
      return;
    }
    this.#expiry ??= setTimeout(
      () => this.#giveUp('resume-expired', `not resumed within ${session.windowMs} ms`),
      session.windowMs,
    );
    if (this.state === 'online') {
      this.#logger?.log('info', 'signal', 'offline');
      this.#become('offline');
    }
  }

  /**
   * The server has `received` of this session's frames: send the rest again, in
   * order, before anything new (they were queued, or lost with the old connection).
   */
  #resumed(received: number): void {
    const skip = received - this.#base;
    if (skip < 0 || skip > this.#outbox.length) {
      this.#giveUp('outbox-overflow', `frame ${received} is no longer held`);
      return;
    }
    this.#outbox.splice(0, skip);
    this.#logger?.log('info', 'signal', `resumed: ${this.#outbox.length} frames sent again`);
    this.#base = received;
    this.#resuming = false;
    clearTimeout(this.#expiry);
    this.#expiry = undefined;
    for (const message of this.#outbox) this.#transmit(message);
    this.#become('online');
    this.#startHeartbeat();
  }

  /**
   * Starts the heartbeat (see `SignallingOptions.heartbeat`) when the server answers pings and the transport can
   * reconnect. Its `rtc:ping` is a frame like any other (counted, sent again after a resume) and carries this
   * side's count, so the server can let go of what it holds; the server's `rtc:pong` answers the connection and
   * is not counted.
   */
  #startHeartbeat(): void {
    if (this.#answersPing && this.transceiver.reconnects && !this.#closed) this.#heartbeat?.start();
  }

  #become(state: SignallingState): void {
    this.#state = state;
    this.#states.next(state);
    this.dispatchEvent(new Event(state));
  }

  /** Ends the channel by itself, saying why. */
  #giveUp(code: SignallingCloseReason['code'], message: string): void {
    if (this.#closed) return;
    this.#closeReason = { code, message };
    this.#logger?.log('warn', 'signal', message, { code });
    this.close();
  }

  #deliver(message: ServerMessage): void {
    this.#logger?.log('debug', 'signal', `received ${message.type}`);
    this.#messages.next(message);
    const dispatched = EVENT_NAMES[message.type];
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
    clearTimeout(this.#expiry);
    this.#heartbeat?.stop();
    this.#unlisten();
    this.#logger?.log('info', 'signal', 'signalling closed');
    this.#messages.complete();
    this.#errors.complete();
    this.#states.complete();
  }
}

// Typed listeners for the events above; the methods themselves are EventTarget's.
export interface Signalling {
  /** Listens to one event of {@link SignallingEventMap}, typed. */
  addEventListener<K extends keyof SignallingEventMap>(
    type: K,
    listener: (event: SignallingEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** The untyped form, as `EventTarget` declares it. */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Removes a listener added for one event of {@link SignallingEventMap}. */
  removeEventListener<K extends keyof SignallingEventMap>(
    type: K,
    listener: (event: SignallingEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** The untyped form, as `EventTarget` declares it. */
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
