/**
 * A loopback HTTP server for browser test pages, and esbuild bundles of the
 * scripts they run. Pages must come from a loopback http origin: Chromium's
 * local-network-access checks refuse loopback requests from about:blank, and
 * Firefox has no `navigator.mediaDevices` there.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  type: string;
  body: string;
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  close(): Promise<void>;
}

/** Serves `files` (URL path → content) on 127.0.0.1, port 0. */
export async function startStaticServer(files: Map<string, StaticFile>): Promise<StaticServer> {
  const server = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://localhost').pathname);
    response.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain', 'cache-control': 'no-store' });
    response.end(file?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A page that loads one module script. */
export const modulePage = (script: string, title = 'rtcpool test'): StaticFile => ({
  type: 'text/html',
  body: `<!doctype html>\n<meta charset="utf-8">\n<title>${title}</title>\n<script type="module" src="${script}"></script>\n`,
});

/**
 * `entry` (a path from the repository's root) bundled for the browser. With
 * `rtcpoolFromPage`, its imports of `src/index.js` stay `/rtcpool.js`: the
 * page shares one copy of the library, the one its server serves.
 */
export async function bundleForBrowser(entry: string, options: { rtcpoolFromPage?: boolean } = {}): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL(`../../${entry}`, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    plugins: options.rtcpoolFromPage
      ? [
          {
            name: 'rtcpool-from-page',
            setup: (bundler) =>
              bundler.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/rtcpool.js', external: true })),
          },
        ]
      : [],
  });
  return result.outputFiles[0]?.text ?? '';
}
