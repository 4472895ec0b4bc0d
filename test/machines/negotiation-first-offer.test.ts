/**
 * `firstOfferTimeoutMs`: the side that knows the other offers first (a
 * pool's newcomer) keeps its own changes until that offer arrives, so the
 * pair costs one offer and one answer; with nobody offering, it offers once
 * the fallback delay has passed.
 */
import { describe, expect, test } from 'vitest';
import {
  createNegotiationActor,
  type NegotiationActor,
  type NegotiationActorOptions,
  type OutgoingSignal,
} from '../../src/index.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

/** Timers of one duration fire only when the test says so; the others (the coalescing delay) run as usual. */
class ManualClock {
  #next = 0;
  readonly #real = new Map<number, ReturnType<typeof setTimeout>>();
  readonly timers = new Map<number, () => void>();
  constructor(private readonly held: number) {}
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): number {
    this.#next += 1;
    const id = this.#next;
    if (timeout === this.held) this.timers.set(id, fn);
    else this.#real.set(id, setTimeout(fn, timeout));
    return id;
  }
  clearTimeout(id: number): void {
    this.timers.delete(id);
    clearTimeout(this.#real.get(id));
    this.#real.delete(id);
  }
  /** Fires every held timer; returns how many there were. */
  fire(): number {
    const due = [...this.timers];
    this.timers.clear();
    for (const [, fn] of due) fn();
    return due.length;
  }
}

interface Side {
  pc: SimulatedPeerConnection;
  actor: NegotiationActor;
  sent: OutgoingSignal[];
}

const descriptions = (side: Side) =>
  side.sent.flatMap((signal) => (signal.type === 'description' ? [signal.description.type] : []));

/** What the present peer sent toward the newcomer and was not delivered yet (while `held`). */
interface Held {
  held: boolean;
  signals: OutgoingSignal[];
}

const toEvent = (signal: OutgoingSignal) =>
  signal.type === 'description'
    ? ({ type: 'signal.description', description: signal.description } as const)
    : ({ type: 'signal.candidate', candidate: signal.candidate } as const);

/** Two sides whose signals reach each other a task later, in order; the present peer's can be held. */
function pair(newcomer: Partial<NegotiationActorOptions>): { present: Side; joining: Side; toJoining: Held } {
  const sides: Side[] = [];
  const toJoining: Held = { held: false, signals: [] };
  const make = (polite: boolean, options: Partial<NegotiationActorOptions>): Side => {
    const pc = new SimulatedPeerConnection();
    const sent: OutgoingSignal[] = [];
    const send = (signal: OutgoingSignal) => {
      sent.push(signal);
      const other = sides.find((side) => side.pc !== pc);
      if (polite || !toJoining.held) setTimeout(() => other?.actor.send(toEvent(signal)));
      else toJoining.signals.push(signal);
    };
    return { pc, sent, actor: createNegotiationActor({ pc, polite, send, ...options }) };
  };
  const present = make(false, {});
  const joining = make(true, newcomer);
  sides.push(present, joining);
  return { present, joining, toJoining };
}

const settled = (side: Side) => side.actor.getSnapshot().matches({ stable: 'idle' }) && side.pc.pendingOperations === 0;

describe('a newcomer waiting for the first offer', () => {
  test("its channel rides the present peer's offer: one offer and one answer for the pair", async () => {
    const { present, joining } = pair({ firstOfferTimeoutMs: 60_000 });
    joining.pc.createDataChannel('app'); // the newcomer's application, on its `peer` event
    await new Promise((resolve) => setTimeout(resolve, 20)); // one signalling hop: the present peer hears of it
    expect(descriptions(joining)).toEqual([]);
    expect(joining.actor.getSnapshot().value).toBe('awaitingFirstOffer');
    present.pc.createDataChannel('control'); // the present peer starts the pair
    await until(() => settled(present) && settled(joining) && descriptions(joining).length > 0, 'negotiated');
    await new Promise((resolve) => setTimeout(resolve, 20)); // nothing more follows
    expect(descriptions(present)).toEqual(['offer']);
    expect(descriptions(joining)).toEqual(['answer']);
    expect(joining.pc.hasUnnegotiatedChanges()).toBe(false);
    expect(present.pc.currentRemoteDescription?.sdp).toBe(joining.pc.currentLocalDescription?.sdp);
    present.actor.stop();
    joining.actor.stop();
  });

  test('without the wait the same pair collides: two offers and an answer', async () => {
    const { present, joining } = pair({});
    // Both change the connection in the same moment: the newcomer on its `peer` event, the present peer on its.
    joining.pc.createDataChannel('app');
    present.pc.createDataChannel('control');
    const all = () => [...descriptions(present), ...descriptions(joining)];
    await until(() => settled(present) && settled(joining) && all().includes('answer'), 'negotiated');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(descriptions(present)).toEqual(['offer']);
    expect(descriptions(joining)).toEqual(['offer', 'answer']);
    present.actor.stop();
    joining.actor.stop();
  });

  test('with nobody offering, it offers when the fallback delay has passed, not before', async () => {
    const clock = new ManualClock(1_500);
    const { present, joining } = pair({ firstOfferTimeoutMs: 1_500, clock });
    joining.pc.createDataChannel('app');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(descriptions(joining)).toEqual([]);
    expect(clock.fire()).toBe(1);
    await until(() => settled(present) && settled(joining) && descriptions(present).length > 0, 'negotiated');
    expect(descriptions(joining)).toEqual(['offer']);
    expect(descriptions(present)).toEqual(['answer']);
    present.actor.stop();
    joining.actor.stop();
  });

  test('candidates that overtake the offer wait for it; a change the answer cannot carry is offered after', async () => {
    const { present, joining, toJoining } = pair({ firstOfferTimeoutMs: 60_000 });
    toJoining.held = true;
    joining.pc.addTransceiver('video'); // a kind the present peer's offer will not carry
    present.pc.createDataChannel('control');
    await until(() => toJoining.signals.some((signal) => signal.type === 'candidate'), "the present peer's candidates");
    // Its candidates arrive first, then its offer.
    const ordered = [
      ...toJoining.signals.filter((signal) => signal.type === 'candidate'),
      ...toJoining.signals.filter((signal) => signal.type === 'description'),
    ];
    const candidates = ordered.flatMap((signal) =>
      signal.type === 'candidate' && signal.candidate ? [signal.candidate.candidate] : [],
    );
    toJoining.held = false;
    for (const signal of ordered) joining.actor.send(toEvent(signal));
    await until(
      () => settled(present) && settled(joining) && descriptions(present).includes('answer'),
      'the follow-up negotiated',
    );
    expect(descriptions(present)).toEqual(['offer', 'answer']);
    expect(descriptions(joining)).toEqual(['answer', 'offer']);
    expect(joining.pc.hasUnnegotiatedChanges()).toBe(false);
    expect(candidates.length).toBeGreaterThan(0);
    expect(joining.pc.remoteCandidates).toEqual(expect.arrayContaining(candidates));
    present.actor.stop();
    joining.actor.stop();
  });
});
