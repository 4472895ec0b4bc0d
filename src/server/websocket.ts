/**
 * The raw WebSocket transport (`ws`): JSON text frames `{"type", "data"}` at
 * one path, as the original client's WebSocket transceiver speaks them.
 *
 * `ws` is an optional peer dependency: this file imports only its types, and
 * `createSignallingServer` loads the package and hands it over when the
 * transport is on, so that a server without it (or a client install) never
 * needs it.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { parseClientFrame } from '../protocol/index.js';
import { settledWithin } from './grace.js';
import type { Hub } from './hub.js';
import type { ConnectionInfo } from './options.js';
import type { Endpoint, Link } from './sessions.js';

/** What this transport uses of the `ws` package (its module, as `import('ws')` yields it). */
export interface WsPackage {
  WebSocketServer: typeof WebSocketServer;
  WebSocket: typeof WebSocket;
}

export interface WebSocketTransportOptions {
  maxMessageBytes: number;
  /** Decides on the upgrade: an identity, or `refused` with an HTTP status. */
  admit: (request: IncomingMessage) => Promise<{ identity: unknown } | { refused: 401 | 403 }>;
}

export class WebSocketTransport {
  private readonly server: WebSocketServer;
  /** Open sockets, so that `close` can cut the ones that never finish closing. */
  private readonly sockets = new Set<WebSocket>();

  constructor(
    private readonly hub: Hub,
    ws: WsPackage,
    private readonly options: WebSocketTransportOptions,
  ) {
    // `ws` enforces maxPayload itself: a larger frame closes the socket with 1009.
    this.server = new ws.WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      clientTracking: false,
      WebSocket: linkedSocketClass(ws.WebSocket),
    });
  }

  /** Completes (or refuses) one HTTP upgrade for this transport's path. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', destroySocket); // a reset during the handshake is not ours to crash on
    const verdict = await this.options.admit(request);
    if ('refused' in verdict) return refuse(socket, verdict.refused);
    if (socket.destroyed) return;
    this.server.handleUpgrade(request, socket, head, (ws) => {
      // From here `ws` handles the socket's errors; keeping ours would cost an array of listeners per connection.
      socket.off('error', destroySocket);
      this.connect(ws as LinkedSocket, { identity: verdict.identity, request, transport: 'websocket' });
    });
  }

  /**
   * Stops accepting (an upgrade still being admitted is refused with 503) and
   * gives the sockets the hub is closing `graceMs` to finish their close
   * handshake; the rest are cut.
   */
  async close(graceMs: number): Promise<void> {
    this.server.close();
    const open = [...this.sockets];
    const closed = open.map((ws) => once(ws, 'close'));
    await settledWithin(closed, graceMs);
    for (const ws of open) ws.terminate();
  }

  /** Serves a socket: from here on its events reach the transport through its link (see {@link LinkedSocket}). */
  private connect(ws: LinkedSocket, info: ConnectionInfo<unknown>): void {
    const link = new SocketLink(ws, this);
    link.endpoint = this.hub.open(link, info);
    this.sockets.add(ws);
    ws.link = link;
  }

  /** A frame from `link`'s socket. Binary frames are parsed as UTF-8 JSON too: the parser takes bytes. */
  received(link: SocketLink, data: RawData): void {
    this.hub.receive(link.endpoint, () =>
      parseClientFrame(Array.isArray(data) ? Buffer.concat(data) : data, {
        maxFrameBytes: this.options.maxMessageBytes,
      }),
    );
  }

  /** A pong on `link`'s socket. */
  alive(link: SocketLink): void {
    this.hub.alive(link.endpoint);
  }

  /**
   * `link`'s socket closed. A protocol error before it (a frame too large, invalid UTF-8...) is the client's
   * doing, so it ends the session like a close would; a connection that merely ended without a close frame was lost.
   */
  closed(ws: WebSocket, link: SocketLink, code: number): void {
    this.sockets.delete(ws);
    this.hub.disconnect(link.endpoint, { why: 'closed', keepSession: !link.misbehaved && code === 1006 });
  }
}

type RawData = Buffer | ArrayBuffer | Buffer[];

/** A socket of this transport's server: see {@link linkedSocketClass}. */
interface LinkedSocket extends WebSocket {
  /** Set as the connection opens, before `ws` can deliver any event. */
  link: SocketLink | undefined;
}

/**
 * The socket class this transport's server makes (`ws` takes a subclass of its own). `ws` delivers each event of a
 * socket by calling the socket's `emit`; this class hands the four the transport serves (a message, a pong, an
 * error, the close) to the socket's link right there. Listeners would do the same, but four of them grow the
 * socket's table of listeners by about 100 bytes (heap snapshots of 5,000 idle clients). Every event still goes on
 * to `EventEmitter` for listeners added elsewhere (`close` waits for sockets with one), except an error: it is the
 * link's to judge, and the close that always follows it ends the connection.
 */
function linkedSocketClass(Base: typeof WebSocket): typeof WebSocket {
  return class extends Base implements LinkedSocket {
    link: SocketLink | undefined = undefined;

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      const link = this.link;
      if (event === 'error') {
        // A protocol error (a frame too large, invalid UTF-8...) is the client's doing: see `closed`.
        const error = args[0] as Error & { code?: string };
        if (link) link.misbehaved ||= error.code?.startsWith('WS_ERR_') === true;
        return true;
      }
      if (link) {
        if (event === 'message') link.transport.received(link, args[0] as RawData);
        else if (event === 'pong') link.transport.alive(link);
        else if (event === 'close') link.transport.closed(this, link, args[0] as number);
      }
      return super.emit(event, ...args);
    }
  };
}

/**
 * The hub's handle on one socket, and what the socket's listeners need: a class, so that its methods are shared
 * rather than closures per connection. The ready states are read from the socket (`ws` puts them on the prototype
 * too): the class itself is not imported.
 */
class SocketLink implements Link {
  /** Set right after the hub opens it, before any listener can run. */
  endpoint!: Endpoint;
  /** The socket broke the protocol: its session ends rather than waiting for a resume. */
  misbehaved = false;

  constructor(
    private readonly ws: WebSocket,
    readonly transport: WebSocketTransport,
  ) {}

  send(type: string, data: Record<string, unknown>): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type, data }));
  }

  close(code: number, reason: string): void {
    const { readyState } = this.ws;
    if (readyState === this.ws.OPEN || readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}

/**
 * Destroys the socket it is called on. A function of its own, not a closure in
 * `upgrade`: that would keep the upgrade request and its head alive for as long
 * as the connection lasts (about 1 KB each).
 */
function destroySocket(this: Duplex): void {
  this.destroy();
}

const STATUS_TEXT = { 401: 'Unauthorized', 403: 'Forbidden' } as const;

function refuse(socket: Duplex, status: 401 | 403): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
