// @vitest-environment node
/**
 * The browser bundle (dist/browser/rtcpool.js): one ES module with xstate and
 * rxjs inlined, loadable without a DOM, within the size budget.
 *
 * CI runs this after `npm run build`. When the bundle is missing, or older than
 * the sources, the browser build is run here first, so `npx vitest run` alone
 * checks the current code too.
 */

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build as esbuild } from 'esbuild';
import { build as tsup } from 'tsup';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkBundleSize } from '../../scripts/bundle-size.js';
import { BROWSER_BUNDLE, browserBuild } from '../../tsup.config.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bundle = path.join(repoRoot, BROWSER_BUNDLE);

/** Newest modification time of the files the bundle is built from. */
function newestSource(): number {
  const files = ['tsup.config.ts', 'package.json', 'package-lock.json'].map((f) => path.join(repoRoot, f));
  for (const dir of ['src', 'machines']) {
    for (const entry of readdirSync(path.join(repoRoot, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(path.join(entry.parentPath, entry.name));
    }
  }
  return Math.max(...files.filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs));
}

beforeAll(async () => {
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource()) return;
  await tsup({
    ...browserBuild,
    config: false,
    silent: true,
    entry: { rtcpool: path.join(repoRoot, 'src/index.ts') },
    outDir: path.dirname(bundle),
  });
}, 120_000);

describe('browser bundle', () => {
  it('is one ES module with every dependency inlined', async () => {
    expect(existsSync(bundle), `${BROWSER_BUNDLE} is missing`).toBe(true);
    expect(existsSync(`${bundle}.map`), 'the source map is written next to the bundle').toBe(true);
    const code = readFileSync(bundle, 'utf8');
    expect(code).not.toMatch(/from\s*["'](xstate|rxjs)(\/[^"']*)?["']/);

    // Let esbuild parse the bundle and report every import it finds, static or dynamic.
    const imports: string[] = [];
    const result = await esbuild({
      entryPoints: [bundle],
      bundle: true,
      write: false,
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'record-imports',
          setup(build) {
            build.onResolve({ filter: /.*/ }, (args) => {
              if (args.kind === 'entry-point') return undefined;
              imports.push(args.path);
              return { path: args.path, external: true };
            });
          },
        },
      ],
    });
    expect(imports, 'imports left in the bundle').toEqual([]);
    const input = Object.values(result.metafile.inputs)[0];
    expect(input?.format).toBe('esm');
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
    expect(output?.exports).toContain('createNegotiationActor');
  });

  it('references no Node-only globals that would throw in a browser', () => {
    const code = readFileSync(bundle, 'utf8');
    expect(code).not.toMatch(/(?<![\w$.])process\.env\b/);
    expect(code).not.toMatch(/(?<![\w$.])require\(/);
  });

  it('loads in a fresh Node ESM process without DOM globals', async () => {
    const probe = `
      for (const name of ['window', 'document', 'self', 'navigator', 'location', 'RTCPeerConnection', 'HTMLElement']) {
        delete globalThis[name];
        if (name in globalThis) throw new Error('cannot remove global ' + name);
      }
      const mod = await import(process.argv[1]);
      console.log(JSON.stringify(Object.fromEntries(Object.entries(mod).map(([k, v]) => [k, typeof v]))));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '--eval', probe, pathToFileURL(bundle).href],
      { cwd: repoRoot },
    );
    const exports = JSON.parse(stdout) as Record<string, string>;
    expect(exports.createNegotiationActor).toBe('function');
    expect(exports.createPoolActor).toBe('function');
    expect(exports.negotiationMachine).toBe('object');
  });

  it('exports what src/index.ts exports, and works in this process', async () => {
    expect('window' in globalThis || 'document' in globalThis, 'this test runs without a DOM').toBe(false);
    const mod = (await import(/* @vite-ignore */ pathToFileURL(bundle).href)) as Record<string, unknown>;
    const source = (await import('../../src/index.js')) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual(Object.keys(source).sort());
    expect(typeof mod.createNegotiationActor).toBe('function');
    expect((mod.negotiationMachine as { id?: unknown }).id).toBe('negotiation');
  });

  it('stays within the size budget in bundle-budget.json', () => {
    const check = checkBundleSize();
    console.log(check.summary);
    for (const line of check.problems) console.warn(line);
    expect(check.ok, [check.summary, ...check.problems].join('\n')).toBe(true);
  });
});
