/**
 * Starts `rtcpool serve` as users do (the built `dist/cli.js`, a separate
 * process) on a free loopback port, and talks to its admin API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliServer {
  /** The demo page, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** Every line the server printed. */
  lines: string[];
  admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

export async function startCliServer(args: string[] = []): Promise<CliServer> {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm run test:all does)');
  const token = randomBytes(16).toString('hex');
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--admin-token', token, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const found = /^rtcpool demo: (\S+)$/.exec(line);
        if (found?.[1]) resolve(found[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`rtcpool serve exited (${code}): ${errors}`)));
  });
  return {
    url,
    lines,
    async admin(method, path, body) {
      const response = await fetch(new URL(path, url), {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json() };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
