#!/usr/bin/env node
/** The `rtcpool` command. */
import { sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TURN_TTL_SECONDS, type IceServersOptions, MissingPeerDependencyError } from '../server/index.js';
import { packageRoot, packageVersion } from './package.js';
import { serve } from './serve.js';

const USAGE = `Usage: rtcpool serve [options]
       rtcpool --version

Starts the signalling server (raw WebSocket at /ws, socket.io at /socket.io/),
the demo page at / and the browser build of the client at /rtcpool.js, and
answers GET /healthz with {"ok":true}. Needs the "ws" package, and
"socket.io" unless --no-socketio (npm install ws socket.io).

Options:
  --port <n>             port to listen on (default $PORT, else 8080; 0 picks a free one)
  --host <address>       interface to listen on (default $HOST, else 127.0.0.1)
  --no-demo              serve no demo page and no /rtcpool.js: signalling, /healthz and the admin API only
  --no-socketio          no socket.io transport (then the socket.io package is not needed)
  --private              only pools named with --pool can be joined
  --pool <name>          create a pool at start (repeatable)
  --max-peers <n>        members per pool (default 32)
  --resume-window <ms>   how long a member outlives a lost connection (default 15000; 0 = off)
  --redis <url>          share pools with other processes through Redis (redis://host:port; needs ioredis)
  --allowed-origin <o>   a browser origin allowed to connect (repeatable; default same-origin)
  --admin-token <token>  enable the admin API (/admin/...) for this bearer token
  --stun <url>           a STUN server handed to every endpoint (stun:host[:port]; repeatable)
  --turn <url>           a TURN server handed to every endpoint with credentials minted for it
                         (turn:host[:port][?transport=udp|tcp]; repeatable); the secret shared with
                         the TURN server comes from $RTCPOOL_TURN_SECRET
  --turn-secret <s>      the TURN secret, in place of $RTCPOOL_TURN_SECRET (visible in ps: prefer the variable)
  --turn-ttl <seconds>   how long each minted TURN credential is valid (default 86400: a day)
  --quiet                print only the URLs
  -v, --version          print the version
  -h, --help             this text
`;

/** An option's value, else the environment variable's (unless empty), else the default; with where it came from. */
function setting(
  value: string | undefined,
  option: string,
  variable: string,
  fallback: string,
): { value: string; from: string } {
  if (value !== undefined) return { value, from: option };
  const fromEnvironment = process.env[variable];
  if (fromEnvironment !== undefined && fromEnvironment !== '') return { value: fromEnvironment, from: variable };
  return { value: fallback, from: option };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      // No defaults for these two: unset, they come from PORT and HOST.
      port: { type: 'string' },
      host: { type: 'string' },
      // Spelled out rather than parseArgs's allowNegative, which Node 20 before 20.16 lacks.
      'no-demo': { type: 'boolean', default: false },
      'no-socketio': { type: 'boolean', default: false },
      private: { type: 'boolean', default: false },
      pool: { type: 'string', multiple: true, default: [] },
      'max-peers': { type: 'string' },
      'resume-window': { type: 'string' },
      redis: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true, default: [] },
      'admin-token': { type: 'string' },
      stun: { type: 'string', multiple: true, default: [] },
      turn: { type: 'string', multiple: true, default: [] },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      version: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  if (values.help || positionals[0] !== 'serve') {
    process.stdout.write(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const portSetting = setting(values.port, '--port', 'PORT', '8080');
  const host = setting(values.host, '--host', 'HOST', '127.0.0.1').value;
  const port = Number(portSetting.value);
  if (portSetting.value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${portSetting.from}: ${portSetting.value} is not a port`);
  const maxPeers = values['max-peers'] === undefined ? undefined : Number(values['max-peers']);
  if (maxPeers !== undefined && !(Number.isInteger(maxPeers) && maxPeers > 0))
    throw new Error('--max-peers: a positive integer');
  const resumeWindowMs = values['resume-window'] === undefined ? undefined : Number(values['resume-window']);
  if (resumeWindowMs !== undefined && !(Number.isInteger(resumeWindowMs) && resumeWindowMs >= 0))
    throw new Error('--resume-window: milliseconds, a non-negative integer');
  const ice = iceServersOf(values);
  const demo = !values['no-demo'];
  const socketio = !values['no-socketio'];
  const log = values.quiet ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);
  let started: Awaited<ReturnType<typeof serve>>;
  try {
    started = await serve({
      port,
      host,
      demo,
      socketio,
      private: values.private,
      pools: values.pool,
      allowedOrigins: values['allowed-origin'],
      log,
      // Even with --quiet: a request answered 500 is a bug the operator has to see.
      logError: (line: string) => process.stderr.write(`${line}\n`),
      ...(maxPeers === undefined ? {} : { maxPeers }),
      ...(resumeWindowMs === undefined ? {} : { resumeWindowMs }),
      ...(values.redis === undefined ? {} : { redis: values.redis }),
      ...(values['admin-token'] === undefined ? {} : { adminToken: values['admin-token'] }),
      ...(ice.options === undefined ? {} : { iceServers: ice.options }),
    });
  } catch (error) {
    // The optional packages this run needs, for the message when one is missing.
    const packages = ['ws', ...(socketio ? ['socket.io'] : []), ...(values.redis === undefined ? [] : ['ioredis'])];
    throw startFailure(error, { host, port, from: portSetting.from, packages });
  }
  // Printed even with --quiet: they are how to reach the server. test/support/cli-server.ts reads the first.
  const origin = started.server.url;
  const lines = [
    demo ? `rtcpool demo: ${started.url}` : undefined,
    `rtcpool websocket: ${origin.replace(/^http/, 'ws')}/ws`,
    socketio ? `rtcpool socket.io: ${origin}/socket.io/` : undefined,
    `rtcpool health: ${origin}/healthz`,
    values['admin-token'] === undefined ? undefined : `rtcpool admin: ${origin}/admin/`,
    ...ice.lines,
  ];
  process.stdout.write(lines.flatMap((line) => (line === undefined ? [] : [`${line}\n`])).join(''));
  const stop = () => void started.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * The `iceServers` option from --stun, --turn, the secret (--turn-secret, else
 * RTCPOOL_TURN_SECRET) and --turn-ttl, and the lines that say so at start:
 * the URLs, the TTL and where the secret came from, never the secret. The
 * URLs themselves are checked by the server, whose TypeError names the flag
 * (see {@link startFailure}).
 */
function iceServersOf(values: {
  stun: string[];
  turn: string[];
  'turn-secret'?: string | undefined;
  'turn-ttl'?: string | undefined;
}): { options?: IceServersOptions; lines: string[] } {
  const { stun, turn } = values;
  const given = values['turn-secret'];
  const fromEnvironment = process.env.RTCPOOL_TURN_SECRET;
  const secret = given ?? (fromEnvironment === '' ? undefined : fromEnvironment);
  const ttlText = values['turn-ttl'];
  if (turn.length === 0 && (given !== undefined || ttlText !== undefined))
    throw new Error(`${given === undefined ? '--turn-ttl' : '--turn-secret'} needs --turn <url>`);
  if (turn.length > 0 && secret === undefined)
    throw new Error('--turn needs the secret shared with the TURN server: set RTCPOOL_TURN_SECRET (or --turn-secret)');
  const ttlSeconds = ttlText === undefined ? undefined : Number(ttlText);
  if (ttlSeconds !== undefined && !(ttlText?.trim() !== '' && Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0))
    throw new Error('--turn-ttl: seconds, a positive integer');
  if (given !== undefined)
    process.stderr.write(
      'rtcpool: --turn-secret shows in ps to every user of this machine; prefer RTCPOOL_TURN_SECRET\n',
    );
  const lines = stun.map((url) => `rtcpool stun: ${url}`);
  const ttl = ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  const from = given === undefined ? 'RTCPOOL_TURN_SECRET' : '--turn-secret';
  for (const url of turn) lines.push(`rtcpool turn: ${url} (credentials valid ${ttl} s, secret from ${from})`);
  if (stun.length === 0 && turn.length === 0) return { lines };
  const options: IceServersOptions = {};
  if (stun.length > 0) options.stun = stun;
  if (turn.length > 0 && secret !== undefined) {
    options.turn = { urls: turn, secret, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) };
  }
  return { options, lines };
}

/** The server's names for the ICE options, as the command's flags. */
const ICE_FLAGS: Array<[RegExp, string]> = [
  [/^iceServers\.stun(\[\d+\])?/, '--stun'],
  [/^iceServers\.turn\.urls(\[\d+\])?/, '--turn'],
  [/^iceServers\.turn\.secret/, 'the TURN secret (RTCPOOL_TURN_SECRET or --turn-secret)'],
  [/^iceServers\.turn\.ttlSeconds/, '--turn-ttl'],
];

/** Node's error for a `listen` that failed. */
interface ListenError extends Error {
  code?: string;
}

/**
 * What went wrong at start, as one line for the operator: the usual causes
 * (the port taken, no such interface, a missing package) said plainly with
 * what to do, rather than Node's message and a stack.
 */
function startFailure(error: unknown, at: { host: string; port: number; from: string; packages: string[] }): Error {
  if (error instanceof MissingPeerDependencyError) {
    // The server's message suggests its API option (`socketio: false`); the command's is a flag.
    const instead = error.packageName === 'socket.io' ? ' (or pass --no-socketio)' : '';
    const needs = `${error.feature} needs the "${error.packageName}" package`;
    // Run by npx without a local install, the command lives in npx's cache, where `npm install` in the
    // current folder cannot reach: npx has to install the packages beside it, all at once.
    if (packageRoot.split(sep).includes('_npx')) {
      const packages = ['rtcpool', ...at.packages].map((name) => `-p ${name}`).join(' ');
      return new Error(`${needs}: npx ${packages} rtcpool serve ...`);
    }
    return new Error(`${needs}: npm install ${error.packageName}${instead}`);
  }
  if (error instanceof TypeError && error.message.startsWith('iceServers.')) {
    const text = ICE_FLAGS.reduce((text, [option, flag]) => text.replace(option, flag), error.message);
    return new Error(text);
  }
  const code = (error as ListenError | undefined)?.code;
  const address = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
  if (code === 'EADDRINUSE')
    return new Error(
      `${address} is already in use: pick another port with ${at.from === 'PORT' ? 'PORT or ' : ''}--port`,
    );
  if (code === 'EACCES') return new Error(`${address}: permission denied (ports below 1024 need privileges)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new Error(`${at.host}: no such interface on this machine (--host)`);
  return error instanceof Error ? error : new Error(String(error));
}

/** Error messages from the server may carry the library's own prefix already (`rtcpool: cannot use Redis...`). */
function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^rtcpool(\/server)?: /, '');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // One line, no stack: every failure here is the operator's to fix (a flag, the port, a package), and
  // parseArgs's own errors (an unknown option, a missing value) read well as they are.
  process.stderr.write(`rtcpool: ${message(error)}\n`);
  process.exit(1);
});
