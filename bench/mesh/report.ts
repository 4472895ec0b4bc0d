/**
 * The printed part: the table of medians, the ratios rtcpool/floor against
 * the issue's targets, and where a pair's time goes.
 */
import type { Summary } from './analysis.js';

/** The issue's targets: rtcpool's mesh time over the floor's, and SDP messages per pair. */
export const TARGETS = {
  ratio: new Map<number, number>([
    [2, 1.2],
    [6, 1.5],
  ]),
  sdpPerPair: 2,
};

const ms = (value: number) => `${value.toFixed(0)} ms`;
const cell = (text: string, width: number) => text.padStart(width);

export function printTable(setup: string, summaries: Summary[]): void {
  console.log('');
  console.log(`${setup}: mesh: scheduled join → every pair has an open channel in every page; cpu: the browsers’`);
  console.log('CPU time meanwhile, all processes (medians over rounds; the rounds’ mesh times on the right)');
  console.log(
    `${'N'.padStart(2)}  ${'impl'.padEnd(8)}${cell('mesh', 9)}${cell('cpu', 10)}${cell('sdp/pair', 10)}${cell('cand/pair', 11)}` +
      `${cell('collided', 10)}   rounds (ms)`,
  );
  for (const s of summaries) {
    console.log(
      `${String(s.size).padStart(2)}  ${s.implementation.padEnd(8)}${cell(ms(s.meshMs), 9)}${cell(ms(s.cpuMs), 10)}` +
        `${cell(s.sdpPerPair.toFixed(2), 10)}${cell(s.candidatesPerPair.toFixed(1), 11)}` +
        `${cell(`${(s.collidedPairs * 100).toFixed(0)}%`, 10)}   ${s.meshMsByRound.map((t) => t.toFixed(0)).join(' ')}`,
    );
  }
}

export function printPhases(setup: string, summaries: Summary[]): void {
  console.log('');
  console.log(`${setup}: where a pair’s time goes (median over every pair of every round; page clocks):`);
  console.log(
    `${'N'.padStart(2)}  ${'impl'.padEnd(8)}${cell('join→offer', 12)}${cell('offer→answer', 14)}` +
      `${cell('answer→open', 13)}${cell('join late', 11)}`,
  );
  for (const s of summaries) {
    console.log(
      `${String(s.size).padStart(2)}  ${s.implementation.padEnd(8)}${cell(ms(s.toOfferMs), 12)}` +
        `${cell(ms(s.offerToAnswerMs), 14)}${cell(ms(s.answerToOpenMs), 13)}${cell(ms(s.joinLatenessMs), 11)}`,
    );
  }
}

export interface Verdict {
  label: string;
  met: boolean;
  detail: string;
}

/** Prints the ratio per size and each target met or missed; returns the targets' verdicts. */
export function printTargets(setup: string, summaries: Summary[], sdpPerPairByRound: Map<number, number[]>): Verdict[] {
  const verdicts: Verdict[] = [];
  console.log('');
  console.log(`${setup}: ratio rtcpool/floor (medians):`);
  for (const size of new Set(summaries.map((s) => s.size))) {
    const rtcpool = summaries.find((s) => s.size === size && s.implementation === 'rtcpool');
    const floor = summaries.find((s) => s.size === size && s.implementation === 'floor');
    if (!rtcpool || !floor) continue;
    const ratio = rtcpool.meshMs / floor.meshMs;
    const limit = TARGETS.ratio.get(size);
    const verdict = limit === undefined ? '(no target)' : `target ≤ ${limit}x: ${ratio <= limit ? 'MET' : 'MISSED'}`;
    // Most of a round's CPU is each fresh renderer starting WebRTC, the same for both: the difference says more.
    const extraCpu = (rtcpool.cpuMs - floor.cpuMs) / size;
    console.log(
      `  N=${size}: ${ratio.toFixed(2)}x  (${ms(rtcpool.meshMs)} / ${ms(floor.meshMs)})  ${verdict}; ` +
        `cpu ${(rtcpool.cpuMs / floor.cpuMs).toFixed(2)}x, ${extraCpu >= 0 ? '+' : ''}${ms(extraCpu)} per page`,
    );
    if (limit !== undefined) {
      verdicts.push({ label: `N=${size} ratio`, met: ratio <= limit, detail: `${ratio.toFixed(2)}x vs ≤ ${limit}x` });
    }
  }
  for (const [size, perRound] of sdpPerPairByRound) {
    const exact = perRound.every((count) => count === TARGETS.sdpPerPair);
    console.log(
      `  N=${size}: rtcpool SDP messages per pair by round ${perRound.map((n) => n.toFixed(2)).join(' ')}; ` +
        `target exactly ${TARGETS.sdpPerPair} in every round: ${exact ? 'MET' : 'MISSED'}`,
    );
    verdicts.push({ label: `N=${size} sdp/pair`, met: exact, detail: `max ${Math.max(...perRound).toFixed(2)}` });
  }
  return verdicts;
}
