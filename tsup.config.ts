import { defineConfig, type Options } from 'tsup';

/** Where the browser bundle lands; scripts/bundle-size.ts and test/build read it from here. */
export const BROWSER_BUNDLE = 'dist/browser/rtcpool.js';

/**
 * Package export conditions for the browser bundle, besides esbuild's defaults (`browser`, `import`, `default`).
 * `es2015` picks rxjs's ES2015 build (native classes rather than ES5 down-levelling) over its ES5 default, about 1 KB less
 * min+gzip; `module` keeps xstate on its ESM build (esbuild drops `module` once any condition is set).
 */
export const BROWSER_CONDITIONS = ['es2015', 'module'];

/**
 * Packages never bundled into the Node builds: xstate and rxjs are dependencies; ws, socket.io and ioredis are
 * optional peer dependencies that the server imports only when a transport or the Redis backplane is on (a dynamic
 * `import()`, kept as one by the build: see src/server/index.ts).
 */
const NODE_EXTERNALS = ['xstate', 'rxjs', 'ws', 'socket.io', 'ioredis'];

/**
 * The package for npm and Node: ESM + CJS + declarations. Source maps embed the sources (`sourcesContent`, esbuild's
 * default): the package ships dist/ but not src/, and debuggers show the TypeScript all the same.
 */
export const nodeBuild: Options = {
  name: 'node',
  entry: { index: 'src/index.ts', 'server/index': 'src/server/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  // `**/*` would also delete the other builds' output (dist/browser/, dist/demo/, cli.js) as they write it.
  clean: ['!browser/**', '!demo/**', '!cli.*'],
  target: 'es2022',
  external: NODE_EXTERNALS,
};

/** The `rtcpool` command (`rtcpool serve`): one ES module with a shebang, for Node. */
export const cliBuild: Options = {
  name: 'cli',
  entry: { cli: 'src/cli/main.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  dts: false,
  sourcemap: true,
  clean: false,
  external: NODE_EXTERNALS,
};

/** Stately's browser inspector for the demo page, served as /inspect.js by `rtcpool serve`. */
export const inspectorBuild: Options = {
  name: 'inspector',
  entry: { inspect: 'scripts/inspect-browser.ts' },
  outDir: 'dist/demo',
  format: ['esm'],
  platform: 'browser',
  target: 'es2022',
  minify: true,
  noExternal: [/.*/],
  dts: false,
  clean: true,
  outExtension: () => ({ js: '.js' }),
};

/**
 * One ES module for browsers, every dependency (xstate, rxjs) inlined, minified. Its min+gzip size is
 * checked against bundle-budget.json by scripts/bundle-size.ts.
 */
export const browserBuild: Options = {
  name: 'browser',
  entry: { rtcpool: 'src/index.ts' },
  outDir: 'dist/browser',
  format: ['esm'],
  platform: 'browser',
  target: 'es2022',
  // terser packs this bundle about 1 KB (gzip) smaller than esbuild's minifier.
  minify: 'terser',
  terserOptions: { ecma: 2020, module: true, compress: { passes: 3, pure_getters: true } },
  treeshake: true,
  noExternal: [/.*/],
  dts: false,
  sourcemap: true,
  clean: true,
  outExtension: () => ({ js: '.js' }),
  esbuildOptions(options) {
    options.conditions = [...BROWSER_CONDITIONS];
  },
};

export default defineConfig([nodeBuild, cliBuild, browserBuild, inspectorBuild]);
