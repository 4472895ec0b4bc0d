/**
 * The socket.io transport: each protocol event is a socket.io event named by
 * its type with the data as its one argument, as the original RTCPool client's
 * socket.io transceiver emits them. socket.io keeps its own heartbeat
 * (pingInterval / pingTimeout), so the hub never pings these links.
 *
 * `socket.io` is an optional peer dependency: this file imports only its
 * types, and `createSignallingServer` loads the package and hands it over when
 * the transport is on.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server, Socket } from 'socket.io';
import { parseClientEvent } from '../protocol/index.js';
import { settledWithin } from './grace.js';
import type { Hub } from './hub.js';
import type { Link } from './sessions.js';

/** What this transport uses of the `socket.io` package (its module, as `import('socket.io')` yields it). */
export interface SocketIoPackage {
  Server: typeof Server;
}

export interface SocketIoTransportOptions {
  path: string;
  maxMessageBytes: number;
  heartbeat: { intervalMs: number; timeoutMs: number };
  admit: (request: IncomingMessage) => Promise<{ identity: unknown } | { refused: 401 | 403 }>;
}

export class SocketIoTransport {
  private readonly io: Server;
  /** Identities decided at the handshake, found again from the socket's request. */
  private readonly identities = new WeakMap<IncomingMessage, unknown>();
  /** Resolves when each open engine.io connection has closed, so that `close` can wait for them to flush. */
  private readonly connections = new Set<Promise<void>>();
  private readonly detach: () => void;
  private closing = false;

  constructor(
    private readonly hub: Hub,
    io: SocketIoPackage,
    http: HttpServer,
    options: SocketIoTransportOptions,
  ) {
    [this.io, this.detach] = attachment(
      http,
      () =>
        new io.Server(http, {
          path: options.path,
          serveClient: false,
          maxHttpBufferSize: options.maxMessageBytes,
          pingInterval: options.heartbeat.intervalMs,
          pingTimeout: options.heartbeat.timeoutMs,
          // Upgrades for other paths (the raw WebSocket's) are not socket.io's to destroy.
          destroyUpgrade: false,
          allowRequest: (request, callback) => this.allow(request, options, callback),
        }),
    );
    this.io.on('connection', (socket) => this.connect(socket));
  }

  /**
   * Refuses new handshakes, lets the sockets the hub disconnected flush what
   * they were sent (`rtc:stop`) for up to `graceMs`, cuts the rest, and hands
   * the HTTP server back as it was. (`io.close()` would also close the HTTP
   * server, which may belong to the caller; `engine.close()` alone discards
   * unsent packets and leaves socket.io's listeners on the server, still
   * accepting handshakes.)
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.io.disconnectSockets(true);
    await settledWithin([...this.connections], graceMs);
    this.io.engine.close();
    this.detach();
  }

  private allow(
    request: IncomingMessage,
    options: SocketIoTransportOptions,
    callback: (error: string | null | undefined, success: boolean) => void,
  ): void {
    if (this.closing) {
      callback('closing', false);
      return;
    }
    options.admit(request).then(
      (verdict) => {
        if (this.closing) return callback('closing', false);
        if ('refused' in verdict) return callback(verdict.refused === 401 ? 'unauthorized' : 'forbidden', false);
        this.identities.set(request, verdict.identity);
        callback(null, true);
      },
      () => callback('unauthorized', false),
    );
  }

  private connect(socket: Socket): void {
    if (this.closing) {
      socket.disconnect(true);
      return;
    }
    const closed = new Promise<void>((resolve) => socket.conn.once('close', () => resolve()));
    this.connections.add(closed);
    void closed.then(() => this.connections.delete(closed));
    const request = socket.request;
    const endpoint = this.hub.open(new SocketIoLink(socket), {
      identity: this.identities.get(request),
      request,
      transport: 'socket.io',
    });
    socket.onAny((type: unknown, data: unknown) => {
      this.hub.receive(endpoint, () => parseClientEvent(String(type), data));
    });
    // Only the client's own disconnect is a leave; a transport close or ping timeout is a lost connection.
    socket.on('disconnect', (reason: string) =>
      this.hub.disconnect(endpoint, { why: 'closed', keepSession: reason !== 'client namespace disconnect' }),
    );
  }
}

/** The hub's handle on one socket: a class, so that its methods are shared rather than closures per connection. */
class SocketIoLink implements Link {
  /** socket.io keeps its own heartbeat. */
  readonly ping = undefined;

  constructor(private readonly socket: Socket) {}

  send(type: string, data: Record<string, unknown>): void {
    if (this.socket.connected) this.socket.emit(type, data);
  }

  /** socket.io has no close codes to send. */
  close(): void {
    this.socket.disconnect(true);
  }

  terminate(): void {
    this.socket.disconnect(true);
  }

  /** Over the websocket transport (its `ws` socket); a long-polling connection is not paused. */
  pause(): void {
    wsOf(this.socket)?.pause();
  }

  resume(): void {
    wsOf(this.socket)?.resume();
  }
}

/** The `ws` socket under a socket.io connection on the websocket transport, or undefined. */
function wsOf(socket: Socket): { pause(): void; resume(): void } | undefined {
  const { transport } = socket.conn;
  if (transport.name !== 'websocket') return undefined;
  const ws = (transport as { socket?: { pause?: unknown; resume?: unknown } }).socket;
  return typeof ws?.pause === 'function' && typeof ws.resume === 'function'
    ? (ws as { pause(): void; resume(): void })
    : undefined;
}

const ATTACHED_EVENTS = ['request', 'upgrade', 'listening', 'close'] as const;
type Listener = (...args: unknown[]) => void;

/**
 * Runs `attach` (socket.io attaching to `http`) and returns what it returned
 * with its undoing: engine.io has no detach. It adds listeners, and it takes
 * over the server's `request` listeners (calling them itself for other
 * paths); the undoing removes what it added and gives those back, ahead of
 * any added since.
 */
function attachment<T>(http: HttpServer, attach: () => T): [T, () => void] {
  const listeners = (event: string) => http.listeners(event) as Listener[];
  const before = new Map(ATTACHED_EVENTS.map((event) => [event, listeners(event)]));
  const attached = attach();
  const added = ATTACHED_EVENTS.map((event) => {
    const previous = before.get(event) ?? [];
    return [event, listeners(event).filter((listener) => !previous.includes(listener))] as const;
  });
  const detach = () => {
    for (const [event, own] of added) for (const listener of own) http.off(event, listener);
    const present = listeners('request');
    const taken = (before.get('request') ?? []).filter((listener) => !present.includes(listener));
    for (const listener of taken.reverse()) http.prependListener('request', listener);
  };
  return [attached, detach];
}
