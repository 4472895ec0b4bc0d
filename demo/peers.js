// @ts-check
/**
 * The Peers card: one row per remote endpoint, with its description,
 * negotiation state and chat channel, and a line of connection statistics
 * (see stats.js).
 */
import { h, hueOf, shortId } from './dom.js';
import { describe } from './names.js';
import { stateText } from './negotiation.js';

/**
 * @typedef {object} PeerRow
 * @property {HTMLLIElement} element
 * @property {HTMLElement} avatar
 * @property {HTMLElement} description
 * @property {HTMLElement} state
 * @property {HTMLElement} channel
 * @property {HTMLElement} stats
 */

export class PeerList {
  /**
   * @param {HTMLElement} list the `peer-list` element
   * @param {HTMLElement} counter shows how many peers there are
   */
  constructor(list, counter) {
    this.list = list;
    this.counter = counter;
    /** @type {Map<string, PeerRow>} */
    this.rows = new Map();
    /** Negotiation states that arrived before the peer's row (the machine starts before the `peer` event). */
    /** @type {Map<string, string>} */
    this.states = new Map();
  }

  /**
   * @param {import('./lib.js').ManagedConnection} connection
   */
  add(connection) {
    const { id } = connection;
    if (this.rows.has(id)) return;
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' });
    const description = h('span', { class: 'description', dataset: { testid: 'peer-description' } });
    const state = h('code', { class: 'state', dataset: { testid: 'peer-state' }, title: 'negotiation state' });
    const channel = h('span', {
      class: 'channel',
      dataset: { testid: 'peer-channel', state: 'connecting' },
      text: 'connecting',
    });
    const stats = h('p', {
      class: 'stats',
      dataset: { testid: 'peer-stats', connection: connection.connectionState },
      title: 'connection state · local candidate type · round-trip time · bitrate in and out, from getStats()',
      text: connection.connectionState,
    });
    const element = h(
      'li',
      { class: 'peer', dataset: { testid: 'peer', peerId: id }, style: `--peer-hue: ${hueOf(id)}` },
      avatar,
      h('div', { class: 'who' }, description, h('code', { class: 'id', title: id, text: shortId(id) })),
      h('div', { class: 'facts' }, state, h('span', { class: 'channel-label', text: 'chat' }), channel),
      stats,
    );
    const row = { element, avatar, description, state, channel, stats };
    this.rows.set(id, row);
    this.describe(id, connection.description);
    // The inspector has usually reported the machine already; if not, ask the connection.
    this.setState(id, this.states.get(id) ?? stateText(connection.negotiationState));
    this.list.append(element);
    this.#count();
  }

  /**
   * @param {string} id
   * @param {import('./lib.js').JsonValue} description the server's description of the peer
   */
  describe(id, description) {
    const row = this.rows.get(id);
    if (!row) return;
    const text = describe(description);
    row.description.textContent = text;
    row.description.dataset.description = JSON.stringify(description ?? null);
    row.avatar.textContent = text === '—' ? '?' : (text.trim()[0] ?? '?').toUpperCase();
  }

  /**
   * @param {string} id
   * @param {string} state the negotiation state, as `stateText` writes it
   */
  setState(id, state) {
    this.states.set(id, state);
    const row = this.rows.get(id);
    if (!row || row.state.textContent === state) return;
    row.state.textContent = state;
    row.state.dataset.state = state;
  }

  /**
   * @param {string} id
   * @param {'connecting' | 'open' | 'closed'} state the chat channel's state
   */
  setChannel(id, state) {
    const row = this.rows.get(id);
    if (!row) return;
    row.channel.textContent = state;
    row.channel.dataset.state = state;
  }

  /**
   * @param {string} id
   * @param {import('./stats.js').StatsLine} line the connection's latest statistics
   */
  setStats(id, { state, candidateType, rttMs, inKbps, outKbps }) {
    const row = this.rows.get(id);
    if (!row) return;
    const { dataset } = row.stats;
    dataset.connection = state;
    setOrDelete(dataset, 'candidate', candidateType);
    setOrDelete(dataset, 'rtt', rttMs === null ? null : rttMs.toFixed(1));
    setOrDelete(dataset, 'kbpsIn', inKbps === null ? null : inKbps.toFixed(1));
    setOrDelete(dataset, 'kbpsOut', outKbps === null ? null : outKbps.toFixed(1));
    const parts = [state];
    if (candidateType) parts.push(candidateType);
    if (rttMs !== null) parts.push(`RTT ${rttMs < 10 ? rttMs.toFixed(1) : Math.round(rttMs)} ms`);
    if (inKbps !== null && outKbps !== null) parts.push(`↓ ${kbit(inKbps)} ↑ ${kbit(outKbps)} kbit/s`);
    row.stats.textContent = parts.join(' · ');
  }

  /** @param {string} id */
  remove(id) {
    this.rows.get(id)?.element.remove();
    this.rows.delete(id);
    this.states.delete(id);
    this.#count();
  }

  clear() {
    for (const id of [...this.rows.keys()]) this.remove(id);
    this.states.clear();
  }

  #count() {
    this.counter.textContent = String(this.rows.size);
    this.list.dataset.count = String(this.rows.size);
  }
}

/**
 * @param {DOMStringMap} dataset
 * @param {string} key
 * @param {string | null} value
 */
function setOrDelete(dataset, key, value) {
  if (value === null) delete dataset[key];
  else dataset[key] = value;
}

/** @param {number} kbps */
function kbit(kbps) {
  return kbps < 10 ? kbps.toFixed(1) : String(Math.round(kbps));
}
