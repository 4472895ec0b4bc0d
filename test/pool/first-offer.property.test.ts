/**
 * One round trip per pair: when applications open data channels on the
 * `peer` event (the README's pattern), on the newcomer's side, the present
 * side's or both, every pair of a pool costs exactly one offer and one
 * answer, whatever order fast-check delivers the hub's messages, completes
 * the simulated connections' operations and runs the coalescing timers in.
 *
 * The newcomer's fallback (`firstOfferTimeoutMs`) stands for "longer than
 * any delivery": its timers are held until nothing else is left to run, and
 * then none may still be pending, since every present peer offered first.
 * (test/pool/pool.property.test.ts lets every timer, the fallback included,
 * fire at any point, and checks that the mesh still settles.)
 *
 * RTCPOOL_FIRST_OFFER_PROPERTY_RUNS sets the number of runs (default 500).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MemoryHub } from '../support/memory-hub.js';
import { type Flavour, firefoxFlavour, specFlavour, wrtcFlavour } from '../support/scheduled-pair.js';
import {
  joinScheduledEndpoint,
  type ScheduledEndpoint,
  schedulerClock,
  schedulerSchedule,
} from '../support/scheduled-pool.js';

const runs = Number(process.env.RTCPOOL_FIRST_OFFER_PROPERTY_RUNS ?? 500);
const FALLBACK_MS = 1_000;

/**
 * Timers shorter than `held` are scheduler tasks, run in whatever order
 * fast-check picks; the others wait until the test fires them.
 */
function holdingClock(s: fc.Scheduler, held: number) {
  const tasks = schedulerClock(s);
  /** Held timers, under ids of their own (negative: the scheduler clock's are positive). */
  const waiting = new Map<number, () => void>();
  let nextHeld = 0;
  return {
    setTimeout(fn: (...args: unknown[]) => void, timeout: number): number {
      if (timeout < held) return tasks.setTimeout(fn, timeout);
      nextHeld -= 1;
      waiting.set(nextHeld, fn);
      return nextHeld;
    },
    clearTimeout(id: number): void {
      if (id < 0) waiting.delete(id);
      else tasks.clearTimeout(id);
    },
    /** Held timers not cleared. */
    get pending(): number {
      return waiting.size;
    },
  };
}

const scenarioArb = fc.record({
  people: fc.integer({ min: 2, max: 6 }),
  /** Per person: does its application open a channel on `peer`, and how many. */
  channelsOnPeer: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }),
  flavours: fc.array(fc.constantFrom<Flavour>(specFlavour, wrtcFlavour, firefoxFlavour), {
    minLength: 1,
    maxLength: 3,
  }),
});

describe('one round trip per pair', () => {
  test('channels opened on `peer` by newcomers and present peers alike: exactly one offer and one answer per pair', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArb, async (s, scenario) => {
        const schedule = schedulerSchedule(s);
        const clock = holdingClock(s, FALLBACK_MS);
        const hub = new MemoryHub({ schedule });
        const endpoints: ScheduledEndpoint[] = [];
        try {
          const joins = s.scheduleSequence(
            Array.from({ length: scenario.people }, (_, person) => ({
              label: `person ${person} joins`,
              builder: async () => {
                const channels = scenario.channelsOnPeer[person] ?? 0;
                endpoints.push(
                  joinScheduledEndpoint({
                    hub,
                    pool: 'room',
                    schedule,
                    clock,
                    flavour: scenario.flavours[person % scenario.flavours.length] ?? specFlavour,
                    firstOfferTimeoutMs: FALLBACK_MS,
                    onPeer: (connection) => {
                      for (let i = 0; i < channels; i += 1)
                        connection.pc.createDataChannel(`app${connection.dataChannels++}`);
                    },
                  }),
                );
              },
            })),
          );
          await s.waitIdle();
          expect(joins.done && !joins.faulty, 'everyone joined').toBe(true);
          // Every present peer offered first, so no newcomer is still waiting for its fallback.
          expect(clock.pending, 'fallback timers still pending').toBe(0);

          for (const a of endpoints) {
            expect(a.negotiationErrors.map((e) => e.code)).toEqual([]);
            for (const b of endpoints) {
              if (a === b) continue;
              const mine = a.connections.get(b.id);
              expect(mine, `${a.id} → ${b.id}`).toBeDefined();
              if (!mine) continue;
              expect(a.actor.getSnapshot().children[b.id]?.getSnapshot().value).toEqual({ stable: 'idle' });
              expect(mine.pc.signalingState).toBe('stable');
              expect(mine.pc.pendingOperations).toBe(0);
              expect(mine.pc.hasUnnegotiatedChanges(), `${a.id} → ${b.id}: unnegotiated changes`).toBe(false);
              const pairDescriptions = (a.descriptionsSent.get(b.id) ?? 0) + (b.descriptionsSent.get(a.id) ?? 0);
              expect(pairDescriptions, `descriptions between ${a.id} and ${b.id}`).toBe(2);
            }
          }
        } finally {
          for (const endpoint of endpoints) endpoint.actor.stop();
        }
      }),
      { numRuns: Math.max(1, runs) },
    );
  });
});
