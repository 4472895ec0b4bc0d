/**
 * How much the perfect-negotiation machine costs next to a hand-written
 * implementation of the same protocol, on simulated connections whose tasks
 * run back to back (no timers, no network): CPU per negotiation, one-sided
 * and in glare, and heap per idle negotiator. Beside both, the same steps as
 * the smallest XState machine (xstate-floor.ts), which splits the machine's
 * cost into XState's share and rtcpool's.
 *
 *   npx tsx bench/negotiation/index.ts [--pairs 2000] [--rounds 5] [--warmup 2] [--actors 2000]
 *
 * Warm-up rounds (a quarter of the pairs, at most 500) only let the JIT
 * settle; then the implementations' rounds alternate and the medians count.
 *
 * It compiles itself with esbuild as the package is built and re-runs the
 * result under `node --expose-gc` (see `reexecCompiled`).
 * A negotiation that ends anywhere but stable and in agreement aborts the
 * run (exit 1); a target missed is only reported (exit 0).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type IdleHeap, measureIdleHeap, type RoundResult, runRound, type Scenario } from './measure.js';
import { type Implementation, implementations } from './pairs.js';

const TARGET_CPU_RATIO = 1.5;
const TARGET_KIB_PER_IDLE_ACTOR = 6;
const REEXEC_MARKER = 'RTCPOOL_BENCH_EXPOSE_GC';

function readOptions() {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      actors: { type: 'string', default: '2000' },
    },
  });
  const count = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return { pairs: count('pairs'), rounds: count('rounds'), warmup: count('warmup'), actors: count('actors') };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
};

/** Rotates which implementation goes first, so drift over the run weighs on each alike. */
const roundOrder = (round: number): readonly Implementation[] => {
  const shift = round % implementations.length;
  return [...implementations.slice(shift), ...implementations.slice(0, shift)];
};

const emptyResults = <T>(): Record<Implementation, T[]> => ({ machine: [], 'xstate-floor': [], 'hand-written': [] });

async function benchScenario(scenario: Scenario, options: ReturnType<typeof readOptions>) {
  const warmupPairs = Math.max(1, Math.min(500, Math.floor(options.pairs / 4)));
  for (let round = 0; round < options.warmup; round += 1) {
    for (const implementation of roundOrder(round)) await runRound(implementation, scenario, warmupPairs);
  }
  const results = emptyResults<RoundResult>();
  for (let round = 0; round < options.rounds; round += 1) {
    for (const implementation of roundOrder(round)) {
      results[implementation].push(await runRound(implementation, scenario, options.pairs));
    }
  }
  return results;
}

function describeRounds(implementation: Implementation, rounds: RoundResult[], pairs: number): string {
  const cpuMs = median(rounds.map((r) => r.cpuMs));
  const wallMs = median(rounds.map((r) => r.wallMs));
  const perPair = (n: number) => (n / pairs).toFixed(1);
  const first = rounds[0];
  const traffic = first
    ? `; per pair ${perPair(first.descriptions)} descriptions, ${perPair(first.candidates)} candidates, ${perPair(first.tasks)} tasks`
    : '';
  return (
    `  ${implementation.padEnd(12)} cpu ${cpuMs.toFixed(0)} ms = ${((cpuMs * 1000) / pairs).toFixed(0)} µs per pair ` +
    `(${Math.round((pairs / cpuMs) * 1000)} negotiations/s), wall ${wallMs.toFixed(0)} ms ` +
    `(${Math.round((pairs / wallMs) * 1000)}/s)${traffic}\n` +
    `  ${''.padEnd(12)} cpu ms by round: ${rounds.map((r) => r.cpuMs.toFixed(0)).join(' ')}`
  );
}

const medianOf = (rounds: RoundResult[], key: 'cpuMs' | 'wallMs'): number => median(rounds.map((r) => r[key]));

/** `a`/`b` of the medians, cpu and wall. */
function ratios(results: Record<Implementation, RoundResult[]>, a: Implementation, b: Implementation) {
  return {
    cpu: medianOf(results[a], 'cpuMs') / medianOf(results[b], 'cpuMs'),
    wall: medianOf(results[a], 'wallMs') / medianOf(results[b], 'wallMs'),
  };
}

/** Prints a scenario's rounds and ratios; returns the ratio the target is about (machine/hand-written cpu). */
function reportScenario(label: string, results: Record<Implementation, RoundResult[]>, pairs: number): number {
  console.log(label);
  for (const implementation of implementations)
    console.log(describeRounds(implementation, results[implementation], pairs));
  const target = ratios(results, 'machine', 'hand-written');
  const floor = ratios(results, 'xstate-floor', 'hand-written');
  const ours = ratios(results, 'machine', 'xstate-floor');
  console.log(`  cpu ratio machine/hand-written: ${target.cpu.toFixed(2)}x (wall ${target.wall.toFixed(2)}x)`);
  console.log(
    `  cpu ratio xstate-floor/hand-written: ${floor.cpu.toFixed(2)}x (wall ${floor.wall.toFixed(2)}x): XState's own floor`,
  );
  console.log(
    `  cpu ratio machine/xstate-floor: ${ours.cpu.toFixed(2)}x (wall ${ours.wall.toFixed(2)}x): rtcpool's share`,
  );
  return target.cpu;
}

/**
 * Runs this benchmark compiled the way the package is built (esbuild, no name-keeping), not through tsx: tsx keeps
 * every function's name with a helper call that costs a property array per closure, which weighs on a negotiator
 * made of many closures (2.3 KiB of an idle machine's heap, several percent of its CPU) and on nothing users run.
 * The bundle leaves packages (xstate) external, so they load from node_modules as in an application.
 */
async function reexecCompiled(): Promise<never> {
  const { build } = await import('esbuild');
  const outfile = fileURLToPath(new URL('../../node_modules/.cache/rtcpool-bench/negotiation.mjs', import.meta.url));
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  const child = spawnSync(process.execPath, ['--expose-gc', outfile, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARKER]: '1' },
  });
  process.exit(child.status ?? 1);
}

async function main(): Promise<void> {
  if (!process.env[REEXEC_MARKER]) await reexecCompiled();
  if (typeof gc !== 'function') throw new Error('global.gc is missing even with --expose-gc');
  const options = readOptions();
  console.log(
    `negotiation benchmark: ${options.pairs} pairs per round, ${options.rounds} rounds after ${options.warmup} warm-up, ` +
      `${options.actors} idle actors; node ${process.version}; cpu includes GC threads`,
  );

  const oneSided = await benchScenario('one-sided', options);
  const ratio = reportScenario(
    'one-sided: one side adds a data channel and an audio transceiver (medians)',
    oneSided,
    options.pairs,
  );
  const glare = await benchScenario('glare', options);
  const glareRatio = reportScenario(
    'glare: both sides add a data channel and an audio transceiver at once (medians)',
    glare,
    options.pairs,
  );

  const heaps = emptyResults<IdleHeap>();
  for (let round = 0; round < 5; round += 1) {
    for (const implementation of roundOrder(round)) {
      heaps[implementation].push(measureIdleHeap(implementation, options.actors));
    }
  }
  const kib = (implementation: Implementation) => median(heaps[implementation].map((h) => h.perNegotiator)) / 1024;
  const connectionKib = median(Object.values(heaps).flatMap((runs) => runs.map((h) => h.perConnection))) / 1024;
  console.log(
    `idle negotiators: heap after full GC, ${options.actors} at a time, minus the idle simulated connections ` +
      `(${connectionKib.toFixed(1)} KiB each); median of 5`,
  );
  for (const implementation of implementations) {
    const runs = heaps[implementation].map((h) => (h.perNegotiator / 1024).toFixed(2)).join(' ');
    console.log(`  ${implementation.padEnd(12)} ${kib(implementation).toFixed(2)} KiB (runs: ${runs})`);
  }
  const machineKib = kib('machine');
  console.log(
    `memory per idle actor: ${machineKib.toFixed(1)} KiB (xstate-floor: ${kib('xstate-floor').toFixed(1)} KiB, ` +
      `hand-written: ${kib('hand-written').toFixed(1)} KiB)`,
  );

  const checks = [
    { label: 'cpu', value: ratio, limit: TARGET_CPU_RATIO, unit: 'x' },
    { label: 'glare cpu', value: glareRatio, limit: TARGET_CPU_RATIO, unit: 'x' },
    { label: 'memory', value: machineKib, limit: TARGET_KIB_PER_IDLE_ACTOR, unit: ' KiB' },
  ];
  const summary = checks
    .map(({ label, value, limit, unit }) => {
      const shown = unit === 'x' ? value.toFixed(2) : value.toFixed(1);
      return `${label} ${shown}${unit} ${value <= limit ? '≤' : '>'} ${limit}${unit}`;
    })
    .join(', ');
  const pass = checks.every(({ value, limit }) => value <= limit);
  console.log(`verdict: ${pass ? 'PASS' : 'MISS'} (${summary})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
