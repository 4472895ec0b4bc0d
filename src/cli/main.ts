#!/usr/bin/env node
/** The `rtcpool` command. */
import { parseArgs } from 'node:util';
import { serve } from './serve.js';

const USAGE = `Usage: rtcpool serve [options]

Starts the signalling server (raw WebSocket at /ws, socket.io at /socket.io/),
the demo page at / and the browser build of the client at /rtcpool.js.

Options:
  --port <n>             port to listen on (default 8080; 0 picks a free one)
  --host <address>       interface to listen on (default 127.0.0.1)
  --private              only pools named with --pool can be joined
  --pool <name>          create a pool at start (repeatable)
  --max-peers <n>        members per pool (default 32)
  --resume-window <ms>   how long a member outlives a lost connection (default 15000; 0 = off)
  --redis <url>          share pools with other processes through Redis (redis://host:port)
  --allowed-origin <o>   a browser origin allowed to connect (repeatable; default same-origin)
  --admin-token <token>  enable the admin API (/admin/...) for this bearer token
  --quiet                print only the URL
  -h, --help             this text
`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      private: { type: 'boolean', default: false },
      pool: { type: 'string', multiple: true, default: [] },
      'max-peers': { type: 'string' },
      'resume-window': { type: 'string' },
      redis: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true, default: [] },
      'admin-token': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals[0] !== 'serve') {
    process.stdout.write(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const port = Number(values.port);
  const maxPeers = values['max-peers'] === undefined ? undefined : Number(values['max-peers']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: ${values.port} is not a port`);
  if (maxPeers !== undefined && !(Number.isInteger(maxPeers) && maxPeers > 0))
    throw new Error('--max-peers: a positive integer');
  const resumeWindowMs = values['resume-window'] === undefined ? undefined : Number(values['resume-window']);
  if (resumeWindowMs !== undefined && !(Number.isInteger(resumeWindowMs) && resumeWindowMs >= 0))
    throw new Error('--resume-window: milliseconds, a non-negative integer');
  const log = values.quiet ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);
  const { url, close } = await serve({
    port,
    host: values.host,
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
  });
  process.stdout.write(`rtcpool demo: ${url}\n`);
  const stop = () => void close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`rtcpool: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
