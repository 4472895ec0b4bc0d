import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 (any free port) in front of a server on loopback,
 * that can cut every connection through it, as a network outage would:
 *
 * - {@link cut}: destroys every proxied socket on both sides at once, so each
 *   end sees its connection end without a WebSocket close frame (1006: an
 *   abnormal loss, not a leave), and refuses new connections (accepted, then
 *   destroyed at once: a client sees its socket fail) until {@link restore}.
 * - {@link restore}: proxies new connections again.
 * - {@link freeze}: stops carrying bytes on every open connection, both ways,
 *   without closing any (a half-open path: a NAT that forgot the mapping, a
 *   network switched under the client): neither end sees anything happen.
 *   New connections are proxied as usual.
 * - {@link thaw}: carries the bytes a freeze held back, and the rest, again
 *   (a path that was only slow).
 *
 * @example
 * const proxy = await TcpProxy.start(server.port);
 * const socket = () => new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`);
 * proxy.cut(); ... proxy.restore();
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #down = false;
  /** Connections proxied so far (refused ones excluded). */
  accepted = 0;
  /** Connections refused while down. */
  refused = 0;

  private constructor(server: Server, targetPort: number) {
    this.#server = server;
    server.on('connection', (client) => {
      if (this.#down) {
        this.refused++;
        client.destroy();
        return;
      }
      this.accepted++;
      const upstream = tcpConnect({ host: '127.0.0.1', port: targetPort });
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      const end = () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      // Errors (a reset from either side) end both halves, as a broken path would.
      for (const socket of pair) {
        socket.setNoDelay(true);
        socket.on('error', end);
        socket.on('close', end);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Starts a proxy to `127.0.0.1:targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new TcpProxy(server, targetPort);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections open through the proxy now. */
  get open(): number {
    return this.#pairs.size;
  }

  get down(): boolean {
    return this.#down;
  }

  /** Drops every connection on both sides and refuses new ones until {@link restore}. */
  cut(): void {
    this.#down = true;
    for (const [client, upstream] of this.#pairs) {
      // A reset rather than a FIN: nothing in flight is delivered, as when a path breaks.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  /** Stops forwarding on every open connection, leaving each open at both ends; new ones are proxied. */
  freeze(): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Carries bytes again on every open connection, starting with those the freeze held back. */
  thaw(): void {
    for (const [client, upstream] of this.#pairs) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  }

  /** Accepts and proxies connections again. */
  restore(): void {
    this.#down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
