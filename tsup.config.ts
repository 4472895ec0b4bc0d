import { defineConfig, type Options } from 'tsup';

/** Where the browser bundle lands; scripts/bundle-size.ts and test/build read it from here. */
export const BROWSER_BUNDLE = 'dist/browser/rtcpool.js';

/**
 * Package export conditions for the browser bundle, besides esbuild's defaults (`browser`, `import`, `default`).
 * `es2015` picks rxjs's ES2015 build (native classes rather than ES5 down-levelling) over its ES5 default, about 1 KB less
 * min+gzip; `module` keeps xstate on its ESM build (esbuild drops `module` once any condition is set).
 */
export const BROWSER_CONDITIONS = ['es2015', 'module'];

/** The package for npm and Node: ESM + CJS + declarations, xstate and rxjs left as dependencies. */
export const nodeBuild: Options = {
  name: 'node',
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  // `**/*` would also delete dist/browser/ while the browser build (run in parallel) writes it.
  clean: ['!browser/**'],
  target: 'es2022',
  external: ['xstate', 'rxjs'],
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

export default defineConfig([nodeBuild, browserBuild]);
