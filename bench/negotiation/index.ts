/**
 * How much the perfect-negotiation machine costs next to a hand-written
 * implementation of the same protocol, on simulated connections whose tasks
 * run back to back (no timers, no network): CPU per negotiation, one-sided
 * and in glare, and heap per idle negotiator.
 *
 *   npx tsx bench/negotiation/index.ts [--pairs 2000] [--rounds 5] [--warmup 2] [--actors 2000]
 *
 * Warm-up rounds (a quarter of the pairs, at most 500) only let the JIT
 * settle; then machine and hand-written rounds alternate and the medians count.
 *
 * It needs `--expose-gc` and re-runs itself with it when started without
 * (the same as `node --expose-gc --import tsx bench/negotiation/index.ts`).
 * A negotiation that ends anywhere but stable and in agreement aborts the
 * run (exit 1); a target missed is only reported (exit 0).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type IdleHeap, measureIdleHeap, type RoundResult, runRound, type Scenario } from './measure.js';
import { type Implementation, implementations } from './pairs.js';

const TARGET_CPU_RATIO = 1.3;
const TARGET_KIB_PER_IDLE_ACTOR = 8;
const REEXEC_MARKER = 'RTCPOOL_BENCH_EXPOSE_GC';

function reexecWithGc(): never {
  if (process.env[REEXEC_MARKER]) throw new Error('global.gc is missing even with --expose-gc');
  // execArgv carries tsx's loader, so the child runs this same TypeScript file.
  const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARKER]: '1' },
  });
  process.exit(child.status ?? 1);
}

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

/** Alternates which implementation goes first, so drift over the run weighs on both alike. */
const roundOrder = (round: number): readonly Implementation[] =>
  round % 2 === 0 ? implementations : [...implementations].reverse();

async function benchScenario(scenario: Scenario, options: ReturnType<typeof readOptions>) {
  const warmupPairs = Math.max(1, Math.min(500, Math.floor(options.pairs / 4)));
  for (let round = 0; round < options.warmup; round += 1) {
    for (const implementation of roundOrder(round)) await runRound(implementation, scenario, warmupPairs);
  }
  const results: Record<Implementation, RoundResult[]> = { machine: [], 'hand-written': [] };
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

function cpuRatio(results: Record<Implementation, RoundResult[]>): number {
  return median(results.machine.map((r) => r.cpuMs)) / median(results['hand-written'].map((r) => r.cpuMs));
}

function wallRatio(results: Record<Implementation, RoundResult[]>): number {
  return median(results.machine.map((r) => r.wallMs)) / median(results['hand-written'].map((r) => r.wallMs));
}

async function main(): Promise<void> {
  if (typeof gc !== 'function') reexecWithGc();
  const options = readOptions();
  console.log(
    `negotiation benchmark: ${options.pairs} pairs per round, ${options.rounds} rounds after ${options.warmup} warm-up, ` +
      `${options.actors} idle actors; node ${process.version}; cpu includes GC threads`,
  );

  const oneSided = await benchScenario('one-sided', options);
  console.log('one-sided: one side adds a data channel and an audio transceiver (medians)');
  for (const implementation of implementations) {
    console.log(describeRounds(implementation, oneSided[implementation], options.pairs));
  }
  const ratio = cpuRatio(oneSided);
  console.log(`cpu ratio machine/hand-written: ${ratio.toFixed(2)}x`);
  console.log(`wall ratio machine/hand-written: ${wallRatio(oneSided).toFixed(2)}x`);

  const glare = await benchScenario('glare', options);
  console.log('glare: both sides add a data channel and an audio transceiver at once (medians)');
  for (const implementation of implementations) {
    console.log(describeRounds(implementation, glare[implementation], options.pairs));
  }
  const glareRatio = cpuRatio(glare);
  console.log(`glare cpu ratio machine/hand-written: ${glareRatio.toFixed(2)}x`);
  console.log(`glare wall ratio machine/hand-written: ${wallRatio(glare).toFixed(2)}x`);

  const heaps: Record<Implementation, IdleHeap[]> = { machine: [], 'hand-written': [] };
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
    `memory per idle actor: ${machineKib.toFixed(1)} KiB (hand-written: ${kib('hand-written').toFixed(1)} KiB)`,
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
