/**
 * How long rtcpool takes to mesh N Chromium pages, next to the least
 * hand-written negotiation that meshes them over the same signalling server,
 * in the same run. See bench/mesh/README.md.
 *
 *   npx tsx bench/mesh/index.ts [--sizes 2,4,6] [--rounds 6] [--open every|newer] [--bundle file]
 *
 * Each round loads N fresh pages (one browser context each) of one
 * implementation, joins them to a fresh pool at one scheduled moment and
 * times the mesh; the implementations alternate which goes first. Medians
 * are printed with the ratio rtcpool/floor and the issue's targets. A round
 * that does not mesh aborts the run (exit 1); a target missed is only
 * reported (exit 0).
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium, PLAIN_HOST_CANDIDATES } from '../../test/support/browser-driver.js';
import { pairsOf, type Summary, summarize } from './analysis.js';
import { type CpuMeter, cpuMeter } from './cpu.js';
import { printPhases, printTable, printTargets } from './report.js';
import { clockOffset, type Implementation, type RoundOptions, type RoundResult, runRound } from './round.js';
import { type BenchServer, BROWSER_BUNDLE, ensureBrowserBuild, startBenchServer } from './server.js';

const IMPLEMENTATIONS: readonly Implementation[] = ['floor', 'rtcpool'];

function readOptions() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '2,4,6' },
      rounds: { type: 'string', default: '6' },
      open: { type: 'string', default: 'every' },
      bundle: { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 2)) throw new Error('--sizes: integers of at least 2');
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  if (values.open !== 'every' && values.open !== 'newer') throw new Error('--open is `every` or `newer`');
  const bundle = values.bundle === undefined ? undefined : resolve(values.bundle);
  if (bundle !== undefined && !existsSync(bundle)) throw new Error(`--bundle: no file ${bundle}`);
  return { sizes, rounds, open: values.open as RoundOptions['open'], bundle };
}

/** Alternates which implementation goes first, so warm caches and drift weigh on both alike. */
const roundOrder = (round: number): readonly Implementation[] =>
  round % 2 === 0 ? IMPLEMENTATIONS : [...IMPLEMENTATIONS].reverse();

/**
 * How far the pages' clock is from Node's (best of a few round trips): the
 * times compared are taken in different processes, so this bounds their error.
 */
async function checkClocks(browser: Browser, server: BenchServer): Promise<number> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/floor.html`);
    await page.waitForFunction(() => window.meshBench !== undefined);
    const samples: number[] = [];
    for (let i = 0; i < 8; i += 1) samples.push(await clockOffset(page));
    return Math.min(...samples.map(Math.abs));
  } finally {
    await context.close();
  }
}

type Options = ReturnType<typeof readOptions>;

/** Runs every round of one size; prints a line per round as it goes. */
async function benchSize(browser: Browser, server: BenchServer, cpu: CpuMeter, size: number, options: Options) {
  const results: Record<Implementation, RoundResult[]> = { floor: [], rtcpool: [] };
  for (let round = 0; round < options.rounds; round += 1) {
    const line: string[] = [];
    for (const implementation of roundOrder(round)) {
      const name = `${implementation}-${size}-${round}`;
      const result = await runRound(browser, server, cpu, { implementation, size, name, open: options.open });
      if (result.errors.length) console.log(`  ${name}: ${result.errors.join('; ')}`);
      results[implementation].push(result);
      line.push(
        `${implementation} ${result.meshMs.toFixed(0)} ms (cpu ${result.cpuMs.toFixed(0)} ms), ` +
          `${(result.sdp / pairsOf(size)).toFixed(2)} sdp/pair`,
      );
    }
    console.log(`  N=${size} round ${round + 1}/${options.rounds}: ${line.join('; ')}`);
  }
  return results;
}

async function main(): Promise<void> {
  const started = performance.now();
  const options = readOptions();
  if (options.bundle === undefined) ensureBrowserBuild(console.log);
  const bundle = options.bundle ?? BROWSER_BUNDLE;
  const server = await startBenchServer(bundle);
  const browser = await launchChromium([PLAIN_HOST_CANDIDATES]);
  try {
    const cpu = await cpuMeter(browser);
    const [load] = loadavg();
    console.log(
      `mesh benchmark: Chromium ${browser.version()}, node ${process.version}, ${availableParallelism()} cores, ` +
        `load average ${load?.toFixed(1)}; sizes ${options.sizes.join(', ')}; ${options.rounds} rounds each; ` +
        `rtcpool pages open \`bench\` toward ${options.open === 'every' ? 'every peer' : 'newer peers only'}; ` +
        `/rtcpool.js = ${bundle}`,
    );
    console.log(`page clocks within ${(await checkClocks(browser, server)).toFixed(2)} ms of Node's`);
    // One untimed round of each first: the browser's and Node's first steps are slower than any later one.
    for (const implementation of IMPLEMENTATIONS) {
      const name = `warmup-${implementation}`;
      await runRound(browser, server, cpu, { implementation, size: 2, name, open: options.open });
    }

    const summaries: Summary[] = [];
    const sdpPerPairByRound = new Map<number, number[]>();
    for (const size of options.sizes) {
      const results = await benchSize(browser, server, cpu, size, options);
      for (const implementation of IMPLEMENTATIONS)
        summaries.push(summarize(implementation, size, results[implementation]));
      sdpPerPairByRound.set(
        size,
        results.rtcpool.map((round) => round.sdp / pairsOf(size)),
      );
    }

    printTable(summaries);
    printPhases(summaries);
    const verdicts = printTargets(summaries, sdpPerPairByRound);
    const [loadAfter] = loadavg();
    console.log('');
    console.log(
      `verdict: ${verdicts.every((v) => v.met) ? 'PASS' : 'MISS'} ` +
        `(${verdicts.map((v) => `${v.label} ${v.met ? 'met' : 'missed'}: ${v.detail}`).join('; ')})`,
    );
    console.log(
      `run took ${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${loadAfter?.toFixed(1)} ` +
        `on ${availableParallelism()} cores (times stretch when other work shares them)`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
