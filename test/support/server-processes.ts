/**
 * Real signalling server processes sharing pools through Redis
 * (test/server/cluster/server-process.ts), started and killed by the cluster
 * tests. Every process started is killed after the test file (`afterAll`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../server/cluster/server-process.ts', import.meta.url));

export interface ServerProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  child: ChildProcess;
  /** What it logged (warn and up). */
  stderr: string[];
}

/**
 * Starts server processes on `redisUrl()` (read when each starts), with
 * `env` added to theirs (RESUME_WINDOW_MS, say). Call once at the top of a
 * test file.
 */
export function serverProcesses(redisUrl: () => string, env: Record<string, string> = {}) {
  const started: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.splice(0).map((server) => kill(server)));
  });
  return async function start(): Promise<ServerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      env: { ...process.env, ...env, REDIS_URL: redisUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let pending = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const found = /^listening (\S+)$/m.exec(pending);
        if (found?.[1]) resolve(found[1]);
      });
      child.once('exit', (code) => reject(new Error(`server process exited (${code}): ${stderr.join('')}`)));
    });
    const server = { url, child, stderr };
    started.push(server);
    return server;
  };
}

/** Sends `signal` (SIGKILL: no goodbye) and waits for the process to exit. */
export async function kill({ child }: ServerProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
