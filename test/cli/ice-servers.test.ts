// @vitest-environment node
/**
 * `rtcpool serve --stun/--turn`: the built command hands every endpoint the
 * ICE servers, TURN with credentials minted from RTCPOOL_TURN_SECRET (or
 * --turn-secret, with a warning), prints the URLs and the TTL at start and
 * never the secret, and refuses what cannot work in one line.
 */
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { BUILT_CLI, type CliOptions, runCli, startCli } from './cli-process.js';
import { joinPool } from './ws-member.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const node = (...args: string[]) => [process.execPath, BUILT_CLI, ...args];
const SECRET = 'cli-turn-secret-7f3a9c';
const STUN = 'stun:stun.example.org:3478';
const TURN = 'turn:turn.example.org:3478?transport=udp';

function environment(extra: Record<string, string> = {}): CliOptions {
  const { PORT: _port, HOST: _host, RTCPOOL_TURN_SECRET: _secret, ...rest } = process.env;
  return { env: { ...rest, ...extra } };
}

beforeAll(() => {
  if (!existsSync(BUILT_CLI))
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm run test:all does)');
  const sources = ['src/cli', 'src/server', 'src/protocol'].flatMap((folder) =>
    readdirSync(join(repoRoot, folder), { recursive: true, encoding: 'utf8' }).map((file) =>
      join(repoRoot, folder, file),
    ),
  );
  const newest = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  if (statSync(BUILT_CLI).mtimeMs < newest) throw new Error('dist/cli.js is older than src/: npm run build');
});

/** Runs `serve` with `args`, joins one member, and returns the TURN entry it got plus everything printed. */
async function served(args: string[], env: CliOptions) {
  const server = startCli(node('serve', '--port', '0', '--no-demo', ...args), env);
  try {
    const [, origin] = await server.line(/^rtcpool websocket: ws:\/\/(127\.0\.0\.1:\d+)\/ws$/);
    const member = await joinPool(`http://${origin}/`, 'room');
    const joined = await member.next('rtc:joined');
    member.close();
    return { joined: joined.data, id: member.id, lines: [...server.lines], stderr: server.stderr() };
  } finally {
    expect(await server.stop()).toBe(0);
  }
}

describe('rtcpool serve --stun --turn', () => {
  test('the secret from RTCPOOL_TURN_SECRET: minted credentials for each endpoint, the URLs and TTL printed, never the secret', async () => {
    const { joined, id, lines, stderr } = await served(
      ['--stun', STUN, '--turn', TURN, '--turn', 'turns:turn.example.org:5349', '--turn-ttl', '600'],
      environment({ RTCPOOL_TURN_SECRET: SECRET }),
    );
    expect(lines).toContain(`rtcpool stun: ${STUN}`);
    expect(lines).toContain(`rtcpool turn: ${TURN} (credentials valid 600 s, secret from RTCPOOL_TURN_SECRET)`);
    expect(lines).toContain(
      'rtcpool turn: turns:turn.example.org:5349 (credentials valid 600 s, secret from RTCPOOL_TURN_SECRET)',
    );
    const [stun, turn] = joined.ice_servers as [
      { urls: string[] },
      { urls: string[]; username: string; credential: string },
    ];
    expect(stun).toEqual({ urls: [STUN] });
    expect(turn.urls).toEqual([TURN, 'turns:turn.example.org:5349']);
    const expiry = Number(turn.username.split(':')[0]);
    expect(turn.username).toBe(`${expiry}:${id}`);
    expect(Math.abs(expiry - (Math.floor(Date.now() / 1000) + 600))).toBeLessThanOrEqual(5);
    expect(turn.credential).toBe(createHmac('sha1', SECRET).update(turn.username).digest('base64'));
    expect(`${lines.join('\n')}${stderr}`).not.toContain(SECRET);
  });

  test('--turn-secret works too, with a warning that it shows in ps; the secret itself is never printed', async () => {
    const { joined, lines, stderr } = await served(['--turn', TURN, '--turn-secret', SECRET], environment());
    expect(lines).toContain(`rtcpool turn: ${TURN} (credentials valid 86400 s, secret from --turn-secret)`);
    expect(stderr).toBe(
      'rtcpool: --turn-secret shows in ps to every user of this machine; prefer RTCPOOL_TURN_SECRET\n',
    );
    expect((joined.ice_servers as unknown[]).length).toBe(1);
    expect(`${lines.join('\n')}${stderr}`).not.toContain(SECRET);
  });

  test('without any of them, rtc:joined has no ice_servers and nothing more is printed', async () => {
    const { joined, lines } = await served([], environment({ RTCPOOL_TURN_SECRET: SECRET }));
    expect(joined).not.toHaveProperty('ice_servers');
    expect(lines.filter((line) => /^rtcpool (stun|turn):/.test(line))).toEqual([]);
  });

  test.each<[string, string[], Record<string, string>, string]>([
    [
      '--turn without a secret',
      ['--turn', TURN],
      {},
      'rtcpool: --turn needs the secret shared with the TURN server: set RTCPOOL_TURN_SECRET (or --turn-secret)\n',
    ],
    [
      '--turn with an empty RTCPOOL_TURN_SECRET',
      ['--turn', TURN],
      { RTCPOOL_TURN_SECRET: '' },
      'rtcpool: --turn needs the secret shared with the TURN server: set RTCPOOL_TURN_SECRET (or --turn-secret)\n',
    ],
    ['--turn-secret without --turn', ['--turn-secret', SECRET], {}, 'rtcpool: --turn-secret needs --turn <url>\n'],
    ['--turn-ttl without --turn', ['--turn-ttl', '60'], {}, 'rtcpool: --turn-ttl needs --turn <url>\n'],
    [
      '--turn-ttl 0',
      ['--turn', TURN, '--turn-ttl', '0'],
      { RTCPOOL_TURN_SECRET: SECRET },
      'rtcpool: --turn-ttl: seconds, a positive integer\n',
    ],
    [
      'a --turn that is no TURN URL',
      ['--turn', 'https://turn.example.org'],
      { RTCPOOL_TURN_SECRET: SECRET },
      'rtcpool: --turn: not a turn: or turns: URL (turn:host[:port][?transport=udp|tcp], at most 256 characters)\n',
    ],
    [
      'a --stun that is a TURN URL',
      ['--stun', TURN],
      {},
      'rtcpool: --stun: not a stun: or stuns: URL (stun:host[:port], at most 256 characters)\n',
    ],
  ])('%s: one line, exit 1', async (_, args, extra, stderr) => {
    expect(await runCli(node('serve', '--port', '0', '--no-demo', ...args), environment(extra))).toEqual({
      code: 1,
      stdout: '',
      stderr,
    });
  });

  test('--help lists the flags and says to prefer the environment variable', async () => {
    const { stdout } = await runCli(node('--help'), environment());
    expect(stdout).toContain('--stun <url>');
    expect(stdout).toContain('--turn <url>');
    expect(stdout).toContain('$RTCPOOL_TURN_SECRET');
    expect(stdout).toContain('--turn-ttl <seconds>');
  });
});
