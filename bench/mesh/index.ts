/**
 * How long rtcpool takes to mesh N browser pages, next to the least
 * hand-written negotiation that meshes them over the same signalling server,
 * in the same run: in Chromium, in Firefox, and in a pool mixing both. See
 * bench/mesh/README.md.
 *
 *   npx tsx bench/mesh/index.ts [--browsers chromium,firefox,mixed] [--sizes 2,4,6] [--rounds 6]
 *                               [--open every|newer] [--bundle file] [--trace]
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
import { type DriverBrowser, type Engine, launchChromiumDriver } from '../../test/support/browser-driver.js';
import { launchFirefoxDriver } from '../../test/support/firefox.js';
import { pairsOf, type Summary, summarize } from './analysis.js';
import { type CpuMeter, cpuMeter } from './cpu.js';
import { printPhases, printTable, printTargets, type Verdict } from './report.js';
import { clockOffset, type Implementation, type RoundOptions, type RoundResult, runRound } from './round.js';
import { type BenchServer, BROWSER_BUNDLE, ensureBrowserBuild, startBenchServer } from './server.js';

const IMPLEMENTATIONS: readonly Implementation[] = ['floor', 'rtcpool'];

/** Which browsers a run's pages live in: page i in `engines[i % engines.length]`. */
const SETUPS = {
  chromium: ['chromium'],
  firefox: ['firefox'],
  mixed: ['chromium', 'firefox'],
} as const satisfies Record<string, readonly Engine[]>;
type Setup = keyof typeof SETUPS;
const isSetup = (name: string): name is Setup => name in SETUPS;

function readOptions() {
  const { values } = parseArgs({
    options: {
      browsers: { type: 'string', default: 'chromium,firefox,mixed' },
      sizes: { type: 'string', default: '2,4,6' },
      rounds: { type: 'string', default: '6' },
      open: { type: 'string', default: 'every' },
      bundle: { type: 'string' },
      trace: { type: 'boolean', default: false },
    },
  });
  const setups = values.browsers.split(',');
  if (!setups.every(isSetup)) throw new Error('--browsers: a list of chromium, firefox and mixed');
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 2)) throw new Error('--sizes: integers of at least 2');
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  if (values.open !== 'every' && values.open !== 'newer') throw new Error('--open is `every` or `newer`');
  const bundle = values.bundle === undefined ? undefined : resolve(values.bundle);
  if (bundle !== undefined && !existsSync(bundle)) throw new Error(`--bundle: no file ${bundle}`);
  return {
    setups: setups as Setup[],
    sizes,
    rounds,
    open: values.open as RoundOptions['open'],
    bundle,
    trace: values.trace,
  };
}

/** Alternates which implementation goes first, so warm caches and drift weigh on both alike. */
const roundOrder = (round: number): readonly Implementation[] =>
  round % 2 === 0 ? IMPLEMENTATIONS : [...IMPLEMENTATIONS].reverse();

/**
 * How far the pages' clock is from Node's (best of a few round trips): the
 * times compared are taken in different processes, so this bounds their error.
 */
async function checkClocks(browser: DriverBrowser, server: BenchServer): Promise<number> {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/floor.html`);
    await page.waitForFunction(() => window.meshBench !== undefined, undefined);
    const samples: number[] = [];
    for (let i = 0; i < 8; i += 1) samples.push(await clockOffset(page));
    return Math.min(...samples.map(Math.abs));
  } finally {
    await page.close();
  }
}

type Options = ReturnType<typeof readOptions>;

/** Runs every round of one size; prints a line per round as it goes. */
async function benchSize(
  browsers: readonly DriverBrowser[],
  server: BenchServer,
  cpu: CpuMeter,
  size: number,
  options: Options,
) {
  const results: Record<Implementation, RoundResult[]> = { floor: [], rtcpool: [] };
  for (let round = 0; round < options.rounds; round += 1) {
    const line: string[] = [];
    for (const implementation of roundOrder(round)) {
      const name = `${implementation}-${size}-${round}`;
      const result = await runRound(browsers, server, cpu, {
        implementation,
        size,
        name,
        open: options.open,
        trace: options.trace,
      });
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

/** Launches the browsers the setups need, once each. */
async function launch(setups: readonly Setup[]): Promise<Map<Engine, DriverBrowser>> {
  const engines = [...new Set(setups.flatMap((setup): readonly Engine[] => SETUPS[setup]))];
  // Firefox rounds its clocks to 1 ms by default; the phases want better.
  const launched = await Promise.all(
    engines.map((engine) =>
      engine === 'chromium' ? launchChromiumDriver() : launchFirefoxDriver({ 'privacy.reduceTimerPrecision': false }),
    ),
  );
  return new Map(engines.map((engine, i) => [engine, launched[i] as DriverBrowser]));
}

/** Every round of one setup (all sizes); prints its tables; returns its targets' verdicts. */
async function benchSetup(
  setup: Setup,
  browsers: readonly DriverBrowser[],
  server: BenchServer,
  options: Options,
): Promise<Verdict[]> {
  const cpu = cpuMeter(browsers);
  console.log('');
  console.log(`== ${setup}: ${[...new Set(browsers.map(({ version }) => version))].join(' + ')}`);
  console.log(
    `page clocks within ${(await checkClocks(browsers[0] as DriverBrowser, server)).toFixed(2)} ms of Node's`,
  );
  // One untimed round of each first: the browser's and Node's first steps are slower than any later one.
  for (const implementation of IMPLEMENTATIONS) {
    const name = `warmup-${setup}-${implementation}`;
    await runRound(browsers, server, cpu, { implementation, size: 2, name, open: options.open, trace: options.trace });
  }
  const summaries: Summary[] = [];
  const sdpPerPairByRound = new Map<number, number[]>();
  for (const size of options.sizes) {
    const results = await benchSize(browsers, server, cpu, size, options);
    for (const implementation of IMPLEMENTATIONS)
      summaries.push(summarize(implementation, size, results[implementation]));
    sdpPerPairByRound.set(
      size,
      results.rtcpool.map((round) => round.sdp / pairsOf(size)),
    );
  }
  printTable(setup, summaries);
  printPhases(setup, summaries);
  return printTargets(setup, summaries, sdpPerPairByRound).map((verdict) => ({
    ...verdict,
    label: `${setup} ${verdict.label}`,
  }));
}

async function main(): Promise<void> {
  const started = performance.now();
  const options = readOptions();
  if (options.bundle === undefined) ensureBrowserBuild(console.log);
  const bundle = options.bundle ?? BROWSER_BUNDLE;
  const server = await startBenchServer(bundle);
  const browsers = await launch(options.setups);
  try {
    const [load] = loadavg();
    console.log(
      `mesh benchmark: ${[...browsers.values()].map(({ version }) => version).join(', ')}, node ${process.version}, ` +
        `${availableParallelism()} cores, load average ${load?.toFixed(1)}; browsers ${options.setups.join(', ')}; ` +
        `sizes ${options.sizes.join(', ')}; ${options.rounds} rounds each; ` +
        `rtcpool pages open \`bench\` toward ${options.open === 'every' ? 'every peer' : 'newer peers only'}; ` +
        `/rtcpool.js = ${bundle}`,
    );
    const verdicts: Verdict[] = [];
    for (const setup of options.setups) {
      const pageBrowsers = SETUPS[setup].map((engine) => browsers.get(engine) as DriverBrowser);
      verdicts.push(...(await benchSetup(setup, pageBrowsers, server, options)));
    }
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
    await Promise.all([...browsers.values()].map((browser) => browser.close()));
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
