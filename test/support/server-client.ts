/**
 * Clients for testing the signalling server over its real transports: a raw
 * `ws` client and a socket.io client, each recording every `{ type, data }`
 * it receives, and a harness that starts servers and closes everything a test
 * opened (servers and clients alike) after each test.
 */
import { io, type Socket } from 'socket.io-client';
import { afterEach } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import {
  createSignallingServer,
  type SignallingServer,
  type SignallingServerExtras,
  type SignallingServerOptions,
} from '../../src/server/index.js';
import { until } from './wait.js';

/** What a server sent: the data is read by the tests, so it is loosely typed. */
export interface Frame {
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read whatever fields they expect, then assert on them
  data: any;
}

/** `rtc:joined`'s data, as the server sends it. */
export interface Joined {
  client_id: string;
  peers: string[];
  descriptions: Record<string, unknown>;
  pool: string;
  resume?: { token: string; window_ms: number };
  answers_ping?: boolean;
}

/** How a connection ended. `code` is the WebSocket close code (undefined for socket.io, which has none). */
export interface Ending {
  code: number | undefined;
  reason: string;
}

/** A generous bound for anything that should happen at once on loopback. */
export const LIVENESS_MS = 10_000;
let syncs = 0;

/** What both clients share: the frames received so far, and a cursor per type for `next`. */
abstract class RecordingClient {
  /** Every frame received, in order, but for the answers to {@link sync}. */
  readonly frames: Frame[] = [];
  /** The `rtc:error`s that answered {@link sync}, kept apart so that they never count as a test's own. */
  readonly syncAnswers: Frame[] = [];
  /** Set once the connection has ended, by either side. */
  ending: Ending | undefined;
  readonly #read = new Map<string, number>();

  abstract send(type: string, data: unknown): void;
  abstract close(): void;
  get closed(): boolean {
    return this.ending !== undefined;
  }

  /** Received frames of one type, in order. */
  all(type: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  /**
   * The next frame of `type` not yet returned by `next`: at once if it already
   * arrived, else when it does. Fails if the connection ends or nothing comes.
   */
  async next(type: string, timeoutMs = LIVENESS_MS): Promise<Frame> {
    const index = this.#read.get(type) ?? 0;
    await until(
      () => this.all(type).length > index || this.closed,
      `a frame "${type}" (got ${JSON.stringify(this.frames.map((frame) => frame.type))})`,
      timeoutMs,
    );
    const frame = this.all(type)[index];
    if (!frame) throw new Error(`the connection ended (${JSON.stringify(this.ending)}) before a frame "${type}"`);
    this.#read.set(type, index + 1);
    return frame;
  }

  /** The data of the next `rtc:error`. */
  async error(): Promise<{ message: string; reason: string }> {
    return (await this.next('rtc:error')).data;
  }

  /** Sends `rtc:join` and resolves with `rtc:joined`'s data (failing on `rtc:error`). */
  async join(pool: string): Promise<Joined> {
    const errors = this.all('rtc:error').length;
    this.send('rtc:join', { pool });
    await until(
      () => this.all('rtc:joined').length > 0 || this.all('rtc:error').length > errors || this.closed,
      `rtc:joined for pool "${pool}"`,
      LIVENESS_MS,
    );
    const refused = this.all('rtc:error')[errors];
    if (refused) throw new Error(`join refused: ${JSON.stringify(refused.data)}`);
    return (await this.next('rtc:joined')).data;
  }

  /**
   * Waits until the server has handled everything this client sent so far:
   * sends an unknown event and waits for its `rtc:error`. What the server sends
   * to anyone on account of the earlier frames has been sent by then, and
   * anything sent to this client has arrived. (It costs one rejection.)
   */
  async sync(): Promise<void> {
    const marker = `rtc:sync-${++syncs}`;
    this.send(marker, {});
    await until(
      () => this.syncAnswers.some(({ data }) => String(data.message).includes(marker)) || this.closed,
      `the server's answer to ${marker}`,
      LIVENESS_MS,
    );
    if (this.closed) throw new Error(`the connection ended (${JSON.stringify(this.ending)}) during sync`);
  }

  /** Waits until the connection ended and says how. */
  async ended(timeoutMs = LIVENESS_MS): Promise<Ending> {
    await until(() => this.closed, 'the connection to end', timeoutMs);
    return this.ending as Ending;
  }

  protected receive(type: string, data: unknown): void {
    const answer =
      type === 'rtc:error' && String((data as { message?: unknown } | null)?.message).includes('rtc:sync-');
    (answer ? this.syncAnswers : this.frames).push({ type, data });
  }
}

/** A raw WebSocket client speaking JSON text frames. */
export class RawClient extends RecordingClient {
  /** Frames that were not `{ type, data }` JSON (the server should never send one). */
  readonly garbage: unknown[] = [];
  /** Pings received from the server so far. */
  pings = 0;

  private constructor(readonly socket: WebSocket) {
    super();
    socket.on('ping', () => {
      this.pings += 1;
    });
    socket.on('message', (raw, binary) => {
      let frame: unknown;
      try {
        frame = binary ? raw : JSON.parse(String(raw));
      } catch {
        frame = String(raw);
      }
      const { type, data } = (frame ?? {}) as { type?: unknown; data?: unknown };
      if (typeof type === 'string' && typeof data === 'object' && data !== null) this.receive(type, data);
      else this.garbage.push(frame);
    });
    socket.on('close', (code, reason) => {
      this.ending = { code, reason: String(reason) };
    });
    socket.on('error', () => undefined); // `close` follows
  }

  /** Starts connecting to `ws://…/ws` (or `path`) of the server at `url` (`http://host:port`); see {@link opened}. */
  static connect(url: string, options: ClientOptions & { path?: string } = {}): RawClient {
    const { path = '/ws', ...rest } = options;
    return new RawClient(new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, rest));
  }

  /** Connects and waits until the socket is open. */
  static async open(url: string, options: ClientOptions & { path?: string } = {}): Promise<RawClient> {
    const client = RawClient.connect(url, options);
    await client.opened();
    return client;
  }

  /** Resolves once the socket is open; fails if it closes (or is refused) first. */
  async opened(): Promise<void> {
    await until(() => this.socket.readyState !== WebSocket.CONNECTING, 'the WebSocket to open', LIVENESS_MS);
    if (this.socket.readyState !== WebSocket.OPEN) {
      await this.ended();
      throw new Error(`the WebSocket did not open: ${JSON.stringify(this.ending)}`);
    }
  }

  send(type: string, data: unknown): void {
    this.sendRaw(JSON.stringify({ type, data }));
  }

  /** Sends anything as one frame: a string as text, a Buffer as binary. */
  sendRaw(frame: string | Buffer): void {
    this.socket.send(frame, { binary: typeof frame !== 'string' });
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.terminate();
    }
  }
}

/** A socket.io client: each protocol event is a socket.io event named by its type with the data as its argument. */
export class IoClient extends RecordingClient {
  /** socket.io's `connect_error`, if the handshake was refused. */
  connectError: Error | undefined;
  /** How many arguments each received event had (the protocol sends exactly one: its data). */
  readonly argumentCounts: number[] = [];

  private constructor(readonly socket: Socket) {
    super();
    socket.onAny((type: string, ...args: unknown[]) => {
      this.argumentCounts.push(args.length);
      this.receive(type, args[0]);
    });
    socket.on('disconnect', (reason) => {
      this.ending = { code: undefined, reason };
    });
    socket.on('connect_error', (error) => {
      this.connectError = error;
      this.ending = { code: undefined, reason: `connect_error: ${error.message}` };
    });
  }

  /** Connects to the server at `url`, over `transports` (the WebSocket only by default). */
  static async open(
    url: string,
    options: { path?: string; transports?: ('websocket' | 'polling')[]; extraHeaders?: Record<string, string> } = {},
  ): Promise<IoClient> {
    const client = IoClient.start(url, options);
    await client.connected();
    return client;
  }

  /** Resolves once connected; fails if refused. */
  async connected(): Promise<void> {
    await until(() => this.socket.connected || this.closed, 'the socket.io connection', LIVENESS_MS);
    if (!this.socket.connected) throw new Error(`socket.io did not connect: ${JSON.stringify(this.ending)}`);
  }

  /** Starts connecting without waiting (to see a refusal). */
  static start(
    url: string,
    options: { path?: string; transports?: ('websocket' | 'polling')[]; extraHeaders?: Record<string, string> } = {},
  ): IoClient {
    const socket = io(url, {
      path: options.path ?? '/socket.io',
      transports: options.transports ?? ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    });
    return new IoClient(socket);
  }

  send(type: string, data: unknown): void {
    this.socket.emit(type, data);
  }

  close(): void {
    this.socket.disconnect();
  }
}

/**
 * The HTTP status a WebSocket upgrade to `url` + `path` gets: 101 when it
 * opens (the socket is closed again at once), else the refusal's status.
 */
export async function upgradeStatus(url: string, options: ClientOptions & { path?: string } = {}): Promise<number> {
  const { path = '/ws', ...rest } = options;
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, rest);
  return new Promise<number>((resolve, reject) => {
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    socket.on('error', (error) => reject(error));
  });
}

/**
 * Registers an `afterEach` that closes every client and server opened through
 * the returned functions; call it once at the top of a test file.
 */
export function serverHarness() {
  const servers: SignallingServer[] = [];
  const clients: RecordingClient[] = [];
  const extras: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
    for (const cleanup of extras.splice(0)) await cleanup();
  });
  async function raw(url: string, options: ClientOptions & { path?: string } = {}): Promise<RawClient> {
    const client = RawClient.connect(url, options);
    clients.push(client); // closed after the test even if it never opens
    await client.opened();
    return client;
  }
  return {
    async start<Identity = unknown>(
      options: SignallingServerOptions<Identity> & SignallingServerExtras = {},
    ): Promise<SignallingServer<Identity>> {
      const server = await createSignallingServer<Identity>({ host: '127.0.0.1', port: 0, ...options });
      servers.push(server as SignallingServer);
      return server;
    },
    raw,
    /** Runs `cleanup` after this test, once its clients and servers are closed (an HTTP server of the test's, say). */
    later(cleanup: () => Promise<void> | void): void {
      extras.push(cleanup);
    },
    async io(url: string, options: Parameters<typeof IoClient.open>[1] = {}): Promise<IoClient> {
      const client = IoClient.start(url, options);
      clients.push(client);
      await client.connected();
      return client;
    },
    /** A socket.io client that may be refused: not awaited. */
    ioStart(url: string, options: Parameters<typeof IoClient.start>[1] = {}): IoClient {
      const client = IoClient.start(url, options);
      clients.push(client);
      return client;
    },
    /** Raw clients that have all joined `pool`, in order (each one's join completes before the next starts). */
    async joined(url: string, pool: string, count: number): Promise<Array<{ client: RawClient; id: string }>> {
      const members: Array<{ client: RawClient; id: string }> = [];
      for (let i = 0; i < count; i++) {
        const client = await raw(url);
        members.push({ client, id: (await client.join(pool)).client_id });
      }
      return members;
    },
  };
}

export type ServerHarness = ReturnType<typeof serverHarness>;
