import { SignallingError } from '../protocol/errors.js';
import { PROTOCOL_LIMITS } from '../protocol/messages.js';
import { decodeFrame } from '../protocol/parse.js';
import { SignallingClosedError } from './errors.js';
import { Transceiver } from './transceiver.js';

/**
 * What {@link WebSocketTransceiver} needs of a socket: the browser's
 * `WebSocket` and the `ws` package's client both fit.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends one JSON text frame; called only while open (frames sent earlier wait in order). */
  send(data: string): void;
  /** Closes the socket, with 1000 when the transceiver is closed. */
  close(code?: number): void;
  /** A `close` listener reads the event's `code` when there is one (CloseEvent). */
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  /** Each frame received, read by the protocol's frame decoder. */
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}

/** How a {@link WebSocketTransceiver} made from a factory or URL reconnects: exponential backoff with full jitter. */
export interface ReconnectOptions {
  /** Upper bound of the first delay, in ms (default 250). */
  initialDelayMs?: number;
  /** Growth of the bound per failed attempt (default 2). */
  factor?: number;
  /** Largest bound, in ms (default 5000). */
  maxDelayMs?: number;
  /**
   * New sockets in a row that may fail before the transceiver gives up and
   * closes (default: no limit, as socket.io; a Signalling gives up anyway when
   * the server's resume window has passed).
   */
  maxAttempts?: number;
  /**
   * A new socket that has not opened after this many ms counts as failed
   * (default 10000): a server that accepts the connection but never answers
   * (a frozen process) would otherwise hold the transceiver in `connecting`.
   * The socket is closed, and the next attempt follows (on the next URL of a
   * list). `Infinity`: wait as long as the socket does.
   */
  connectTimeoutMs?: number;
}

/** How a {@link WebSocketTransceiver} reads frames and, made from a factory or a URL, reconnects. */
export interface WebSocketTransceiverOptions {
  /** Largest frame accepted, in UTF-8 bytes (default 64 KiB, as the server's); a larger one is an `error` event. */
  maxFrameBytes?: number;
  /**
   * With a socket factory or a URL: how to reconnect after a connection is
   * lost, or `false` not to. Ignored for a single socket, which cannot be reopened.
   */
  reconnect?: ReconnectOptions | false;
}

const CONNECTING = 0;
const OPEN = 1;
/** Close codes that say the connection broke rather than that a side ended it: worth a new connection. */
const BROKEN = [1006, 1011, 1012, 1013, 1014];

/**
 * Signalling over a WebSocket in JSON text frames `{"type": ..., "data": {...}}`.
 *
 * - Sent while the socket is connecting (or reconnecting): kept, and sent in
 *   order once it opens.
 * - Sent after the channel closed: {@link send} throws. A lost offer or
 *   candidate wedges a negotiation with no trace, so it is refused loudly;
 *   stop sending when `closed` turns true (`Signalling.messages` completes).
 * - Text frames are read by the protocol's one frame decoder, with the
 *   server's size rules. A binary frame, a frame larger than
 *   `maxFrameBytes`, not JSON or not an object with a string `type` is an
 *   `error` event (detail: `SignallingError`), and the next frame is read as
 *   usual. Nothing is thrown from the socket's listeners.
 * - Given one socket: that socket closing or failing, from either side, is a
 *   `close` event.
 * - Given a factory `() => WebSocketLike`, a URL or a list of URLs (opened
 *   with the global `WebSocket`: browsers, Node 22+; in Node 20 pass
 *   `() => new WebSocket(url)` from `ws`; with a list, a new socket goes to
 *   the same URL as the last, and to the next one when a socket fails to
 *   open, so a client fails over to another server process when one dies):
 *   a connection that breaks
 *   (close code 1006, 1011-1014, or a socket error) is reported `offline`,
 *   then new sockets are made with backoff ({@link ReconnectOptions}); the
 *   first that opens is reported `online`. A socket that fails before it ever
 *   opened is retried silently. Only {@link close}, a deliberate close by the
 *   server (1000, 1001, 4xxx, ...) or `maxAttempts` failures in a row
 *   report `closed`. {@link Signalling} resumes its session on `online`.
 *
 * @example
 * const signalling = new Signalling(new WebSocketTransceiver(() => new WebSocket('wss://example.org/rtc')));
 * signalling.send(joinMessage('lobby')); // buffered until the socket opens
 */
export class WebSocketTransceiver extends Transceiver {
  /** Makes the next socket; `previousFailed`: the socket it replaces never opened. */
  readonly #connect: ((previousFailed: boolean) => WebSocketLike) | undefined;
  readonly #maxFrameBytes: number;
  readonly #backoff: Required<ReconnectOptions>;
  #socket: WebSocketLike | undefined;
  /** Frames waiting for a socket to open; undefined while one is open. */
  #queue: string[] | undefined;
  /** Failed attempts in a row. */
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    socket: WebSocketLike | (() => WebSocketLike) | string | readonly string[],
    options: WebSocketTransceiverOptions = {},
  ) {
    super();
    this.#maxFrameBytes = options.maxFrameBytes ?? PROTOCOL_LIMITS.maxFrameBytes;
    this.#backoff = {
      initialDelayMs: 250,
      factor: 2,
      maxDelayMs: 5000,
      maxAttempts: Number.POSITIVE_INFINITY,
      connectTimeoutMs: 10_000,
      ...options.reconnect,
    };
    const connect =
      typeof socket === 'string' ? () => new WebSocket(socket) : isUrlList(socket) ? inTurn(socket) : socket;
    if (typeof connect !== 'function') this.#open(connect);
    else {
      if (options.reconnect !== false) this.#connect = connect;
      this.#open(connect(false));
    }
  }

  /**
   * Sends `{ type, data }` as one JSON text frame, or queues it while a socket
   * connects. With a factory, a frame sent into a socket that is already
   * closing is lost like one in flight when a connection breaks (Signalling's
   * resume sends it again); with one socket, that throws.
   */
  override send(type: string, data: unknown): void {
    const socket = this.#socket;
    if (this.closed || (!this.#connect && !this.#queue && (socket?.readyState ?? 3) > OPEN))
      throw new SignallingClosedError(`WebSocketTransceiver: closed, ${type} not sent`);
    const frame = JSON.stringify({ type, data });
    // Queued until our 'open' listener flushes, even if the socket is already open (another
    // 'open' listener may send before ours runs): so nothing overtakes what was queued.
    if (this.#queue) this.#queue.push(frame);
    else if (socket?.readyState === OPEN) socket.send(frame);
  }

  /** True when made from a factory or a URL with `reconnect` on: only then can it replace a socket. */
  override get reconnects(): boolean {
    return this.#connect !== undefined;
  }

  /**
   * Gives up on the open socket as lost (it went silent) and makes a new one, as after a broken connection. The
   * silent socket is not closed from here: a close frame that reached the server before the new connection's
   * `rtc:resume` would read as a leave. The resume takes the session over and the server closes the old
   * connection (4001); a socket that is truly dead ends when its TCP connection does.
   */
  override reconnect(): void {
    // A socket still connecting (or none, between attempts) is in the backoff's hands already.
    if (!this.#connect || this.closed || this.#queue || !this.#socket) return;
    this.#lost(1006);
  }

  /**
   * Closes the socket with code 1000 (a clean leave: the server does not keep
   * the session) and stops reconnecting; queued frames are dropped. Idempotent.
   */
  override close(): void {
    if (this.closed) return;
    clearTimeout(this.#timer);
    this.#queue = undefined;
    this.#socket?.close(1000);
    super.close();
  }

  #open(socket: WebSocketLike): void {
    this.#socket = socket;
    if (socket.readyState === CONNECTING) {
      this.#queue ??= [];
      this.#limitConnecting(socket);
    } else if (socket.readyState !== OPEN) {
      this.#lost(1006);
      return;
    }
    // Late events of a socket that was replaced (or of a closed transceiver) are dropped.
    const current = () => this.#socket === socket && !this.closed;
    socket.addEventListener('open', () => {
      if (!current()) return;
      const queue = this.#queue ?? [];
      this.#queue = undefined;
      this.#attempts = 0;
      for (const frame of queue) socket.send(frame);
      this.connected();
    });
    socket.addEventListener('message', ({ data }) => {
      if (current()) this.#read(data);
    });
    // `ws` crashes the process on an 'error' nobody listens to; a failed socket is a closed one.
    socket.addEventListener('error', () => current() && this.#lost(1006));
    socket.addEventListener('close', (event?: { code?: number }) => current() && this.#lost(event?.code));
  }

  /** Gives up on `socket` if it has not opened within `connectTimeoutMs`, when there is another to make. */
  #limitConnecting(socket: WebSocketLike): void {
    if (!this.#connect || !Number.isFinite(this.#backoff.connectTimeoutMs)) return;
    const timer = setTimeout(() => {
      if (this.#socket !== socket || this.closed || socket.readyState !== CONNECTING) return;
      this.#lost(1006); // first: the socket's own events after close() are then a replaced socket's, dropped
      socket.close();
    }, this.#backoff.connectTimeoutMs);
    const settled = () => clearTimeout(timer);
    socket.addEventListener('open', settled);
    socket.addEventListener('close', settled);
    socket.addEventListener('error', settled);
  }

  /** The socket is gone: make another after a while, or close for good. */
  #lost(code = 1006): void {
    const { initialDelayMs, factor, maxDelayMs, maxAttempts } = this.#backoff;
    const connect = this.#connect;
    if (!connect || !BROKEN.includes(code) || this.#attempts >= maxAttempts) {
      super.close();
      return;
    }
    // Forget it: its 'close' after an 'error', or a late 'open', must not count twice.
    this.#socket = undefined;
    const opened = !this.#queue; // the queue exists only while a socket is connecting
    // A socket that never opened is retried without a word: nothing was lost yet.
    if (opened) {
      this.#queue = [];
      this.disconnected();
      if (this.closed) return; // an `offline` listener gave up
    }
    // Full jitter: a random delay up to the bound, so that clients cut together do not all come back together.
    const delay = Math.random() * Math.min(maxDelayMs, initialDelayMs * factor ** this.#attempts++);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#open(connect(!opened));
    }, delay);
  }

  #read(data: unknown): void {
    // The server speaks text; a browser would hand bytes over as a Blob that cannot be read synchronously anyway.
    if (typeof data !== 'string') {
      this.reject(new SignallingError('malformed-frame', 'binary frame: signalling frames are JSON text'));
      return;
    }
    const frame = decodeFrame(data, { maxFrameBytes: this.#maxFrameBytes });
    if (frame.ok) this.receive(frame.message.type, frame.message.data);
    else this.reject(frame.error);
  }
}

const isUrlList = (socket: WebSocketLike | (() => WebSocketLike) | readonly string[]): socket is readonly string[] =>
  Array.isArray(socket);

/**
 * A factory over `urls` that stays on a URL while it works and moves to the next when a socket on it fails to
 * open: a connection lost from a live server comes back to the same one (where its session is), one whose
 * server died goes on to another after one refused attempt.
 */
function inTurn(urls: readonly string[]): (previousFailed: boolean) => WebSocketLike {
  if (urls.length === 0 || urls.some((url) => typeof url !== 'string')) {
    throw new TypeError('WebSocketTransceiver: a list of URLs needs at least one, and only strings');
  }
  let at = 0;
  return (previousFailed) => {
    if (previousFailed) at = (at + 1) % urls.length;
    return new WebSocket(urls[at] as string);
  };
}
