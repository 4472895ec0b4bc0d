import { SignallingError } from '../protocol/errors.js';
import { PROTOCOL_LIMITS } from '../protocol/messages.js';
import { Transceiver } from './transceiver.js';

/**
 * What {@link WebSocketTransceiver} needs of a socket: the browser's
 * `WebSocket` and the `ws` package's client both fit.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}

export interface WebSocketTransceiverOptions {
  /** Largest text frame accepted, in UTF-8 bytes (default 64 KiB); a larger one is an `error` event. */
  maxFrameBytes?: number;
}

const CONNECTING = 0;
const OPEN = 1;

const malformed = (message: string, cause?: unknown) =>
  new SignallingError('malformed-frame', message, cause === undefined ? undefined : { cause });

/** A text frame's `type` and `data`, not yet validated (Signalling does that), or why there are none. */
function decode(text: unknown, max: number): { type: string; data: unknown } | SignallingError {
  if (typeof text !== 'string') return malformed('binary frame: signalling frames are JSON text');
  // At most 3 UTF-8 bytes per UTF-16 unit: only a long frame is ever encoded to be measured.
  if (text.length > max || (text.length * 3 > max && new TextEncoder().encode(text).length > max)) {
    return new SignallingError('frame-too-large', `frame larger than ${max} bytes`);
  }
  let frame: { type?: unknown; data?: unknown } | null;
  try {
    frame = JSON.parse(text);
  } catch (cause) {
    return malformed('frame is not JSON', cause);
  }
  return typeof frame?.type === 'string'
    ? { type: frame.type, data: frame.data }
    : malformed('frame must be an object { type, data }');
}

/**
 * Signalling over a WebSocket in JSON text frames `{"type": ..., "data": {...}}`.
 *
 * - Sent while the socket is connecting: kept, and sent in order once it opens.
 * - Sent after the channel closed: {@link send} throws. A lost offer or
 *   candidate wedges a negotiation with no trace, so it is refused loudly;
 *   stop sending when `closed` turns true (`Signalling.messages` completes).
 * - A frame that is binary, larger than `maxFrameBytes`, not JSON or not an
 *   object with a string `type`: an `error` event (detail: `SignallingError`),
 *   and the next frame is read as usual. Nothing is thrown from the socket's
 *   listeners.
 * - The socket closing or failing, from either side: a `close` event.
 *
 * @example
 * const signalling = new Signalling(new WebSocketTransceiver(new WebSocket('wss://example.org/rtc')));
 * signalling.send(joinMessage('lobby')); // buffered until the socket opens
 */
export class WebSocketTransceiver extends Transceiver {
  readonly #socket: WebSocketLike;
  readonly #maxFrameBytes: number;
  /** Frames waiting for the socket to open; undefined once they have gone. */
  #queue: string[] | undefined;

  constructor(socket: WebSocketLike, options: WebSocketTransceiverOptions = {}) {
    super();
    this.#socket = socket;
    this.#maxFrameBytes = options.maxFrameBytes ?? PROTOCOL_LIMITS.maxFrameBytes;
    if (socket.readyState === CONNECTING) this.#queue = [];
    else if (socket.readyState !== OPEN) super.close();
    const end = () => super.close();
    socket.addEventListener('open', () => this.#flush());
    socket.addEventListener('message', ({ data }) => this.#read(data));
    // `ws` crashes the process on an 'error' nobody listens to; a failed socket is a closed one.
    socket.addEventListener('error', end);
    socket.addEventListener('close', end);
  }

  /** Sends `{ type, data }` as one JSON text frame, or queues it while the socket connects. */
  override send(type: string, data: unknown): void {
    if (this.closed || this.#socket.readyState > OPEN)
      throw new Error(`WebSocketTransceiver: closed, ${type} not sent`);
    const frame = JSON.stringify({ type, data });
    // Queued until our 'open' listener flushes, even if the socket is already open (another
    // 'open' listener may send before ours runs): so nothing overtakes what was queued.
    if (this.#queue) this.#queue.push(frame);
    else this.#socket.send(frame);
  }

  /** Closes the socket; queued frames are dropped. Idempotent. */
  override close(): void {
    if (this.closed) return;
    this.#queue = undefined;
    this.#socket.close();
    super.close();
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = undefined;
    for (const frame of queue ?? []) this.#socket.send(frame);
  }

  #read(data: unknown): void {
    const frame = decode(data, this.#maxFrameBytes);
    if (frame instanceof SignallingError) this.reject(frame);
    else this.receive(frame.type, frame.data);
  }
}
