/**
 * A throwaway `redis-server` for cluster mode: 127.0.0.1, a free port, no
 * persistence (`--save '' --appendonly no`), stopped with the run.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { killChild, sleep } from './child.js';

export interface RedisProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True once the server answers PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`could not start redis-server (is it installed?): ${error.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} at start`)));
  });
  const up = (async () => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (await ping(port)) return;
      await sleep(50);
    }
    throw new Error('redis-server did not answer PING within 5 s');
  })();
  try {
    await Promise.race([up, failed]);
  } catch (error) {
    await killChild(child);
    throw error;
  }
  failed.catch(() => undefined);
  return { url: `redis://127.0.0.1:${port}`, stop: () => killChild(child) };
}
