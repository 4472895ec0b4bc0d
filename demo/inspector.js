// @ts-check
/**
 * The "Stately inspector" switch: forwards the pool's inspection events to
 * Stately's inspector (https://stately.ai/inspect, opened in a new window).
 *
 * `@statelyai/inspect` is loaded (from /inspect.js) only when the switch is
 * first flipped, so the page stays small and works offline. The page always
 * passes its own observer to the pool (the Negotiation card needs it); this
 * bridge sits behind it. The inspector learns about an actor from its
 * `@xstate.actor` event, so the bridge keeps those of the live actors and
 * replays them when switched on in the middle of a session.
 */

/**
 * @typedef {import('./lib.js').InspectionEvent} InspectionEvent
 * @typedef {{ inspect: { next: (event: InspectionEvent) => void }, stop: () => void, adapter?: { targetWindow?: Window | null } }} Inspector
 */

export class InspectorBridge {
  /**
   * @param {HTMLInputElement} toggle the `inspector-switch` checkbox
   * @param {import('./notices.js').Notices} notices
   */
  constructor(toggle, notices) {
    this.toggle = toggle;
    this.notices = notices;
    /** @type {Inspector | null} */
    this.inspector = null;
    /** `@xstate.actor` events of the current pool's actors, by session id. @type {Map<string, InspectionEvent>} */
    this.actors = new Map();
    toggle.addEventListener('change', () => (toggle.checked ? this.#on() : this.#off()));
  }

  /** @param {InspectionEvent} event every inspection event of the current pool */
  observe(event) {
    if (event.type === '@xstate.actor') this.actors.set(event.actorRef.sessionId, event);
    // Each negotiation step runs a short-lived promise actor: forget actors once they are done.
    else if (event.type === '@xstate.snapshot' && event.snapshot.status !== 'active') {
      this.actors.delete(event.actorRef.sessionId);
    }
    this.inspector?.inspect.next(event);
  }

  /** A new pool: the old one's actors are gone. */
  reset() {
    this.actors.clear();
  }

  async #on() {
    const { toggle } = this;
    toggle.disabled = true;
    try {
      // @ts-expect-error -- '/inspect.js' is served by the demo server (an ESM build of @statelyai/inspect).
      const loaded = await import('/inspect.js');
      const { createBrowserInspector } = /** @type {{ createBrowserInspector: () => Inspector }} */ (loaded);
      if (!toggle.checked) return; // switched off while loading
      const inspector = createBrowserInspector();
      // `window.open` fails silently when pop-ups are blocked; the adapter then has no window to post to.
      if (inspector.adapter && inspector.adapter.targetWindow === null) {
        this.notices.info('The inspector window was blocked: allow pop-ups for this page, then switch it on again.');
      }
      this.inspector = inspector;
      for (const event of this.actors.values()) {
        if (event.actorRef.getSnapshot().status === 'active') inspector.inspect.next(event);
      }
    } catch (error) {
      toggle.checked = false;
      this.notices.error({ code: 'inspector', message: `could not load the inspector: ${String(error)}` });
    } finally {
      toggle.disabled = false;
    }
  }

  #off() {
    this.inspector?.stop();
    this.inspector = null;
  }
}
