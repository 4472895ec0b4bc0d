/**
 * The socket.io transport: each protocol event is a socket.io event named by
 * its type with the data as its one argument, as the original RTCPool client's
 * socket.io transceiver emits them. socket.io keeps its own heartbeat
 * (pingInterval / pingTimeout), so the hub never pings these links.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { parseClientEvent } from '../protocol/index.js';
import type { Hub, Link } from './hub.js';

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

  constructor(
    private readonly hub: Hub,
    http: HttpServer,
    options: SocketIoTransportOptions,
  ) {
    this.io = new Server(http, {
      path: options.path,
      serveClient: false,
      maxHttpBufferSize: options.maxMessageBytes,
      pingInterval: options.heartbeat.intervalMs,
      pingTimeout: options.heartbeat.timeoutMs,
      // Upgrades for other paths (the raw WebSocket's) are not socket.io's to destroy.
      destroyUpgrade: false,
      allowRequest: (request, callback) => {
        options.admit(request).then(
          (verdict) => {
            if ('refused' in verdict) return callback(verdict.refused === 401 ? 'unauthorized' : 'forbidden', false);
            this.identities.set(request, verdict.identity);
            callback(null, true);
          },
          () => callback('unauthorized', false),
        );
      },
    });
    this.io.on('connection', (socket) => this.connect(socket));
  }

  close(): void {
    // io.close() would also close the HTTP server, which may belong to the caller.
    this.io.disconnectSockets(true);
    this.io.engine.close();
  }

  private connect(socket: Socket): void {
    const link: Link = {
      send: (type, data) => {
        if (socket.connected) socket.emit(type, data);
      },
      close: () => {
        socket.disconnect(true);
      },
      terminate: () => socket.disconnect(true),
      ping: undefined,
    };
    const request = socket.request;
    const endpoint = this.hub.open(link, { identity: this.identities.get(request), request, transport: 'socket.io' });
    socket.onAny((type: unknown, data: unknown) => {
      this.hub.receive(endpoint, () => parseClientEvent(String(type), data));
    });
    socket.on('disconnect', () => this.hub.closed(endpoint));
  }
}
