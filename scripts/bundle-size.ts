/**
 * Keeps the browser bundle's size from regressing unnoticed.
 *
 *   npx tsx scripts/bundle-size.ts            measure, print, exit 1 when over budget
 *   npx tsx scripts/bundle-size.ts --update   record today's size in bundle-budget.json
 *
 * It reads `dist/browser/rtcpool.js` (built by `npm run build`, xstate and rxjs
 * inlined) and compares its min+gzip size (gzip level 9, node:zlib) with
 * `bundle-budget.json`:
 *
 *   { "gzipBytes": N, "toleranceBytes": 1024, "targetBytes": 24576, "note": "..." }
 *
 * The check fails when the bundle is more than `toleranceBytes` above
 * `gzipBytes`. Growth past that is recorded deliberately with `--update`, and
 * the commit that changes bundle-budget.json says why. `targetBytes` is the
 * size the project aims to stay under (24 KB); going over it is reported.
 *
 * It also rebuilds the same entry with esbuild twice, in memory: unminified
 * (the "raw" size) and minified with a metafile, whose per-input byte counts
 * give the weight of each package (xstate, rxjs, our own code) and of each of
 * our files. The gzip column of that breakdown is the package's share of the
 * minified bytes applied to the whole bundle's gzip size, an estimate: gzip
 * does not split by source file.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { BROWSER_BUNDLE, BROWSER_CONDITIONS, browserBuild } from '../tsup.config.js';
import { runAsScript } from './run-as-script.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The bundle, relative to the repository root. */
export const bundleFile = BROWSER_BUNDLE;
/** The budget, relative to the repository root. */
export const budgetFile = 'bundle-budget.json';

const updateCommand = 'npx tsx scripts/bundle-size.ts --update';

export interface BundleBudget {
  /** min+gzip bytes of the bundle when the budget was last recorded. */
  gzipBytes: number;
  /** How far above `gzipBytes` the bundle may grow before the check fails. */
  toleranceBytes: number;
  /** The size the project aims to stay under. */
  targetBytes: number;
  note: string;
}

export interface BundleSize {
  /** Bytes of the minified file as written. */
  minBytes: number;
  /** Bytes of that file gzipped at level 9. */
  gzipBytes: number;
}

export interface BundleCheck {
  ok: boolean;
  /** Absolute path of the bundle measured. */
  file: string;
  size: BundleSize;
  budget: BundleBudget;
  /** `budget.gzipBytes + budget.toleranceBytes`: above this the check fails. */
  limitBytes: number;
  overTarget: boolean;
  /** One line: the size against the budget and the target. */
  summary: string;
  /** Why the check fails and how to proceed, or that the target is exceeded; empty when all is well. */
  problems: string[];
}

export interface Weight {
  /** A package name, or `rtcpool` for this repository's own code. */
  name: string;
  /** Bytes this package contributes to the minified bundle (esbuild's `bytesInOutput`). */
  minBytes: number;
  /** Estimated share of the gzip size: `minBytes / total × bundle gzip`. */
  gzipBytes: number;
}

export interface Breakdown {
  /** Size of the same bundle unminified. */
  rawBytes: number;
  /** Sum of the per-input bytes of the minified metafile build. */
  minBytes: number;
  packages: Weight[];
  /** This repository's files, largest first. */
  ownFiles: Weight[];
}

const own = 'rtcpool';

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

function resolve(file: string): string {
  return path.resolve(repoRoot, file);
}

export function readBudget(file: string = budgetFile): BundleBudget {
  const parsed: unknown = JSON.parse(readFileSync(resolve(file), 'utf8'));
  const budget = parsed as Partial<Record<keyof BundleBudget, unknown>>;
  for (const key of ['gzipBytes', 'toleranceBytes', 'targetBytes'] as const) {
    const value = budget[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new Error(`${file}: "${key}" must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
  }
  return parsed as BundleBudget;
}

export function measureBundle(file: string = bundleFile): BundleSize {
  let code: Buffer;
  try {
    code = readFileSync(resolve(file));
  } catch (error) {
    throw new Error(`cannot read ${file}; run \`npm run build\` first (${String(error)})`);
  }
  return { minBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

/** Compares the built bundle with the budget; never throws for an oversize bundle, only reports it. */
export function checkBundleSize(options: { file?: string; budget?: string } = {}): BundleCheck {
  const file = options.file ?? bundleFile;
  const budget = readBudget(options.budget ?? budgetFile);
  const size = measureBundle(file);
  const limitBytes = budget.gzipBytes + budget.toleranceBytes;
  const ok = size.gzipBytes <= limitBytes;
  const overTarget = size.gzipBytes > budget.targetBytes;

  const summary =
    `bundle: ${path.relative(repoRoot, resolve(file))} ${kb(size.gzipBytes)} min+gzip ` +
    `(budget ${kb(budget.gzipBytes)} + ${kb(budget.toleranceBytes)} tolerance, target ${kb(budget.targetBytes)})`;
  const problems: string[] = [];
  if (!ok) {
    problems.push(
      `bundle: ${size.gzipBytes} bytes is ${size.gzipBytes - limitBytes} bytes over the limit of ${limitBytes} ` +
        `(${budget.gzipBytes} recorded + ${budget.toleranceBytes} tolerance).`,
      `If the growth is intended, record it deliberately: run \`${updateCommand}\` and commit ` +
        `${options.budget ?? budgetFile} with the reason in the commit message. Otherwise find what grew ` +
        '(the breakdown of `npx tsx scripts/bundle-size.ts`) and shrink it.',
    );
  }
  if (overTarget) {
    problems.push(
      `bundle: over the ${kb(budget.targetBytes)} min+gzip target by ${size.gzipBytes - budget.targetBytes} bytes.`,
    );
  }
  return { ok, file: resolve(file), size, budget, limitBytes, overTarget, summary, problems };
}

/** Records the current size as the budget, keeping the tolerance, target and note. */
export function updateBudget(options: { file?: string; budget?: string } = {}): BundleBudget {
  const file = options.budget ?? budgetFile;
  const previous = readBudget(file);
  const next: BundleBudget = { ...previous, gzipBytes: measureBundle(options.file).gzipBytes };
  writeFileSync(resolve(file), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

function packageOf(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at === -1) return own;
  const name = parts[at + 1] ?? input;
  return name.startsWith('@') ? `${name}/${parts[at + 2] ?? ''}` : name;
}

function entryPoint(): string {
  const { entry } = browserBuild;
  const first = Array.isArray(entry) ? entry[0] : entry ? Object.values(entry)[0] : undefined;
  if (first === undefined) throw new Error('tsup.config.ts: the browser build has no entry');
  return first;
}

async function bundleInMemory(minify: boolean) {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: [entryPoint()],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: browserBuild.target ?? 'es2022',
    conditions: BROWSER_CONDITIONS,
    minify,
    treeShaking: true,
    metafile: true,
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (output === undefined) throw new Error('esbuild produced no JavaScript');
  return { bytes: output.contents.length, metafile: result.metafile };
}

function weigh(groups: Map<string, number>, total: number, gzipBytes: number): Weight[] {
  return [...groups]
    .map(([name, minBytes]) => ({ name, minBytes, gzipBytes: total === 0 ? 0 : (minBytes / total) * gzipBytes }))
    .sort((a, b) => b.minBytes - a.minBytes);
}

/** What each package and each of our files weighs in the minified bundle. */
export async function analyzeBundle(gzipBytes: number): Promise<Breakdown> {
  const [raw, min] = await Promise.all([bundleInMemory(false), bundleInMemory(true)]);
  const output = Object.values((min.metafile as Metafile).outputs).find((o) => o.entryPoint !== undefined);
  if (output === undefined) throw new Error('esbuild metafile has no entry output');

  const packages = new Map<string, number>();
  const ownFiles = new Map<string, number>();
  let total = 0;
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (bytesInOutput === 0) continue;
    const name = packageOf(input);
    packages.set(name, (packages.get(name) ?? 0) + bytesInOutput);
    if (name === own) ownFiles.set(input, bytesInOutput);
    total += bytesInOutput;
  }
  return {
    rawBytes: raw.bytes,
    minBytes: total,
    packages: weigh(packages, total, gzipBytes),
    ownFiles: weigh(ownFiles, total, gzipBytes),
  };
}

export function formatBreakdown(breakdown: Breakdown, size: BundleSize): string {
  const pct = (bytes: number) => `${((bytes / breakdown.minBytes) * 100).toFixed(0).padStart(3)}%`;
  const row = (w: Weight, width: number) =>
    `  ${w.name.padEnd(width)} ${kb(w.minBytes).padStart(9)} min ${pct(w.minBytes)}  ~${kb(w.gzipBytes).padStart(8)} gzip`;
  const width = Math.max(
    ...breakdown.packages.map((w) => w.name.length),
    ...breakdown.ownFiles.map((w) => w.name.length),
  );
  return [
    `sizes: raw ${kb(breakdown.rawBytes)} (unminified), min ${kb(size.minBytes)}, min+gzip ${kb(size.gzipBytes)}`,
    `by package (bytes in esbuild's metafile of the same build, ${kb(breakdown.minBytes)} min; gzip estimated pro rata):`,
    ...breakdown.packages.map((w) => row(w, width)),
    'our files:',
    ...breakdown.ownFiles.map((w) => row(w, width)),
  ].join('\n');
}

export async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((a) => a !== '--update');
  if (unknown.length > 0) {
    console.error(`bundle-size: unknown argument ${unknown.join(' ')}; usage: bundle-size.ts [--update]`);
    return 2;
  }
  if (args.includes('--update')) {
    const previous = readBudget();
    const next = updateBudget();
    const delta = next.gzipBytes - previous.gzipBytes;
    console.log(
      `bundle: recorded ${next.gzipBytes} bytes (${kb(next.gzipBytes)}) min+gzip in ${budgetFile}, ` +
        `was ${previous.gzipBytes} (${delta >= 0 ? '+' : ''}${delta}); commit it with the reason.`,
    );
  }
  const check = checkBundleSize();
  console.log(check.summary);
  console.log(formatBreakdown(await analyzeBundle(check.size.gzipBytes), check.size));
  for (const line of check.problems) console.error(line);
  return check.ok ? 0 : 1;
}

runAsScript(import.meta.url, 'bundle-size', main);
