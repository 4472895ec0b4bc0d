/**
 * Pairs of simulated connections negotiated by either implementation, and
 * the check that a pair really ended negotiated, so that a broken
 * implementation cannot pass for a fast one.
 */
import { createNegotiationActor, type OutgoingSignal } from '../../src/index.js';
import { SimulatedPeerConnection, type SimulatedTransceiver } from '../../test/support/simulated-peer-connection.js';
import { HandWrittenNegotiator } from './hand-written.js';
import type { TaskQueue } from './task-queue.js';
import { FloorNegotiator } from './xstate-floor.js';

/**
 * rtcpool's machine; the same steps as the smallest XState machine (the floor XState sets); the same protocol
 * written by hand (the baseline every ratio is against).
 */
export type Implementation = 'machine' | 'xstate-floor' | 'hand-written';
export const implementations: readonly Implementation[] = ['machine', 'xstate-floor', 'hand-written'];

/** What the benchmark needs of either implementation. */
export interface Negotiator {
  receive(signal: OutgoingSignal): void;
  /** Nothing in flight as far as the negotiator's own state tells. */
  isSettled(): boolean;
  close(): void;
}

export interface NegotiatorOptions {
  pc: SimulatedPeerConnection;
  polite: boolean;
  send: (signal: OutgoingSignal) => void;
  onError: (error: unknown) => void;
  clock: TaskQueue['clock'];
}

export function createNegotiator(implementation: Implementation, options: NegotiatorOptions): Negotiator {
  const { pc, polite, send, onError, clock } = options;
  if (implementation !== 'machine') {
    const negotiator =
      implementation === 'hand-written'
        ? new HandWrittenNegotiator({ pc, polite, send, onError })
        : new FloorNegotiator({ pc, polite, send, onError });
    return {
      receive: (signal) => negotiator.receive(signal),
      isSettled: () => negotiator.settled,
      close: () => negotiator.close(),
    };
  }
  const actor = createNegotiationActor({ pc, polite, send, onError, clock });
  return {
    receive: (signal) => {
      if (signal.type === 'description') actor.send({ type: 'signal.description', description: signal.description });
      else actor.send({ type: 'signal.candidate', candidate: signal.candidate });
    },
    isSettled: () => actor.getSnapshot().matches({ stable: 'idle' }),
    close: () => actor.stop(),
  };
}

interface Side {
  readonly name: 'polite' | 'impolite';
  readonly pc: SimulatedPeerConnection;
  negotiator: Negotiator | undefined;
  readonly errors: unknown[];
  readonly transceivers: SimulatedTransceiver[];
  descriptionsSent: number;
  candidatesSent: number;
}

export interface Pair {
  readonly polite: Side;
  readonly impolite: Side;
}

/**
 * Two idle connections, not negotiated by anything yet. They behave as
 * `@roamhq/wrtc` does (no implicit rollback, no parameterless
 * `setLocalDescription()`), so an implementation that leaned on either
 * would fail the check instead of looking cheap.
 */
export function createPair(queue: TaskQueue): Pair {
  const side = (name: Side['name']): Side => ({
    name,
    pc: new SimulatedPeerConnection({
      name,
      schedule: queue.schedule,
      implicitRollback: false,
      parameterlessSetLocalDescription: false,
    }),
    negotiator: undefined,
    errors: [],
    transceivers: [],
    descriptionsSent: 0,
    candidatesSent: 0,
  });
  return { polite: side('polite'), impolite: side('impolite') };
}

/** Puts a negotiator on each side, talking over an in-order channel that delivers each signal in a task. */
export function attachNegotiators(pair: Pair, implementation: Implementation, queue: TaskQueue): void {
  const { polite, impolite } = pair;
  for (const [from, to] of [
    [polite, impolite],
    [impolite, polite],
  ] as const) {
    from.negotiator = createNegotiator(implementation, {
      pc: from.pc,
      polite: from === polite,
      clock: queue.clock,
      onError: (error) => from.errors.push(error),
      send: (signal) => {
        if (signal.type === 'description') from.descriptionsSent += 1;
        else from.candidatesSent += 1;
        queue.schedule('signal', () => to.negotiator?.receive(signal));
      },
    });
  }
}

/** What the application does: one data channel and one audio transceiver, in one go. */
export function addContent(side: Side): void {
  side.pc.createDataChannel('chat');
  side.transceivers.push(side.pc.addTransceiver('audio'));
}

export function closePair(pair: Pair): void {
  for (const side of [pair.polite, pair.impolite]) {
    side.negotiator?.close();
    side.pc.close();
  }
}

/**
 * Why the pair is not negotiated, or `undefined` when it is: no errors,
 * both sides stable and idle, each side's description the one the other
 * applied, and every m-section the application asked for in both.
 */
export function checkPair(pair: Pair, expectedSections: number): string | undefined {
  const { polite, impolite } = pair;
  for (const side of [polite, impolite]) {
    const { pc } = side;
    if (side.errors.length > 0) return `${side.name}: ${String(side.errors[0])}`;
    if (pc.signalingState !== 'stable') return `${side.name}: signalingState ${pc.signalingState}`;
    if (pc.pendingOperations !== 0) return `${side.name}: ${pc.pendingOperations} operations pending`;
    if (!side.negotiator?.isSettled()) return `${side.name}: negotiator not idle`;
    if (pc.hasUnnegotiatedChanges()) return `${side.name}: changes left unnegotiated`;
    const negotiated = pc.negotiatedMids();
    if (negotiated.length !== expectedSections) {
      return `${side.name}: ${negotiated.length} m-sections negotiated, expected ${expectedSections}`;
    }
    for (const transceiver of side.transceivers) {
      if (transceiver.mid === null || !negotiated.includes(transceiver.mid)) {
        return `${side.name}: transceiver ${transceiver.mid ?? '(no mid)'} not negotiated`;
      }
    }
    if (!/^m=application /m.test(pc.currentLocalDescription?.sdp ?? '')) return `${side.name}: no data channel`;
  }
  const politeLocal = polite.pc.currentLocalDescription?.sdp;
  const impoliteLocal = impolite.pc.currentLocalDescription?.sdp;
  if (politeLocal === undefined || politeLocal !== impolite.pc.currentRemoteDescription?.sdp) {
    return "impolite's remote description is not polite's local one";
  }
  if (impoliteLocal === undefined || impoliteLocal !== polite.pc.currentRemoteDescription?.sdp) {
    return "polite's remote description is not impolite's local one";
  }
  return undefined;
}
