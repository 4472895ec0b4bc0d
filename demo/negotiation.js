// @ts-check
/**
 * The Negotiation card: one live panel per peer, fed by the pool's XState
 * inspection observer (`new Pool(config, signalling, { inspect })`).
 *
 * Every peer's perfect-negotiation machine is a child actor of the pool actor
 * whose id is the peer id, so an `@xstate.snapshot` inspection event from an
 * actor whose context says `peerId === actorRef.id` is that peer's machine.
 * The pool actor itself is the root of the actor system.
 */

import { drawChart, eventLabel, modelOf } from './chart.js';
import { clock, h, hueOf, shortId } from './dom.js';
import { negotiationMachine } from './lib.js';

const LOG_LENGTH = 6;

/**
 * A state value as the page shows it (and as `data-testid="peer-state"` reads):
 * the path of the active state, dot-separated. `{ stable: 'idle' }` is
 * `stable.idle`, `'makingOffer'` is `makingOffer`.
 *
 * @param {unknown} value an XState state value
 * @returns {string}
 */
export function stateText(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([key, child]) => {
        const rest = stateText(child);
        return rest ? `${key}.${rest}` : key;
      })
      .join(',');
  }
  return '';
}

/**
 * @typedef {object} MachinePanel
 * @property {string} state current state text ('' before the first snapshot)
 * @property {number} transitions how many state changes so far
 * @property {HTMLElement} element
 * @property {ReturnType<typeof drawChart>} chart
 * @property {HTMLElement} name
 * @property {HTMLElement} role
 * @property {HTMLElement} connection
 * @property {HTMLElement} stateLabel
 * @property {HTMLElement} count
 * @property {HTMLOListElement} log
 */

/**
 * @typedef {object} NegotiationSnapshot what the page reads of a negotiation actor's snapshot
 * @property {unknown} value
 * @property {{ peerId?: unknown, polite?: boolean, connectionState?: string, iceConnectionState?: string } | undefined} context
 */

export class NegotiationView {
  /** The chart's model, read once from the machine definition. */
  static model = modelOf(negotiationMachine);

  /**
   * @param {object} options
   * @param {HTMLElement} options.container where the panels go
   * @param {HTMLElement} options.poolState shows the pool machine's own state
   * @param {(peerId: string) => string} options.nameOf
   * @param {(peerId: string, state: string, context: NegotiationSnapshot['context']) => void} options.onState
   */
  constructor({ container, poolState, nameOf, onState }) {
    this.container = container;
    this.poolState = poolState;
    this.nameOf = nameOf;
    this.onState = onState;
    /** @type {Map<string, MachinePanel>} */
    this.panels = new Map();
    /** Peers that left: their actors may still report a last snapshot, which must not bring a panel back. */
    this.gone = new Set();
  }

  /** @param {import('./lib.js').InspectionEvent} event */
  inspect(event) {
    if (event.type !== '@xstate.snapshot') return;
    const { actorRef } = event;
    const snapshot = /** @type {NegotiationSnapshot} */ (/** @type {unknown} */ (event.snapshot));
    if (event.rootId === actorRef.sessionId) {
      this.poolState.textContent = stateText(snapshot.value);
      return;
    }
    // Anything else in the system (the promise actors a negotiation invokes) is not a peer's machine.
    // Inspection types an actor loosely; a child actor's `id` is the id it was spawned with.
    const peerId = /** @type {{ id?: string }} */ (actorRef).id ?? '';
    if (snapshot.context?.peerId !== peerId || this.gone.has(peerId)) return;
    const panel = this.panels.get(peerId) ?? this.#create(peerId);
    const state = stateText(snapshot.value);
    if (state !== panel.state) this.#moved(panel, state, eventLabel(event.event.type));
    this.#showContext(panel, snapshot.context);
    this.onState(peerId, state, snapshot.context);
  }

  /** The peer's name changed (its description arrived). @param {string} peerId */
  rename(peerId) {
    const panel = this.panels.get(peerId);
    if (panel) panel.name.textContent = this.nameOf(peerId);
  }

  /** @param {string} peerId */
  remove(peerId) {
    this.gone.add(peerId);
    this.panels.get(peerId)?.element.remove();
    this.panels.delete(peerId);
  }

  /** The pool ended or a new one starts: no panels (the pool's last state stays until the next pool reports). */
  reset() {
    for (const panel of this.panels.values()) panel.element.remove();
    this.panels.clear();
    this.gone.clear();
  }

  /**
   * @param {MachinePanel} panel
   * @param {string} state
   * @param {string} cause
   */
  #moved(panel, state, cause) {
    const previous = panel.state || null;
    panel.chart.show(state, previous);
    panel.state = state;
    panel.stateLabel.textContent = state;
    panel.count.textContent = `${++panel.transitions} transitions`;
    panel.log.prepend(
      h(
        'li',
        {},
        h('time', { text: clock() }),
        previous ? h('code', { text: previous }) : h('span', { class: 'muted', text: 'spawned' }),
        h('span', { class: 'arrow', text: '→' }),
        h('code', { class: 'to', text: state }),
        h('span', { class: 'cause', text: cause }),
      ),
    );
    while (panel.log.children.length > LOG_LENGTH) panel.log.lastElementChild?.remove();
  }

  /**
   * @param {MachinePanel} panel
   * @param {NegotiationSnapshot['context']} context
   */
  #showContext(panel, context) {
    if (!context) return;
    // The newcomer is polite toward everyone already present; they are impolite toward it and offer first.
    panel.role.textContent = context.polite ? 'polite' : 'impolite';
    panel.role.title = context.polite
      ? 'joined after this peer: yields when both offer at once'
      : 'was here first: offers first, wins collisions';
    const connection = context.connectionState ?? 'new';
    panel.connection.textContent = connection;
    panel.connection.dataset.state = connection;
    panel.connection.title = `connection ${connection}, ICE ${context.iceConnectionState ?? 'new'}`;
  }

  /** @param {string} peerId */
  #create(peerId) {
    const chart = drawChart(NegotiationView.model);
    const name = h('strong', { class: 'name', text: this.nameOf(peerId) });
    const role = h('span', { class: 'chip role' });
    const connection = h('span', { class: 'chip connection' });
    const stateLabel = h('code', { class: 'state' });
    const count = h('span', { class: 'log-count muted' });
    const log = h('ol', { class: 'transitions', 'aria-label': 'last transitions, newest first' });
    const element = h(
      'article',
      { class: 'machine', dataset: { testid: 'machine', peerId }, style: `--peer-hue: ${hueOf(peerId)}` },
      h(
        'header',
        {},
        h('span', { class: 'dot' }),
        name,
        h('code', { class: 'id', title: peerId, text: shortId(peerId) }),
        role,
        connection,
        h('span', { class: 'spacer' }),
        stateLabel,
      ),
      h('div', { class: 'machine-body' }, chart.svg, h('div', { class: 'log' }, count, log)),
    );
    /** @type {MachinePanel} */
    const panel = { state: '', transitions: 0, element, chart, name, role, connection, stateLabel, count, log };
    this.panels.set(peerId, panel);
    this.container.append(element);
    return panel;
  }
}
