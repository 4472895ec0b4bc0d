/**
 * The differential scripts (scripts.ts) in Chromium and Firefox: each
 * browser's RTCPeerConnection against the simulated connection in its
 * specification flavour (implicit rollback, parameterless
 * setLocalDescription), step by step, as simulated-vs-real.test.ts does for
 * the Node stacks. Where a browser departs from the specification the
 * departure is written down below, checked to still be one, and patched into
 * the expected trace; nothing else may differ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DriverBrowser, type DriverPage, type Engine, launchChromiumDriver } from '../support/browser-driver.js';
import { bundleForBrowser, modulePage, type StaticServer, startStaticServer } from '../support/browser-static.js';
import { launchFirefoxDriver } from '../support/firefox.js';
import { SimulatedPeerConnection, type SimulatedPeerConnectionOptions } from '../support/simulated-peer-connection.js';
import { type Observation, runScript, type Step, scenarios } from './scripts.js';

interface Divergence {
  readonly at: readonly [number, Step] | 'events';
  readonly real: Partial<Omit<Observation, 'step'>>;
}

/**
 * The model's flavour per browser: the specification's, except that Firefox
 * rolls back a remote offer with setRemoteDescription only (its
 * setLocalDescription refuses to in have-remote-offer, as werift's does).
 */
const MODEL: Record<Engine, SimulatedPeerConnectionOptions> = {
  chromium: {},
  firefox: { localRollbackOfRemoteOffer: false },
};

/** Neither browser checks that the offer applied is the one it created (setLocalDescription step 4.2). */
const mungedOfferApplied: readonly Divergence[] = [
  { at: [2, 'A setLocal munged offer'], real: { result: 'ok', A: 'have-local-offer' } },
  { at: 'events', real: { A: 'have-local-offer' } },
];

/**
 * Every way the browsers depart from the specification in these scripts,
 * with the reason. Chromium is libwebrtc, so mostly what wrtc does
 * (simulated-vs-real.test.ts); Firefox departs far less.
 */
const divergences: Record<Engine, Record<string, readonly Divergence[]>> = {
  chromium: {
    // negotiationneeded is fired while an operation is in flight or the
    // connection is not stable (updating the negotiation-needed flag, steps
    // 2.2 and 2.4, would wait): after a rollback, in the state of the
    // operation that followed it. The machine remembers such an event and
    // offers once stable, if the offer changes anything (sameMedia).
    'glare, the polite side rolling back explicitly': [
      { at: [12, 'settle'], real: { needed: 'A[] B[have-local-offer,stable]' } },
    ],
    'setRemoteDescription(offer) in have-local-offer, then an explicit rollback': [
      { at: [9, 'settle'], real: { needed: 'A[] B[have-remote-offer]' } },
    ],
    'a remote offer rolled back, locally then remotely': [
      { at: [7, 'settle'], real: { needed: 'A[] B[have-remote-offer]' } },
    ],
    'negotiationneeded after a rollback': [
      { at: [5, 'settle'], real: { needed: 'A[] B[have-local-offer]' } },
      { at: [11, 'settle'], real: { needed: 'A[] B[have-remote-offer]' } },
    ],
    // ... and for a change negotiated before the event's task ran.
    'negotiationneeded for a change negotiated before it fired': [
      { at: [7, 'settle'], real: { needed: 'A[stable] B[]' } },
    ],
    // No [[LastCreatedAnswer]] check (step 4.3): only the state is checked.
    'setLocalDescription(answer) without a remote offer': [
      { at: [8, 'B setLocal offer as answer'], real: { result: 'InvalidStateError' } },
    ],
    'an offer other than the one created': mungedOfferApplied,
    // End-of-candidates before any remote description is accepted (step 4.1 wants InvalidStateError).
    'addIceCandidate before a remote description': [
      { at: [1, 'A addCandidate null'], real: { result: 'ok' } },
      { at: [2, 'A addCandidate undefined'], real: { result: 'ok' } },
    ],
    // A usernameFragment of no applied remote ICE generation is accepted (step 4.5 wants OperationError).
    'trickled candidates and their ICE generation': [
      { at: [13, 'B addCandidate foreign ufrag'], real: { result: 'ok' } },
    ],
  },
  firefox: {
    // The one departure that matters to negotiation is in the model's flavour
    // above (rolling back a remote offer); the munged offer is the other.
    'an offer other than the one created': mungedOfferApplied,
  },
};

let server: StaticServer;
beforeAll(async () => {
  server = await startStaticServer(
    new Map([
      ['/', modulePage('/differential.js', 'rtcpool differential')],
      [
        '/differential.js',
        { type: 'text/javascript', body: await bundleForBrowser('test/differential/browser-entry.ts') },
      ],
    ]),
  );
});
afterAll(async () => {
  await server?.close();
});

describe.for<Engine>(['chromium', 'firefox'])('the model against %s', (engine) => {
  let browser: DriverBrowser;
  let page: DriverPage;
  beforeAll(async () => {
    browser = engine === 'chromium' ? await launchChromiumDriver() : await launchFirefoxDriver();
    page = await browser.newPage();
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => window.differential !== undefined, undefined);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each(Object.entries(scenarios))('%s', async (name, steps) => {
    const model = await runScript(
      { make: () => new SimulatedPeerConnection(MODEL[engine]), settleMs: 20, pendingAfterMs: 200 },
      steps,
    );
    const real = await page.evaluate(({ steps }) => window.differential.run(steps, 100, 1000), { steps: [...steps] });
    const recorded = divergences[engine][name] ?? [];
    for (const { at } of recorded) {
      if (at !== 'events') expect(steps[at[0]], `${engine} divergence for step ${at[0]}`).toBe(at[1]);
    }
    const expected = model.map((observation, index) => {
      const divergence = recorded.find(({ at }) =>
        index === steps.length ? at === 'events' : typeof at !== 'string' && at[0] === index,
      );
      if (!divergence) return observation;
      for (const [field, value] of Object.entries(divergence.real)) {
        expect(observation[field as keyof Observation], `${engine} ${name} #${index} ${field}`).not.toEqual(value);
      }
      return { ...observation, ...divergence.real };
    });
    expect(real).toEqual(expected);
  });
});
