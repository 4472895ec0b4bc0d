/**
 * The benchmark's one loopback server: rtcpool's own signalling server
 * (`createSignallingServer`, attached to our HTTP server, raw WebSocket at
 * `/ws`) and the pages, on one origin as Chromium requires. It serves the
 * browser build at `/rtcpool.js` the way `rtcpool serve` does, and the two
 * bench pages, bundled from TypeScript when it starts.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createSignallingServer, type ServerEvent, type SignallingServer } from '../../src/server/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The browser build `npm run build` writes, served as `/rtcpool.js` unless `--bundle` names another. */
export const BROWSER_BUNDLE = join(root, 'dist/browser/rtcpool.js');

/** The shared clock (see page-common.ts): epoch milliseconds, sub-millisecond. */
export const now = (): number => performance.timeOrigin + performance.now();

/** The newest modification time of the files under `dir` (but not under `skip`), in ms. */
function newestUnder(dir: string, skip: readonly string[] = []): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && !skip.some((prefix) => path.startsWith(prefix))) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** When the sources of the browser build last changed: src/ and machines/, less the Node-only server and CLI. */
const browserSourcesChanged = (): number =>
  Math.max(
    newestUnder(join(root, 'src'), [join(root, 'src/server/'), join(root, 'src/cli/')]),
    newestUnder(join(root, 'machines')),
  );

/**
 * Makes sure dist/browser/rtcpool.js exists, running `npm run build` when it
 * does not. A bundle older than src/ or machines/ is used as it is, with a
 * warning: the run then measures the code that was built, not the code in src/.
 */
export function ensureBrowserBuild(log: (line: string) => void): void {
  let built: number;
  try {
    built = statSync(BROWSER_BUNDLE).mtimeMs;
  } catch {
    log('dist/browser/rtcpool.js is missing: running `npm run build` first');
    const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) {
      throw new Error(
        '`npm run build` failed, so there is no dist/browser/rtcpool.js to benchmark; fix the build first',
      );
    }
    return;
  }
  if (browserSourcesChanged() > built) {
    log(
      'warning: dist/browser/rtcpool.js is older than src/ or machines/; run `npm run build` to measure the current code',
    );
  }
}

/** A page script bundled for the browser, with rtcpool left to the page's `/rtcpool.js`. */
async function bundlePage(file: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(file, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    plugins: [
      {
        name: 'rtcpool-from-page',
        setup: (bundler) =>
          bundler.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/rtcpool.js', external: true })),
      },
    ],
  });
  return result.outputFiles[0]?.text ?? '';
}

const html = (script: string) =>
  `<!doctype html>\n<meta charset="utf-8">\n<title>rtcpool mesh bench</title>\n<script type="module" src="${script}"></script>\n`;

/** The relays of one pool, counted from the server's `events$` while a round runs. */
export interface RelayLog {
  /** `rtc:sdp` messages relayed so far. */
  readonly sdp: number;
  /** `rtc:candidate` messages relayed so far. */
  readonly candidates: number;
  /** Resolves once no relay has come for `quietMs` (or after `maxMs` in all). */
  settled(quietMs: number, maxMs: number): Promise<void>;
  stop(): void;
}

export interface BenchServer {
  /** `http://127.0.0.1:port`; pages at `/rtcpool.html` and `/floor.html`. */
  readonly url: string;
  /** Starts collecting the relays of `pool`. */
  watch(pool: string): RelayLog;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1, port 0; `bundle` is the file served as `/rtcpool.js`. */
export async function startBenchServer(bundle: string): Promise<BenchServer> {
  const [rtcpoolPage, floorPage] = await Promise.all([bundlePage('rtcpool-page.ts'), bundlePage('floor-page.ts')]);
  const files = new Map<string, { type: string; body: string | Buffer }>([
    ['/rtcpool.html', { type: 'text/html', body: html('/rtcpool-page.js') }],
    ['/floor.html', { type: 'text/html', body: html('/floor-page.js') }],
    ['/rtcpool-page.js', { type: 'text/javascript', body: rtcpoolPage }],
    ['/floor-page.js', { type: 'text/javascript', body: floorPage }],
    ['/rtcpool.js', { type: 'text/javascript', body: readFileSync(bundle) }],
  ]);
  const http = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://localhost').pathname);
    response.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' });
    response.end(file?.body ?? 'not found');
  });
  const signalling: SignallingServer = await createSignallingServer({ server: http });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: signalling.url,
    watch: (pool) => watchRelays(signalling, pool),
    async close() {
      await signalling.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function watchRelays(signalling: SignallingServer, pool: string): RelayLog {
  const counts = { sdp: 0, candidates: 0 };
  let last = now();
  const subscription = signalling.events$.subscribe((event: ServerEvent) => {
    if (event.type !== 'relay' || event.pool !== pool) return;
    last = now();
    if (event.event === 'rtc:sdp') counts.sdp += 1;
    else counts.candidates += 1;
  });
  return {
    get sdp() {
      return counts.sdp;
    },
    get candidates() {
      return counts.candidates;
    },
    async settled(quietMs, maxMs) {
      const deadline = now() + maxMs;
      while (now() - last < quietMs && now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(quietMs - (now() - last), deadline - now()) + 1));
      }
    },
    stop: () => subscription.unsubscribe(),
  };
}
