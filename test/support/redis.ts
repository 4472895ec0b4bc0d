/**
 * A real `redis-server` (Debian's package; scripts/install-system-deps.sh
 * installs it) on 127.0.0.1 and a free port, without persistence: a restart
 * loses every key, as a crashed cache would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';

const BINARY = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

export interface RedisProcess {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Kills the server (SIGKILL: no save, no goodbye) and starts a fresh, empty one on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Kills the server; waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again after {@link kill}. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const started = spawn(
      BINARY,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = started;
    let errors = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode}): ${errors}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on ${port}: ${errors}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async restart({ downMs = 0 } = {}) {
      await kill();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    stop: kill,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once something on the port answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** Anything a test opens on Redis: a backplane (closed) or a raw ioredis connection (disconnected). */
type Opened = { close(): Promise<void> } | { disconnect(): void };

/**
 * One `redis-server` for a test file: started before its tests, stopped after
 * them; what a test hands to `closing` is closed after that test. Call once
 * at the top of the file.
 */
export function redisForFile(): RedisProcess & { closing<T extends Opened>(it: T): T } {
  let server: RedisProcess | undefined;
  const opened: Opened[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((it) => ('close' in it ? it.close() : it.disconnect())));
  });
  afterAll(async () => {
    await server?.stop();
  });
  const started = () => {
    if (!server) throw new Error('redis-server is started before the tests: use it inside one');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    restart: (options) => started().restart(options),
    kill: () => started().kill(),
    start: () => started().start(),
    stop: () => started().stop(),
    closing(it) {
      opened.push(it);
      return it;
    },
  };
}
