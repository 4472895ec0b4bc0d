/**
 * Perfect negotiation under every interleaving fast-check can find: two
 * peers, local changes on either side at any moment, messages delivered in
 * order per direction, every asynchronous completion scheduled by
 * `fc.scheduler()`.
 *
 * RTCPOOL_PROPERTY_RUNS sets the total number of runs (default 10,000).
 * A failure prints fast-check's seed and path; replay it with
 * RTCPOOL_PROPERTY_SEED=<seed> RTCPOOL_PROPERTY_PATH=<path>.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type Change,
  createScheduledPair,
  type Flavour,
  firefoxFlavour,
  type Peer,
  type ScheduledPair,
  specFlavour,
  wrtcFlavour,
} from '../support/scheduled-pair.js';

const totalRuns = Number(process.env.RTCPOOL_PROPERTY_RUNS ?? 10_000);
const params = (share: number): fc.Parameters<unknown> => {
  const chosen: fc.Parameters<unknown> = { numRuns: Math.max(1, Math.round(totalRuns * share)) };
  if (process.env.RTCPOOL_PROPERTY_SEED) chosen.seed = Number(process.env.RTCPOOL_PROPERTY_SEED);
  if (process.env.RTCPOOL_PROPERTY_PATH) chosen.path = process.env.RTCPOOL_PROPERTY_PATH;
  return chosen;
};

const changeArb: fc.Arbitrary<Change> = fc.record({
  side: fc.constantFrom('polite', 'impolite'),
  kind: fc.constantFrom('datachannel', 'audio', 'video', 'restartIce', 'iceFailure'),
});

/** The first argument is the polite peer's flavour, the second the impolite one's. */
const flavourPairs: Array<[string, Flavour, Flavour, number]> = [
  ['spec ↔ spec', specFlavour, specFlavour, 0.25],
  ['wrtc ↔ wrtc', wrtcFlavour, wrtcFlavour, 0.25],
  ['spec ↔ wrtc', specFlavour, wrtcFlavour, 0.1],
  ['wrtc ↔ spec', wrtcFlavour, specFlavour, 0.1],
  // Firefox beside libwebrtc (Chromium is wrtc's flavour), both politeness assignments, and alone.
  ['firefox ↔ wrtc', firefoxFlavour, wrtcFlavour, 0.1],
  ['wrtc ↔ firefox', wrtcFlavour, firefoxFlavour, 0.1],
  ['firefox ↔ firefox', firefoxFlavour, firefoxFlavour, 0.1],
];

function expectSettled(pair: ScheduledPair): void {
  const { polite, impolite } = pair;
  for (const peer of [polite, impolite]) {
    expect(peer.errors.map((e) => e.message)).toEqual([]);
    expect(peer.actor.getSnapshot().value).toEqual({ stable: 'idle' });
    expect(peer.pc.signalingState).toBe('stable');
    expect(peer.pc.pendingOperations).toBe(0);
  }
  // Each side's description is what the other side applied.
  expect(impolite.pc.currentRemoteDescription?.sdp).toBe(polite.pc.currentLocalDescription?.sdp);
  expect(polite.pc.currentRemoteDescription?.sdp).toBe(impolite.pc.currentLocalDescription?.sdp);
}

function expectEveryChangeNegotiated(peer: Peer): void {
  expect(peer.pc.hasUnnegotiatedChanges()).toBe(false);
  for (const transceiver of peer.transceivers) {
    expect(transceiver.mid).not.toBeNull();
    expect(peer.pc.negotiatedMids()).toContain(transceiver.mid);
  }
  if (peer.dataChannels > 0) expect(peer.pc.currentLocalDescription?.sdp).toMatch(/^m=application/m);
  for (const ufrag of peer.restartFrom) {
    if (ufrag !== null) expect(peer.pc.localIceUfrag).not.toBe(ufrag);
  }
}

describe('perfect negotiation under random interleavings', () => {
  test.each(flavourPairs)(
    '%s: settles stable, in agreement, with every change negotiated',
    async (_, politeFlavour, impoliteFlavour, share) => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.array(changeArb, { maxLength: 8 }), async (s, changes) => {
          const pair = createScheduledPair(s, { polite: politeFlavour, impolite: impoliteFlavour });
          try {
            for (const change of changes) {
              s.schedule(Promise.resolve(), `change: ${change.side} ${change.kind}`).then(() => pair.apply(change));
            }
            await s.waitIdle();

            expectSettled(pair);
            expectEveryChangeNegotiated(pair.polite);
            expectEveryChangeNegotiated(pair.impolite);
            // Bound on SDP messages: a change costs one offer and one answer;
            // a collision adds the polite side's yielded offer, so never more
            // than three per change, and none without a change.
            const descriptions = pair.polite.descriptions + pair.impolite.descriptions;
            expect(descriptions).toBeLessThanOrEqual(3 * changes.length);
          } finally {
            pair.stop();
          }
        }),
        params(share),
      );
    },
  );

  test('changes made one at a time cost exactly one offer and one answer each', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.constantFrom(...flavourPairs),
        fc.array(changeArb, { minLength: 1, maxLength: 6 }),
        async (s, [, politeFlavour, impoliteFlavour], changes) => {
          const pair = createScheduledPair(s, { polite: politeFlavour, impolite: impoliteFlavour });
          try {
            for (const change of changes) {
              const peer = pair[change.side];
              const before = pair.polite.descriptions + pair.impolite.descriptions;
              const failuresBefore = peer.restartFrom.length;
              pair.apply(change);
              // Read synchronously: adding content (or restartIce) marks it unnegotiated at once.
              const needsRound = peer.pc.hasUnnegotiatedChanges();
              await s.waitIdle();
              // A restart (asked for, or after a failure) costs a round only once there is an ICE session to restart.
              const failedIce = peer.restartFrom.slice(failuresBefore).some((ufrag) => ufrag !== null);
              const expected = needsRound || failedIce ? 2 : 0;
              expect(pair.polite.descriptions + pair.impolite.descriptions - before).toBe(expected);
              expectSettled(pair);
            }
            expectEveryChangeNegotiated(pair.polite);
            expectEveryChangeNegotiated(pair.impolite);
          } finally {
            pair.stop();
          }
        },
      ),
      params(0.1),
    );
  });
});
