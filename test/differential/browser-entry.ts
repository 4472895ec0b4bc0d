/**
 * Runs inside a browser: the differential scripts (scripts.ts) against the
 * browser's own RTCPeerConnection, driven by browsers.browser.test.ts
 * through `window.differential`.
 */
import { type Observation, runScript, type ScriptedPeer, type Step } from './scripts.js';

const differential = {
  run(steps: readonly Step[], settleMs: number, pendingAfterMs: number): Promise<Observation[]> {
    const make = () => new RTCPeerConnection({ iceServers: [] }) as unknown as ScriptedPeer;
    return runScript({ make, settleMs, pendingAfterMs }, steps);
  },
};

declare global {
  interface Window {
    differential: typeof differential;
  }
}

window.differential = differential;
