import { describe, expect, test } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { type NegotiationInput, negotiationMachine } from '../../machines/negotiation.js';
import type { IceConnectionState } from '../../src/index.js';

/**
 * When the machine restarts ICE on its own: on the connection failing, and
 * (optionally) after a lasting `disconnected` (the `iceDisconnectedRestart`
 * delay), on a simulated clock. The real-stack side,
 * a cut UDP path, is in test/real/ice-restart.real.test.ts.
 */
function start(input: Partial<NegotiationInput>) {
  const restarts: string[] = [];
  const offers: boolean[] = [];
  const clock = new SimulatedClock();
  const machine = negotiationMachine.provide({
    actions: { restartIce: () => void restarts.push('restartIce') },
    actors: {
      // Records the ICE restart the offer carries; null ends the round at once.
      makeOffer: fromPromise(async ({ input }) => {
        offers.push(input.iceRestart);
        return null;
      }),
    },
  });
  const actor = createActor(machine, { input: { peerId: 'p', polite: false, ...input }, clock }).start();
  const ice = (state: IceConnectionState) => actor.send({ type: 'pc.iceconnectionstatechange', state });
  return { actor, clock, ice, restarts, offers };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('restart after a lasting disconnection (iceDisconnectedRestartMs)', () => {
  test('restarts ICE once disconnected has lasted the delay, and offers with iceRestart', async () => {
    const { actor, clock, ice, restarts, offers } = start({ iceDisconnectedRestartMs: 2_000 });
    ice('connected');
    ice('disconnected');
    clock.increment(1_999);
    expect(restarts).toEqual([]);
    clock.increment(1);
    expect(restarts).toEqual(['restartIce']);
    clock.increment(0); // the coalescing delay before any offer
    await settle();
    expect(offers).toEqual([true]);
    actor.stop();
  });

  test('a disconnection that heals before the delay restarts nothing', () => {
    const { actor, clock, ice, restarts } = start({ iceDisconnectedRestartMs: 2_000 });
    ice('disconnected');
    clock.increment(1_500);
    ice('connected');
    clock.increment(10_000);
    expect(restarts).toEqual([]);
    actor.stop();
  });

  test('a repeated disconnected report restarts once, timed from the last report', () => {
    const { actor, clock, ice, restarts } = start({ iceDisconnectedRestartMs: 2_000 });
    ice('disconnected');
    clock.increment(1_000);
    ice('disconnected');
    clock.increment(1_500);
    expect(restarts).toEqual([]);
    clock.increment(500);
    clock.increment(10_000);
    expect(restarts).toEqual(['restartIce']);
    actor.stop();
  });

  test('failed before the delay restarts at once, and the timer does not restart again', () => {
    const { actor, clock, ice, restarts } = start({ iceDisconnectedRestartMs: 2_000 });
    ice('disconnected');
    clock.increment(1_000);
    ice('failed');
    expect(restarts).toEqual(['restartIce']);
    clock.increment(10_000);
    expect(restarts).toEqual(['restartIce']);
    actor.stop();
  });

  test('without the option only failed restarts ICE (the W3C behaviour)', () => {
    const { actor, clock, ice, restarts } = start({});
    ice('disconnected');
    clock.increment(60_000);
    expect(restarts).toEqual([]);
    ice('failed');
    expect(restarts).toEqual(['restartIce']);
    actor.stop();
  });
});

describe('restart on the connection failing', () => {
  test('connectionState failed restarts ICE, even when iceConnectionState was last read as disconnected', () => {
    const { actor, clock, ice, restarts } = start({});
    ice('disconnected');
    actor.send({ type: 'pc.connectionstatechange', state: 'failed' });
    expect(restarts).toEqual(['restartIce']);
    clock.increment(10_000);
    expect(restarts).toEqual(['restartIce']);
    actor.stop();
  });

  test('a connection failure while a restart is underway adds no second restart', () => {
    const { actor, ice, restarts } = start({});
    ice('failed');
    actor.send({ type: 'pc.connectionstatechange', state: 'failed' });
    expect(restarts).toEqual(['restartIce']);
    actor.stop();
  });
});
