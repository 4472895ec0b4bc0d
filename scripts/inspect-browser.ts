/**
 * Entry of dist/demo/inspect.js: Stately's browser inspector for the demo
 * page's "connect Stately's inspector" switch, bundled so the page needs no CDN.
 * Not part of the library's bundle (or its size budget).
 */
export { createBrowserInspector } from '@statelyai/inspect';
