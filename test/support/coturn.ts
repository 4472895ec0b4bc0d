/**
 * A real TURN/STUN server for tests: Debian's coturn (`/usr/bin/turnserver`)
 * as a child process the test owns, with TURN REST credentials (a shared
 * secret; username `<unix expiry>:<name>`, credential the base64 HMAC-SHA1
 * of the username under the secret). UDP only: no TLS, no DTLS, no CLI.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawn as spawnProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithParent } from './netns.js';

export const TURNSERVER = '/usr/bin/turnserver';

export interface CoturnOptions {
  /** The address to listen and relay on (the public namespace's, in the NAT tests). */
  address: string;
  /** Default 3478. */
  port?: number;
  /** Relay ports (default 49160-49400). */
  minPort?: number;
  maxPort?: number;
  /** Default: random. */
  secret?: string;
  realm?: string;
  /** Needed only when the peers are on 127.0.0.0/8 (coturn refuses to relay to loopback otherwise). */
  allowLoopbackPeers?: boolean;
  /**
   * How to start the process; default: here, dying with this process (no turnserver outlives a killed
   * test). The NAT tests pass their network's `spawn` for the public namespace.
   */
  spawn?: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** How long to wait for the listener (default 10 s). */
  startTimeoutMs?: number;
}

export interface Coturn {
  address: string;
  port: number;
  secret: string;
  realm: string;
  /** `stun:ADDRESS:PORT` */
  stunUrl: string;
  /** `turn:ADDRESS:PORT?transport=udp` */
  turnUrl: string;
  /** Everything coturn printed (verbose), for a failure's message. */
  log(): string;
  /** The allocations it made so far ("ALLOCATE ... success" lines): did anyone use the relay? */
  allocations(): number;
  stop(): Promise<void>;
}

/** Starts turnserver and resolves once its UDP listener is open; rejects (with its log) if it is not within the timeout. */
export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  if (!existsSync(TURNSERVER))
    throw new Error(`${TURNSERVER} is missing: apt-get install -y coturn (scripts/install-system-deps.sh does)`);
  const port = options.port ?? 3478;
  const secret = options.secret ?? randomBytes(16).toString('hex');
  const realm = options.realm ?? 'rtcpool.test';
  // Its own pid file and (unused, but always opened) SQLite database, so runs never share state.
  const dir = mkdtempSync(join(tmpdir(), 'rtcpool-coturn-'));
  const args = [
    '-n',
    '-v',
    `--listening-ip=${options.address}`,
    `--relay-ip=${options.address}`,
    `--listening-port=${port}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-tcp-relay',
    `--min-port=${options.minPort ?? 49160}`,
    `--max-port=${options.maxPort ?? 49400}`,
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--db=${join(dir, 'turndb')}`,
    ...(options.allowLoopbackPeers ? ['--allow-loopback-peers'] : []),
  ];
  const start =
    options.spawn ??
    ((command, rest, spawnOptions) => {
      const [program = command, ...argv] = dieWithParent([command, ...rest]);
      return spawnProcess(program, argv, spawnOptions);
    });
  const child = start(TURNSERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const listening = `UDP listener opened on: ${options.address}:${port}`;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`turnserver did not listen on ${options.address}:${port} in time:\n${log}`)),
      options.startTimeoutMs ?? 10_000,
    );
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(listening)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`turnserver exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address: options.address,
    port,
    secret,
    realm,
    stunUrl: `stun:${options.address}:${port}`,
    turnUrl: `turn:${options.address}:${port}?transport=udp`,
    log: () => log,
    allocations: () => log.match(/ALLOCATE processed, success/g)?.length ?? 0,
    stop,
  };
}
