/**
 * The `rtcpool` command as a child process, the way an operator runs it:
 * `runCli` for a run that ends by itself (--version, a refusal), `startCli`
 * for a server, read line by line and stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The built command; `npm run build` writes it (test:all builds before the tests). */
export const BUILT_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliOptions {
  cwd?: string;
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function launch(command: readonly string[], options: CliOptions): ChildProcess {
  const [file, ...args] = command;
  if (file === undefined) throw new Error('no command');
  return spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `command` until it exits by itself; kills it after `timeoutMs` (then `code` is null). */
export async function runCli(
  command: readonly string[],
  options: CliOptions = {},
  timeoutMs = 15_000,
): Promise<CliResult> {
  const child = launch(command, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface RunningCli {
  /** Every line printed on stdout so far. */
  readonly lines: string[];
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** The first stdout line matching `pattern`, waiting for it; rejects if the process exits first. */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code (null if a signal ended it). */
  stop(): Promise<number | null>;
}

/** Starts a long-running command (`rtcpool serve ...`). */
export function startCli(command: readonly string[], options: CliOptions = {}): RunningCli {
  const child = launch(command, options);
  const lines: string[] = [];
  let errors = '';
  let pending = '';
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
    wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  // 'close' rather than 'exit': it comes after the last of stdout, so no line is missed.
  let closed = false;
  const exited = once(child, 'close').then(([code]) => {
    closed = true;
    wake();
    return code as number | null;
  });
  return {
    lines,
    stderr: () => errors,
    line: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (const line of lines) {
            const found = pattern.exec(line);
            if (found) return finish(() => resolve(found));
          }
          if (closed) {
            finish(() =>
              reject(new Error(`exited (${child.exitCode}) before ${pattern}: ${errors}${lines.join('\n')}`)),
            );
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no line ${pattern} in ${timeoutMs} ms: ${errors}${lines.join('\n')}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    async stop() {
      if (!closed) child.kill('SIGTERM');
      return exited;
    },
  };
}
