// @ts-check
/**
 * The client library as the demo server serves it: the self-contained browser
 * build of rtcpool (dist/browser/rtcpool.js) at /rtcpool.js.
 *
 * TypeScript cannot resolve a root-relative URL, so the import is ignored by
 * the checker and typed by hand from the library's source just below: with
 * `tsc --allowJs --checkJs` the demo is checked against the real API.
 */
// @ts-expect-error -- '/rtcpool.js' is resolved by the browser, not by TypeScript (see above).
import * as served from '/rtcpool.js';

/** @type {typeof import('../src/index.js')} */
const rtcpool = served;

export const { Pool, Signalling, media, negotiationMachine } = rtcpool;

/** @typedef {import('../src/index.js').Pool} PoolInstance */
/** @typedef {import('../src/index.js').Signalling} SignallingInstance */
/** @typedef {import('../src/index.js').ManagedConnection} ManagedConnection */
/** @typedef {import('../src/index.js').ManagedStream} ManagedStream */
/** @typedef {import('../src/index.js').PoolError} PoolError */
/** @typedef {import('../src/index.js').SignallingError} SignallingError */
/** @typedef {import('../src/index.js').JsonValue} JsonValue */
/** @typedef {import('xstate').InspectionEvent} InspectionEvent */
