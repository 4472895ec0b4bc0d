// @vitest-environment node
/**
 * The package as its users get it: `npm pack`, the tarball installed into an
 * empty project (from the npm cache when it is warm), then, in that project,
 * what a user does first. One install serves every case, in order:
 *
 * 1. what the tarball holds (dist, the demo, README, LICENSE, CHANGELOG; no
 *    sources) and that its source maps carry the sources;
 * 2. the installed tree: rtcpool, xstate, rxjs and tslib, nothing else;
 * 3. a strict TypeScript program against the published types, the client's
 *    with no Node types at all, the server's with them;
 * 4. without `ws`: `rtcpool/server` (ESM and CJS) and `rtcpool serve` say
 *    what to install;
 * 5. with `ws` installed: `rtcpool serve` from the project's
 *    node_modules/.bin serves its page, /healthz and the WebSocket.
 *
 * It uses dist/ as `npm run build` left it (test:all builds first).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli } from '../cli/cli-process.js';
import { joinPool } from '../cli/ws-member.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const run = promisify(execFile);

/** What the tarball must hold for the package to work: the entries, the command and what it serves. */
const BUILT = ['dist/index.js', 'dist/index.d.ts', 'dist/server/index.js', 'dist/cli.js', 'dist/browser/rtcpool.js'];

/**
 * The environment for npm and the command in the project. An `npm run` around
 * this test (test:all) exports its own project's settings (`npm_config_local_prefix`,
 * `npm_package_*`), which must not point the inner npm back at this repository.
 */
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^npm_(package_|lifecycle_|config_local_prefix$|config_prefix$)/.test(name),
  ),
);

let temporary: string;
let project: string;
let tarball: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> };

const inProject = (...parts: string[]) => join(project, ...parts);
const npm = (args: string[], cwd: string) =>
  run('npm', args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });

/** Bytes of the regular files under `folder` (symlinks, such as node_modules/.bin, not followed). */
function sizeOf(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) total += sizeOf(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/** The installed packages, from npm's own record of the tree (node_modules/.package-lock.json). */
function installedPackages(): string[] {
  const lock = JSON.parse(readFileSync(inProject('node_modules/.package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return Object.keys(lock.packages)
    .map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
}

/** As npm prints sizes: decimal units. */
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

beforeAll(async () => {
  const missing = BUILT.filter((file) => !existsSync(join(repoRoot, file)));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: run \`npm run build\` first (test:all does)`);
  temporary = mkdtempSync(join(tmpdir(), 'rtcpool-pack-'));
  project = join(temporary, 'project');
  mkdirSync(project);
  const { stdout } = await npm(['pack', '--json', '--pack-destination', temporary], repoRoot);
  const [packed] = JSON.parse(stdout) as (typeof tarball)[];
  if (packed === undefined) throw new Error(`npm pack said nothing: ${stdout}`);
  tarball = packed;
  writeFileSync(
    inProject('package.json'),
    JSON.stringify({ name: 'rtcpool-consumer', version: '1.0.0', private: true, type: 'module' }),
  );
  await npm(
    ['install', join(temporary, tarball.filename), '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    project,
  );
}, 180_000);

afterAll(() => {
  if (temporary) rmSync(temporary, { recursive: true, force: true });
});

describe('the published package', () => {
  test('holds dist, the demo, README, LICENSE and CHANGELOG; not the sources', () => {
    const paths = tarball.files.map(({ path }) => path);
    console.log(
      `tarball: ${(tarball.size / 1e3).toFixed(1)} kB, ${megabytes(tarball.unpackedSize)} unpacked, ${paths.length} files`,
    );
    for (const file of [...BUILT, 'dist/demo/inspect.js', 'demo/index.html', 'README.md', 'LICENSE', 'CHANGELOG.md'])
      expect(paths, file).toContain(file);
    const tops = new Set(paths.map((path) => path.split('/')[0]));
    expect([...tops].sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'demo', 'dist', 'package.json']);
  });

  test('its source maps carry the sources, for debuggers without src/', () => {
    const root = inProject('node_modules/rtcpool');
    const maps = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((file) =>
      file.endsWith('.map'),
    );
    expect(maps.length).toBeGreaterThan(4);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(root, 'dist', file), 'utf8')) as {
        sources: string[];
        sourcesContent?: Array<string | null>;
      };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(
        map.sourcesContent?.every((text) => typeof text === 'string' && text.length > 0),
        file,
      ).toBe(true);
    }
  });

  test('installs rtcpool, xstate, rxjs and tslib (rxjs needs it), nothing else', () => {
    const packages = installedPackages();
    const size = sizeOf(inProject('node_modules'));
    console.log(`npm install rtcpool: ${packages.length} packages, ${megabytes(size)} (${packages.join(', ')})`);
    expect(packages).toEqual(['rtcpool', 'rxjs', 'tslib', 'xstate']);
  });

  test('a strict program type-checks against the published types: the client with no Node types', async () => {
    // The client runs in browsers: its types must not need @types/node, ws, socket.io or ioredis (none is
    // installed here, and `types: []` keeps any other copy out).
    writeFileSync(
      inProject('client.ts'),
      `import { Pool, RtcpoolError, Signalling } from 'rtcpool';
import * as bundle from 'rtcpool/browser';

declare const url: string;
const signalling = new Signalling.websocket(() => new WebSocket(url));
const pool = new Pool({ iceServers: [] }, signalling);
pool.events.onpeer = async ({ detail: { connection } }) => {
  const chat = await connection.dataChannel('chat');
  chat.send(\`hello \${connection.id}\`);
};
try {
  await pool.join('lobby');
} catch (error) {
  if (error instanceof RtcpoolError) console.warn(error.code, error.message);
}
export const sameClass: typeof Pool = bundle.Pool;
`,
    );
    // The CommonJS entry's types (index.d.cts), as a require() sees them.
    writeFileSync(
      inProject('client.cts'),
      `import rtcpool = require('rtcpool');
export const errorBase: typeof rtcpool.RtcpoolError = rtcpool.RtcpoolError;
`,
    );
    writeFileSync(
      inProject('server.ts'),
      `import { createSignallingServer, MissingPeerDependencyError, type SignallingServer } from 'rtcpool/server';

try {
  const server: SignallingServer<{ name: string }> = await createSignallingServer<{ name: string }>({
    port: 0,
    socketio: false,
    authenticate: () => ({ name: 'Ada' }),
  });
  server.events$.subscribe((event) => {
    if (event.type === 'join') console.log(event.clientId);
  });
  await server.close();
} catch (error) {
  if (error instanceof MissingPeerDependencyError) console.error(error.packageName);
}
`,
    );
    const compilerOptions = {
      strict: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      noEmit: true,
      // The published .d.ts files are checked too (the defect a user with the default skipLibCheck meets);
      // TypeScript's own lib files are not: they are not ours, and checking lib.dom doubles the time.
      skipLibCheck: false,
      skipDefaultLibCheck: true,
    };
    writeFileSync(
      inProject('tsconfig.client.json'),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
        files: ['client.ts', 'client.cts'],
      }),
    );
    // A server project has @types/node; this one borrows the repository's rather than installing it.
    writeFileSync(
      inProject('tsconfig.server.json'),
      JSON.stringify({
        compilerOptions: {
          ...compilerOptions,
          lib: ['ES2022'],
          typeRoots: [join(repoRoot, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['server.ts'],
      }),
    );
    const check = async (config: string) => {
      const result = await run(process.execPath, [tsc, '-p', config], { cwd: project, env }).catch(
        (error: { stdout?: string; stderr?: string }) => ({ stdout: `${error.stdout}${error.stderr}`, failed: true }),
      );
      return { config, output: result.stdout.trim(), failed: 'failed' in result };
    };
    const results = await Promise.all([check('tsconfig.client.json'), check('tsconfig.server.json')]);
    expect(results).toEqual([
      { config: 'tsconfig.client.json', output: '', failed: false },
      { config: 'tsconfig.server.json', output: '', failed: false },
    ]);

    // And by name: the client's declarations import only xstate, rxjs and their own chunks.
    const dist = inProject('node_modules/rtcpool/dist');
    const declarations = readdirSync(dist).filter((file) => /\.d\.c?ts$/.test(file));
    // TypeScript's own reading: imports, `import()` types and `/// <reference types>`, not the examples in comments.
    const packagesImported = (folder: string, files: string[]) => {
      const names = new Set<string>();
      for (const file of files) {
        const { importedFiles, typeReferenceDirectives } = ts.preProcessFile(readFileSync(join(folder, file), 'utf8'));
        for (const { fileName } of [...importedFiles, ...typeReferenceDirectives])
          if (!fileName.startsWith('.')) names.add(fileName);
      }
      return [...names].sort();
    };
    expect(declarations.length).toBeGreaterThanOrEqual(4);
    expect(packagesImported(dist, declarations)).toEqual(['rxjs', 'xstate']);
    // The server's name Node's http types and rxjs, none of its optional packages.
    expect(packagesImported(join(dist, 'server'), ['index.d.ts', 'index.d.cts'])).toEqual(['node:http', 'rxjs']);
  }, 120_000); // two compilers: a few seconds each alone, several times that on a loaded machine

  test('without ws, the server and the command say what to install (and rtcpool/browser needs nothing)', async () => {
    // Every case in one process per module system: starting Node is most of the cost.
    const probe = (load: string) => `${load}
const attempt = async (options) => {
  try {
    const server = await createSignallingServer(options);
    await server.close();
    return 'started';
  } catch (error) {
    return { message: error.message, missing: error instanceof MissingPeerDependencyError };
  }
};
(async () => console.log(JSON.stringify({
  off: await attempt({ websocket: false, socketio: false }),
  defaults: await attempt({}),
  socketio: await attempt({ websocket: false }),
  redis: await attempt({ websocket: false, socketio: false, redis: 'redis://127.0.0.1:1' }),
  bundle: typeof (await import('rtcpool/browser')).Pool,
})))();`;
    const esm = probe("import { createSignallingServer, MissingPeerDependencyError } from 'rtcpool/server';");
    const cjs = probe("const { createSignallingServer, MissingPeerDependencyError } = require('rtcpool/server');");
    const command = [inProject('node_modules/.bin/rtcpool'), 'serve', '--port', '0'];
    const [fromEsm, fromCjs, cli] = await Promise.all([
      run(process.execPath, ['--input-type=module', '--eval', esm], { cwd: project, env }),
      run(process.execPath, ['--input-type=commonjs', '--eval', cjs], { cwd: project, env }),
      runCli(command, { cwd: project, env }),
    ]);
    const expected = {
      off: 'started',
      bundle: 'function', // and `rtcpool/browser` resolves to the prebuilt bundle, from either module system
      defaults: {
        message:
          'rtcpool/server: the raw WebSocket transport needs the "ws" package: npm install ws (or pass websocket: false)',
        missing: true,
      },
      socketio: {
        message:
          'rtcpool/server: the socket.io transport needs the "socket.io" package: npm install socket.io (or pass socketio: false)',
        missing: true,
      },
      redis: {
        message: 'rtcpool/server: the Redis backplane needs the "ioredis" package: npm install ioredis',
        missing: true,
      },
    };
    expect(JSON.parse(fromEsm.stdout)).toEqual(expected);
    expect(JSON.parse(fromCjs.stdout)).toEqual(expected);
    expect(cli).toEqual({
      code: 1,
      stdout: '',
      stderr: 'rtcpool: the raw WebSocket transport needs the "ws" package: npm install ws\n',
    });
  });

  test('with ws installed, `rtcpool serve` from the project serves its page, /healthz and the WebSocket', async () => {
    await npm(['install', 'ws', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
    const bin = inProject('node_modules/.bin/rtcpool');
    // The CommonJS entry loads `ws` too (through import(), which CommonJS has).
    const startsFromCjs = `require('rtcpool/server').createSignallingServer({ socketio: false })
  .then((server) => server.close()).then(() => console.log('started'));`;
    const [version, withoutSocketIo, fromCjs] = await Promise.all([
      runCli([bin, '--version'], { cwd: project, env }),
      runCli([bin, 'serve', '--port', '0'], { cwd: project, env }),
      run(process.execPath, ['--input-type=commonjs', '--eval', startsFromCjs], { cwd: project, env }),
    ]);
    expect(version).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    expect(fromCjs.stdout).toBe('started\n');
    expect(withoutSocketIo).toMatchObject({
      code: 1,
      stderr:
        'rtcpool: the socket.io transport needs the "socket.io" package: npm install socket.io (or pass --no-socketio)\n',
    });

    const server = startCli([bin, 'serve', '--port', '0', '--no-socketio', '--quiet'], { cwd: project, env });
    try {
      const [, page] = await server.line(/^rtcpool demo: (\S+)$/);
      const [, socket] = await server.line(/^rtcpool websocket: (\S+)$/);
      if (page === undefined || socket === undefined) throw new Error('no URLs printed');
      expect(socket).toBe(`${page.replace(/^http/, 'ws')}ws`);
      const html = await fetch(page);
      expect(html.status).toBe(200);
      expect(await html.text()).toMatch(/<html/i);
      const build = await fetch(new URL('/rtcpool.js', page));
      expect(build.status).toBe(200);
      expect((await build.text()).length).toBeGreaterThan(10_000);
      const health = await fetch(new URL('/healthz', page));
      expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { ok: true } });
      const member = await joinPool(page, 'pack-test');
      expect(member.id).not.toBe('');
      member.close();
    } finally {
      expect(await server.stop(), server.stderr()).toBe(0);
    }
  });
});
