/**
 * From rounds to numbers: medians, per-pair counts, and where a pair's time
 * goes (phases taken from the marks the pages made on the shared clock).
 */
import type { PageResult } from './page-common.js';
import type { Implementation, RoundResult } from './round.js';

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
};

export const pairsOf = (size: number): number => (size * (size - 1)) / 2;

/** One pair's negotiation, seen from both of its pages. */
export interface PairPhases {
  /** Scheduled join → the first offer either side sent. */
  toOfferMs: number;
  /** That offer → the first answer either side sent. */
  offerToAnswerMs: number;
  /** That answer → the channel open in both pages (ICE, DTLS, SCTP, channel). */
  answerToOpenMs: number;
  /** Offers sent, both directions together: 1 without collision. */
  offers: number;
}

function firstMark(page: PageResult, peer: string, what: string): number | undefined {
  return page.marks.find((mark) => mark.peer === peer && mark.what === what)?.t;
}

function countMarks(page: PageResult, peer: string, what: string): number {
  return page.marks.filter((mark) => mark.peer === peer && mark.what === what).length;
}

function phasesOf(a: PageResult, b: PageResult, at: number): PairPhases | undefined {
  const earliest = (what: string) => {
    const times = [firstMark(a, b.id, what), firstMark(b, a.id, what)].filter((t) => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  };
  const offer = earliest('offer-sent');
  const answer = earliest('answer-sent');
  const openA = a.openAt[b.id];
  const openB = b.openAt[a.id];
  if (offer === undefined || answer === undefined || openA === undefined || openB === undefined) return undefined;
  return {
    toOfferMs: offer - at,
    offerToAnswerMs: answer - offer,
    answerToOpenMs: Math.max(openA, openB) - answer,
    offers: countMarks(a, b.id, 'offer-sent') + countMarks(b, a.id, 'offer-sent'),
  };
}

/** Every pair of a round. */
export function pairPhases(round: RoundResult): PairPhases[] {
  const phases: PairPhases[] = [];
  round.pages.forEach((a, index) => {
    for (const b of round.pages.slice(index + 1)) {
      const pair = phasesOf(a, b, round.at);
      if (pair) phases.push(pair);
    }
  });
  return phases;
}

/** The medians of one implementation at one size, over its rounds. */
export interface Summary {
  implementation: Implementation;
  size: number;
  rounds: number;
  meshMs: number;
  meshMsByRound: number[];
  /** Chromium's CPU time per round (all processes), ms. */
  cpuMs: number;
  sdpPerPair: number;
  candidatesPerPair: number;
  /** Share of pairs where both sides offered. */
  collidedPairs: number;
  toOfferMs: number;
  offerToAnswerMs: number;
  answerToOpenMs: number;
  /** Worst lateness of a page's `rtc:join` behind the scheduled moment, median over rounds. */
  joinLatenessMs: number;
}

export function summarize(implementation: Implementation, size: number, rounds: RoundResult[]): Summary {
  const pairs = pairsOf(size);
  const phases = rounds.flatMap(pairPhases);
  return {
    implementation,
    size,
    rounds: rounds.length,
    meshMs: median(rounds.map((round) => round.meshMs)),
    meshMsByRound: rounds.map((round) => round.meshMs),
    cpuMs: median(rounds.map((round) => round.cpuMs)),
    sdpPerPair: median(rounds.map((round) => round.sdp / pairs)),
    candidatesPerPair: median(rounds.map((round) => round.candidates / pairs)),
    collidedPairs: phases.filter((pair) => pair.offers > 1).length / Math.max(1, phases.length),
    toOfferMs: median(phases.map((pair) => pair.toOfferMs)),
    offerToAnswerMs: median(phases.map((pair) => pair.offerToAnswerMs)),
    answerToOpenMs: median(phases.map((pair) => pair.answerToOpenMs)),
    joinLatenessMs: median(rounds.map((round) => round.joinLatenessMs)),
  };
}
