/**
 * Keeps the simulated peer connection honest: scripted operation sequences
 * run on a pair of simulated connections and on a pair of real ones
 * (`@roamhq/wrtc`, `werift`), and the traces must match step by step:
 * signaling states, which calls fail and with which error name, the
 * m-sections and ICE generation of every created description, how many
 * negotiationneeded events fired, and the signalingstatechange events.
 *
 * The scripts and their runner are in scripts.ts (the browsers run them
 * too: browsers.browser.test.ts). Where a real stack departs from the
 * specification (which the model follows), the departure is written down below in `divergences`, checked to
 * still be a departure (the model must disagree with it), and only then
 * patched into the expected trace. Nothing else may differ.
 */
import wrtc from '@roamhq/wrtc';
import { describe, expect, it } from 'vitest';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { type Flavour, type Observation, runScript, type ScriptedPeer, type Step, scenarios } from './scripts.js';

interface Divergence {
  /** The step (its index in the script, and the step itself as a check), or the final events entry. */
  readonly at: readonly [number, Step] | 'events';
  /** What the real stack records there instead of what the specification (and the model) says. */
  readonly real: Partial<Omit<Observation, 'step'>>;
}

type StackName = 'wrtc' | 'werift';

const closedEvents = { A: 'closed', B: 'closed' };

/**
 * Every way the real stacks depart from the specification in these scripts,
 * with the reason. Steps that only follow from an earlier departure say so.
 */
const divergences: Record<StackName, Record<string, readonly Divergence[]>> = {
  wrtc: {
    // The binding only implements libwebrtc's legacy OnRenegotiationNeeded
    // callback and dispatches every event it posts: nothing re-checks, when the
    // event's task runs, that the operations chain is empty and that something
    // still needs negotiating (update the negotiation-needed flag, steps 2.2 and
    // 2.4). So an event posted as a change was made fires even when the change
    // was negotiated meanwhile, or while an operation is in flight.
    'negotiationneeded for a change negotiated before it fired': [
      { at: [7, 'settle'], real: { needed: 'A[stable] B[]' } },
    ],
    // ... here the one posted when the rollback reached stable, while setRemoteDescription was in flight.
    'glare, the polite side rolling back explicitly': [
      { at: [12, 'settle'], real: { needed: 'A[] B[stable,stable]' } },
    ],
    'setRemoteDescription(offer) in have-local-offer, then an explicit rollback': [
      { at: [9, 'settle'], real: { needed: 'A[] B[stable]' } },
    ],
    // No [[LastCreatedAnswer]] check (setLocalDescription step 4.3): libwebrtc
    // only checks the state. The same goes for offers, below.
    'setLocalDescription(answer) without a remote offer': [
      { at: [8, 'B setLocal offer as answer'], real: { result: 'InvalidStateError' } },
    ],
    // No [[LastCreatedOffer]] check (step 4.2): a changed offer is applied.
    'an offer other than the one created': [
      { at: [2, 'A setLocal munged offer'], real: { result: 'ok', A: 'have-local-offer' } },
      { at: 'events', real: { A: 'have-local-offer' } },
    ],
    // ... and here the ones posted as each rollback reached stable.
    'a remote offer rolled back, locally then remotely': [
      { at: [7, 'settle'], real: { needed: 'A[] B[stable,stable]' } },
    ],
    // addIceCandidate step 4.1 wants InvalidStateError with no remote
    // description: wrtc rejects a candidate with a plain Error ("Failed to set
    // ICE candidate.") and accepts end-of-candidates.
    'addIceCandidate before a remote description': [
      { at: [0, 'A addCandidate synthetic'], real: { result: 'Error' } },
      { at: [1, 'A addCandidate null'], real: { result: 'ok' } },
      { at: [2, 'A addCandidate undefined'], real: { result: 'ok' } },
    ],
    // Step 4.5: a usernameFragment of no applied remote ICE generation is an
    // OperationError; wrtc accepts it.
    'trickled candidates and their ICE generation': [
      { at: [13, 'B addCandidate foreign ufrag'], real: { result: 'ok' } },
    ],
    'calls after close()': [
      // An operation in flight at close() settles anyway (the spec leaves it pending for ever).
      { at: [1, 'B createOffer then close'], real: { result: 'ok' } },
      // Chaining after close must reject with InvalidStateError; this one never settles.
      { at: [6, 'A addCandidate null'], real: { result: 'pending' } },
      { at: [8, 'A audio'], real: { result: 'throw:Error' } },
      // close() fires signalingstatechange; the specification fires no event.
      { at: 'events', real: closedEvents },
    ],
  },
  werift: {
    // Rolling back does not reset the mid a transceiver got from the rolled-back
    // offer (set the session description, step 4.7.12.3): B's audio transceiver
    // keeps mid 0, which the data section then takes, so later offers leave it
    // out and it is never negotiated. After an explicit rollback not even
    // negotiationneeded fires again (step 4.7.14.3).
    'glare, the polite side rolling back explicitly': [
      { at: [12, 'settle'], real: { needed: 'A[] B[]' } },
      { at: [13, 'B createOffer'], real: { created: 'application:0 (kept)' } },
    ],
    'glare, the polite side rolling back implicitly': [
      { at: [12, 'B createOffer'], real: { created: 'application:0 (kept)' } },
    ],
    // No re-fire after rolling back a local offer whose change is still unnegotiated (step 4.7.14.3).
    // (setLocalDescription rolls back local offers only, "Cannot rollback local description in signaling
    // state": the model's `localRollbackOfRemoteOffer: false`; setRemoteDescription rolls back a remote one.)
    'negotiationneeded after a rollback': [{ at: [5, 'settle'], real: { needed: 'A[] B[]' } }],
    'setLocalDescription(answer) without a remote offer': [
      // No [[LastCreatedAnswer]] check (setLocalDescription step 4.3), as in libwebrtc.
      { at: [8, 'B setLocal offer as answer'], real: { result: 'InvalidStateError' } },
    ],
    // createAnswer outside have-remote-offer rejects with a plain Error ("createAnswer failed").
    'createAnswer in stable': [
      { at: [0, 'A createAnswer'], real: { result: 'Error' } },
      { at: [8, 'B createAnswer'], real: { result: 'Error' } },
      { at: [9, 'A createAnswer'], real: { result: 'Error' } },
    ],
    // werift buffers candidates until a remote description arrives instead of
    // rejecting them (addIceCandidate step 4.1), end-of-candidates included.
    'addIceCandidate before a remote description': [
      { at: [0, 'A addCandidate synthetic'], real: { result: 'ok' } },
      { at: [1, 'A addCandidate null'], real: { result: 'ok' } },
      { at: [2, 'A addCandidate undefined'], real: { result: 'ok' } },
    ],
    // The answerer of an ICE restart fires negotiationneeded with nothing to negotiate.
    'ICE restart': [{ at: [17, 'settle'], real: { needed: 'A[] B[stable]' } }],
    'calls after close()': [
      // An operation in flight at close() settles anyway (the spec leaves it pending for ever).
      { at: [1, 'B createOffer then close'], real: { result: 'ok' } },
      // After close() createOffer still makes an offer, and createDataChannel / addTransceiver do not throw.
      { at: [4, 'A createOffer'], real: { result: 'ok', created: 'application:0 (first)' } },
      { at: [7, 'A dataChannel'], real: { result: 'ok' } },
      { at: [8, 'A audio'], real: { result: 'ok' } },
      // close() fires signalingstatechange; the specification fires no event.
      { at: 'events', real: closedEvents },
    ],
  },
};

const flavours: Record<StackName, { real: Flavour; model: Flavour }> = {
  wrtc: {
    real: {
      make: () => new wrtc.RTCPeerConnection({ iceServers: [] }) as unknown as ScriptedPeer,
      settleMs: 150,
      pendingAfterMs: 1000,
    },
    model: {
      make: () => new SimulatedPeerConnection({ implicitRollback: false, parameterlessSetLocalDescription: false }),
      settleMs: 20,
      pendingAfterMs: 200,
    },
  },
  werift: {
    real: {
      make: () => new WeriftPeerConnection({ iceServers: [] }) as unknown as ScriptedPeer,
      settleMs: 150,
      pendingAfterMs: 1000,
    },
    // Rolls back a remote offer with setRemoteDescription only, as Firefox does.
    model: {
      make: () => new SimulatedPeerConnection({ localRollbackOfRemoteOffer: false }),
      settleMs: 20,
      pendingAfterMs: 200,
    },
  },
};

describe.each(Object.keys(flavours) as StackName[])('the model against %s', (stack) => {
  it.each(Object.entries(scenarios))('%s', async (name, steps) => {
    const model = await runScript(flavours[stack].model, steps);
    const real = await runScript(flavours[stack].real, steps);
    const recorded = divergences[stack][name] ?? [];
    for (const { at } of recorded) {
      if (at !== 'events') expect(steps[at[0]], `${stack} divergence for step ${at[0]}`).toBe(at[1]);
    }
    const expected = model.map((observation, index) => {
      const divergence = recorded.find(({ at }) =>
        index === steps.length ? at === 'events' : typeof at !== 'string' && at[0] === index,
      );
      if (!divergence) return observation;
      // A recorded divergence must still be one: the model has to disagree on every field it names.
      for (const [field, value] of Object.entries(divergence.real)) {
        expect(observation[field as keyof Observation], `${stack} ${name} #${index} ${field}`).not.toEqual(value);
      }
      return { ...observation, ...divergence.real };
    });
    expect(real).toEqual(expected);
  });
});
