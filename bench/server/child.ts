/**
 * The benchmark's processes and how they talk: the orchestrator forks the
 * server (ours or the bare relay) and the load generator as separate Node
 * processes and drives them with request/response messages over the IPC
 * channel `fork` opens. No process ever measures itself from another's side.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Request {
  id: number;
  command: string;
  args: unknown;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A forked bench process: ask it to do something and wait for its answer. */
export interface BenchChild<Ready> {
  readonly pid: number;
  /** What the child said once it was ready (its port, say). */
  readonly ready: Ready;
  request<T>(command: string, args?: unknown): Promise<T>;
  /** Asks the child to exit and waits for it (then kills it if it lingers). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would, and waits for the exit. */
  kill(): Promise<void>;
}

/**
 * Forks `file` (a TypeScript file beside this one) with tsx's loader and
 * `extraExecArgv` (`--expose-gc`, `--cpu-prof`), and waits for its `ready`.
 */
export async function forkChild<Ready>(
  file: string,
  args: readonly string[],
  extraExecArgv: readonly string[] = [],
): Promise<BenchChild<Ready>> {
  // execArgv carries tsx's loader, so the child runs TypeScript as this process does.
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [...args], {
    execArgv: [...process.execArgv, ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    for (const { reject } of pending.values()) reject(new Error(`${file} (pid ${child.pid}) exited with ${code}`));
    pending.clear();
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { ready: Ready }).ready));
    void exited.then((code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
  });
  child.on('message', (message) => {
    const reply = message as Reply;
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${file}: ${reply.error}`));
  });
  return {
    pid: child.pid ?? -1,
    ready,
    request<T>(command: string, args?: unknown) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, command, args } satisfies Request);
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ id: -1, command: 'exit', args: undefined } satisfies Request);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Kills a child process we started and waits for it. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The child's side: announces `ready`, then answers each request with its
 * handler's result. `exit` (from `stop`) ends the process, which also writes
 * a `--cpu-prof` profile; losing the parent ends it too.
 */
export function serveParent(
  ready: unknown,
  handlers: Record<string, (args: never) => unknown>,
  onExit: () => Promise<void> | void = () => undefined,
): void {
  const send = (message: unknown) => process.send?.(message);
  process.on('message', async (message) => {
    const { id, command, args } = message as Request;
    if (command === 'exit') {
      await onExit();
      process.exit(0);
    }
    const handler = handlers[command];
    try {
      if (!handler) throw new Error(`no command ${command}`);
      send({ id, ok: true, result: await handler(args as never) } satisfies Reply);
    } catch (error) {
      send({
        id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies Reply);
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready });
}

/** The soft and hard open-file limits of this process (Linux: /proc/self/limits), or null elsewhere. */
export function openFileLimit(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('Max open files'));
    const [soft, hard] = (line?.slice('Max open files'.length).trim().split(/\s+/) ?? []).map((value) =>
      value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value),
    );
    return soft === undefined || hard === undefined ? null : { soft, hard };
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
