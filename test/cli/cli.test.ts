// @vitest-environment node
/**
 * `rtcpool` as an operator runs it: the built command (dist/cli.js) in its
 * own process on loopback, port 0 unless a case needs another. Its version,
 * PORT and HOST, what it prints at start, --no-demo, /healthz, and its
 * one-line refusals (a port in use, Redis unreachable).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { BUILT_CLI, type CliOptions, runCli, startCli } from './cli-process.js';
import { joinPool } from './ws-member.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const node = (...args: string[]) => [process.execPath, BUILT_CLI, ...args];

/** The environment without PORT and HOST, so that only a case that sets them sees them. */
function environment(extra: Record<string, string> = {}): CliOptions {
  const { PORT: _port, HOST: _host, ...rest } = process.env;
  return { env: { ...rest, ...extra } };
}

/** A port nothing listens on, and a server holding another (closed by the caller). */
async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a port');
  return { server, port: address.port };
}

async function freePort(): Promise<number> {
  const { server, port } = await listening();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(() => {
  if (!existsSync(BUILT_CLI))
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm run test:all does)');
  // The command bundles the server: an older build would test older code than src/ holds.
  const sources = ['src/cli', 'src/server'].flatMap((folder) =>
    readdirSync(join(repoRoot, folder), { recursive: true, encoding: 'utf8' }).map((file) =>
      join(repoRoot, folder, file),
    ),
  );
  const newest = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  if (statSync(BUILT_CLI).mtimeMs < newest)
    throw new Error('dist/cli.js is older than src/cli or src/server: npm run build');
});

describe('rtcpool --version', () => {
  test('prints the version of package.json, as --version and as -v', async () => {
    const results = await Promise.all([runCli(node('--version')), runCli(node('-v'))]);
    for (const result of results) expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('rtcpool serve', () => {
  test('prints the page, the WebSocket, socket.io and /healthz, and the WebSocket it prints is the server', async () => {
    const server = startCli(node('serve', '--port', '0', '--admin-token', 'secret'), environment());
    try {
      const [, page] = await server.line(/^rtcpool demo: (http:\/\/127\.0\.0\.1:\d+\/)$/);
      const origin = page?.slice(0, -1);
      await server.line(/^rtcpool admin: /);
      expect(server.lines.slice(0, 5)).toEqual([
        `rtcpool demo: ${origin}/`,
        `rtcpool websocket: ${origin?.replace('http:', 'ws:')}/ws`,
        `rtcpool socket.io: ${origin}/socket.io/`,
        `rtcpool health: ${origin}/healthz`,
        `rtcpool admin: ${origin}/admin/`,
      ]);
      const member = await joinPool(`${origin}/`, 'printed');
      expect(member.id).not.toBe('');
      member.close();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test('takes its port and interface from PORT and HOST when --port and --host are not given', async () => {
    const port = await freePort();
    // 127.0.0.2 is loopback too on Linux, and not the default: the address printed can only come from HOST.
    const fromEnvironment = startCli(node('serve'), environment({ PORT: String(port), HOST: '127.0.0.2' }));
    // --port wins over PORT (here a port in use, which would fail).
    const held = await listening();
    const overridden = startCli(node('serve', '--port', '0'), environment({ PORT: String(held.port) }));
    try {
      const [[, printed], [, chosen]] = await Promise.all([
        fromEnvironment.line(/^rtcpool demo: (\S+)$/),
        overridden.line(/^rtcpool demo: http:\/\/127\.0\.0\.1:(\d+)\/$/),
      ]);
      expect(printed).toBe(`http://127.0.0.2:${port}/`);
      expect(Number(chosen)).not.toBe(held.port);
      expect((await fetch(`http://127.0.0.2:${port}/healthz`)).status).toBe(200);
    } finally {
      expect(await Promise.all([fromEnvironment.stop(), overridden.stop()])).toEqual([0, 0]);
      held.server.close();
    }
  });

  test('PORT that is not a port is refused by its name', async () => {
    expect(await runCli(node('serve'), environment({ PORT: 'eighty' }))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'rtcpool: PORT: eighty is not a port\n',
    });
  });

  test('--no-demo serves signalling, /healthz and nothing of the demo', async () => {
    const server = startCli(node('serve', '--port', '0', '--no-demo'), environment());
    try {
      const [, socket] = await server.line(/^rtcpool websocket: (\S+)$/);
      const origin = socket?.replace(/^ws:/, 'http:').replace(/\/ws$/, '') ?? '';
      expect(server.lines.some((line) => line.startsWith('rtcpool demo:'))).toBe(false);
      const status = async (path: string) => (await fetch(`${origin}${path}`)).status;
      expect({
        '/': await status('/'),
        '/index.html': await status('/index.html'),
        '/rtcpool.js': await status('/rtcpool.js'),
        '/inspect.js': await status('/inspect.js'),
        '/healthz': await status('/healthz'),
      }).toEqual({ '/': 404, '/index.html': 404, '/rtcpool.js': 404, '/inspect.js': 404, '/healthz': 200 });
      const member = await joinPool(`${origin}/`, 'no-demo');
      expect(member.id).not.toBe('');
      member.close();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test('GET /healthz answers 200 {"ok":true} in JSON; HEAD without the body; other methods 405', async () => {
    const server = startCli(node('serve', '--port', '0', '--quiet'), environment());
    try {
      const [, origin] = await server.line(/^rtcpool health: (\S+)\/healthz$/);
      const get = await fetch(`${origin}/healthz`);
      expect({ status: get.status, type: get.headers.get('content-type'), body: await get.text() }).toEqual({
        status: 200,
        type: 'application/json',
        body: '{"ok":true}',
      });
      const head = await fetch(`${origin}/healthz`, { method: 'HEAD' });
      expect({ status: head.status, body: await head.text() }).toEqual({ status: 200, body: '' });
      const post = await fetch(`${origin}/healthz`, { method: 'POST' });
      expect({ status: post.status, allow: post.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test('a port in use is one line that suggests --port, exit 1', async () => {
    const held = await listening();
    try {
      const [byFlag, byVariable] = await Promise.all([
        runCli(node('serve', '--port', String(held.port)), environment()),
        runCli(node('serve'), environment({ PORT: String(held.port) })),
      ]);
      expect(byFlag).toEqual({
        code: 1,
        stdout: '',
        stderr: `rtcpool: 127.0.0.1:${held.port} is already in use: pick another port with --port\n`,
      });
      expect(byVariable.stderr).toBe(
        `rtcpool: 127.0.0.1:${held.port} is already in use: pick another port with PORT or --port\n`,
      );
    } finally {
      held.server.close();
    }
  });

  test('an error from the server is printed with one rtcpool: prefix, not two', async () => {
    const nobody = await freePort();
    const result = await runCli(node('serve', '--port', '0', '--redis', `redis://127.0.0.1:${nobody}`), environment());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^rtcpool: cannot use Redis at redis://127\\.0\\.0\\.1:${nobody}: .+\\n$`),
    );
    expect(result.stderr).not.toMatch(/rtcpool: rtcpool/);
  });
});
