// @vitest-environment node
/**
 * `ws`, `socket.io` and `ioredis` are optional peer dependencies: the server
 * module loads without them, and `createSignallingServer` imports each only
 * when what needs it is on, failing with a message that says what to install.
 *
 * Here, on the sources: a separate Node process (under tsx) whose module
 * resolution refuses those three packages exactly as Node does when they
 * are not installed. test/build/pack.test.ts checks the same on the built
 * package, installed for real without them.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const serverEntry = pathToFileURL(fileURLToPath(new URL('../../src/server/index.ts', import.meta.url))).href;

/** A resolve hook that answers for the three packages as Node does for a package that is not installed. */
const NOT_INSTALLED = `
export async function resolve(specifier, context, next) {
  if (specifier === 'ws' || specifier === 'socket.io' || specifier === 'ioredis') {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;

/** Runs in the child: each attempt reports `started` or the error, and what was left on a server of the caller's. */
const PROBE = `
import { register } from 'node:module';
import { createServer } from 'node:http';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(NOT_INSTALLED)}));
const { createSignallingServer, MissingPeerDependencyError } = await import(${JSON.stringify(serverEntry)});
const attempt = async (options) => {
  try {
    const server = await createSignallingServer(options);
    await server.close();
    return 'started';
  } catch (error) {
    const { name, code, packageName, feature, message } = error;
    return { name, code, packageName, feature, message, typed: error instanceof MissingPeerDependencyError };
  }
};
const yours = createServer();
const listeners = () => ['request', 'upgrade', 'listening', 'close'].map((event) => yours.listenerCount(event));
const before = listeners();
const results = {
  neither: await attempt({ websocket: false, socketio: false }),
  defaults: await attempt({}),
  socketio: await attempt({ websocket: false }),
  redis: await attempt({ websocket: false, socketio: false, redis: 'redis://127.0.0.1:1' }),
  attached: await attempt({ server: yours }),
};
results.listenersOnYours = { before, after: listeners() };
console.log(JSON.stringify(results));
`;

test('without ws, socket.io and ioredis the server loads, and asks for each only when it is needed', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '--eval', PROBE],
    { cwd: repoRoot, timeout: 30_000 },
  );
  const results = JSON.parse(stdout) as Record<string, unknown>;
  expect(results.neither, 'both transports off: none of the three is needed').toBe('started');
  const missing = (packageName: string, feature: string, message: string) => ({
    name: 'MissingPeerDependencyError',
    code: 'missing-peer-dependency',
    packageName,
    feature,
    message,
    typed: true,
  });
  expect(results.defaults).toEqual(
    missing(
      'ws',
      'the raw WebSocket transport',
      'rtcpool/server: the raw WebSocket transport needs the "ws" package: npm install ws (or pass websocket: false)',
    ),
  );
  expect(results.socketio).toEqual(
    missing(
      'socket.io',
      'the socket.io transport',
      'rtcpool/server: the socket.io transport needs the "socket.io" package: npm install socket.io (or pass socketio: false)',
    ),
  );
  // Refused before any connection to Redis is tried (nothing listens on port 1).
  expect(results.redis).toEqual(
    missing(
      'ioredis',
      'the Redis backplane',
      'rtcpool/server: the Redis backplane needs the "ioredis" package: npm install ioredis',
    ),
  );
  expect(results.attached).toMatchObject({ packageName: 'ws' });
  const { before, after } = results.listenersOnYours as { before: number[]; after: number[] };
  expect(after, 'a failed start leaves no listener on a server of yours').toEqual(before);
});
