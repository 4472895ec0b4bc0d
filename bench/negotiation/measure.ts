/**
 * One timed round of negotiations, and one measurement of idle negotiators'
 * heap. Both force a full garbage collection first, so a round does not pay
 * for the garbage of the one before.
 */
import { createNegotiationActor, type NegotiationActor } from '../../src/index.js';
import { SimulatedPeerConnection } from '../../test/support/simulated-peer-connection.js';
import { HandWrittenNegotiator } from './hand-written.js';
import { addContent, attachNegotiators, checkPair, closePair, createPair, type Implementation } from './pairs.js';
import { TaskQueue } from './task-queue.js';
import { FloorNegotiator } from './xstate-floor.js';

export type Scenario = 'one-sided' | 'glare';

export interface RoundResult {
  cpuMs: number;
  wallMs: number;
  tasks: number;
  descriptions: number;
  candidates: number;
}

/** Every pair runs one task past this many and the round counts as a livelock. */
const MAX_TASKS_PER_PAIR = 1000;

export function collectGarbage(): void {
  if (typeof gc !== 'function') throw new Error('run with --expose-gc');
  gc();
  gc();
}

/**
 * `pairs` pairs negotiate one data channel and one audio transceiver to
 * stable: offered by one side (alternately the polite and the impolite one),
 * or added by both sides at once for `glare`. Timed from attaching the
 * negotiators to the last task; creating the connections and checking the
 * outcome are not timed. Throws when a pair did not end negotiated.
 */
export async function runRound(
  implementation: Implementation,
  scenario: Scenario,
  pairs: number,
): Promise<RoundResult> {
  const queue = new TaskQueue();
  const all = Array.from({ length: pairs }, () => createPair(queue));
  collectGarbage();

  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  all.forEach((pair, index) => {
    attachNegotiators(pair, implementation, queue);
    if (scenario === 'glare' || index % 2 === 0) addContent(pair.polite);
    if (scenario === 'glare' || index % 2 === 1) addContent(pair.impolite);
  });
  const watchdog = setInterval(() => {
    if (queue.tasksRun > pairs * MAX_TASKS_PER_PAIR) {
      console.error(`${implementation} ${scenario}: over ${MAX_TASKS_PER_PAIR} tasks per pair, giving up`);
      process.exit(1);
    }
  }, 1000);
  await queue.idle();
  const wallMs = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(watchdog);

  // Glare: each side's transceiver and the other side's, plus the data channel.
  const expectedSections = scenario === 'glare' ? 3 : 2;
  const failures = all.map((pair) => checkPair(pair, expectedSections)).filter((failure) => failure !== undefined);
  if (failures.length > 0) {
    throw new Error(
      `${implementation} ${scenario}: ${failures.length} of ${pairs} pairs not negotiated: ${failures[0]}`,
    );
  }
  let descriptions = 0;
  let candidates = 0;
  for (const pair of all) {
    for (const side of [pair.polite, pair.impolite]) {
      descriptions += side.descriptionsSent;
      candidates += side.candidatesSent;
    }
    closePair(pair);
  }
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, tasks: queue.tasksRun, descriptions, candidates };
}

export interface IdleHeap {
  /** Heap bytes of one idle negotiator, its listeners on the connection included. */
  perNegotiator: number;
  /** Heap bytes of one idle simulated connection, the baseline taken out. */
  perConnection: number;
}

const noop = (): void => undefined;

/**
 * Heap used by `count` idle negotiators on idle simulated connections: the
 * heap after attaching them minus the heap with the connections alone.
 */
export function measureIdleHeap(implementation: Implementation, count: number): IdleHeap {
  const queue = new TaskQueue();
  // Allocated before the baseline, so only the negotiators themselves are counted.
  const negotiators: Array<NegotiationActor | HandWrittenNegotiator | FloorNegotiator> = new Array(count);
  collectGarbage();
  const empty = process.memoryUsage().heapUsed;
  const pcs = Array.from({ length: count }, () => new SimulatedPeerConnection({ schedule: queue.schedule }));
  collectGarbage();
  const withConnections = process.memoryUsage().heapUsed;

  for (let i = 0; i < count; i += 1) {
    const pc = pcs[i] as SimulatedPeerConnection;
    const polite = i % 2 === 0;
    negotiators[i] =
      implementation === 'machine'
        ? createNegotiationActor({ pc, polite, send: noop, clock: queue.clock })
        : implementation === 'xstate-floor'
          ? new FloorNegotiator({ pc, polite, send: noop, onError: noop })
          : new HandWrittenNegotiator({ pc, polite, send: noop });
  }
  collectGarbage();
  const withNegotiators = process.memoryUsage().heapUsed;

  for (const negotiator of negotiators) {
    if ('close' in negotiator) negotiator.close();
    else negotiator.stop();
  }
  for (const pc of pcs) pc.close();
  return {
    perNegotiator: (withNegotiators - withConnections) / count,
    perConnection: (withConnections - empty) / count,
  };
}
