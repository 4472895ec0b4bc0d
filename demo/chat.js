// @ts-check
/**
 * The Chat card: text over one `chat` data channel per pair of endpoints.
 *
 * Who opens the channel: the endpoint that was in the pool first. Toward a
 * newcomer it is the impolite side, the one that starts the pair's
 * negotiation anyway (the pool opens its own control channel when the
 * newcomer is announced). Opening `chat` in that same task puts it in that
 * first offer, so a pair still costs one offer and one answer; the newcomer
 * takes the channel from the pool's `datachannel` event. Each side knows its
 * role without asking: the peers present when it joined were first, every
 * peer announced after that came later.
 *
 * The alternatives are worse here: if the newcomer opened it too, both would
 * offer at once (perfect negotiation resolves the collision, at the cost of a
 * rollback and another round trip) and each pair would have two channels; a
 * pre-negotiated channel (same id on both sides) would have to pick an id
 * that never clashes with the pool's own channel.
 */
import { clock, h, hueOf } from './dom.js';

export const CHAT_LABEL = 'chat';
const MAX_TEXT = 2000;

/** @typedef {import('./lib.js').ManagedConnection} ManagedConnection */
/** @typedef {'connecting' | 'open' | 'closed'} ChannelState */

export class Chat {
  /**
   * @param {object} options
   * @param {HTMLOListElement} options.log the `chat-log` element
   * @param {(peerId: string) => string} options.nameOf
   * @param {(peerId: string, state: ChannelState) => void} options.onChannel
   */
  constructor({ log, nameOf, onChannel }) {
    this.log = log;
    this.nameOf = nameOf;
    this.onChannel = onChannel;
    /** The open channel to each peer. @type {Map<string, RTCDataChannel>} */
    this.channels = new Map();
    /** Peers that left: a late `open` from their channel must not count them again. */
    this.gone = new Set();
  }

  /** How many peers a message would reach now. */
  get reach() {
    return this.channels.size;
  }

  /**
   * A new connection: opens its chat channel if this endpoint was in the pool
   * first, or waits for the peer's (see {@link accept}).
   *
   * @param {ManagedConnection} connection
   * @param {boolean} opener whether this endpoint opens the channel
   */
  connect(connection, opener) {
    this.onChannel(connection.id, 'connecting');
    if (!opener) return;
    connection
      .dataChannel(CHAT_LABEL, { ordered: true })
      .then((channel) => this.#attach(connection.id, channel))
      // It closed before it opened: the peer left or the connection failed.
      .catch(() => this.#closed(connection.id, null));
  }

  /**
   * A channel the peer opened (the pool's `datachannel` event).
   *
   * @param {ManagedConnection} connection
   * @param {RTCDataChannel} channel
   */
  accept(connection, channel) {
    if (channel.label !== CHAT_LABEL) return;
    if (channel.readyState === 'open') this.#attach(connection.id, channel);
    else channel.addEventListener('open', () => this.#attach(connection.id, channel), { once: true });
  }

  /**
   * Sends `text` to every peer with an open channel and logs it as ours.
   *
   * @param {string} text
   * @returns {number} how many peers it was sent to
   */
  send(text) {
    const message = JSON.stringify({ text: text.slice(0, MAX_TEXT) });
    let sent = 0;
    for (const channel of this.channels.values()) {
      if (channel.readyState !== 'open') continue;
      channel.send(message);
      sent++;
    }
    this.#entry('me', 'You', text, sent);
    return sent;
  }

  /**
   * A line from the page itself (joined, left, ...).
   *
   * @param {string} text
   * @param {string} [peerId] the peer it is about: its name goes first, and follows {@link rename}
   */
  notice(text, peerId) {
    this.#append(
      h(
        'li',
        { class: 'system', dataset: { testid: 'chat-notice' } },
        peerId ? h('span', { class: 'who', dataset: { nameOf: peerId }, text: this.nameOf(peerId) }) : null,
        h('span', { text }),
        h('time', { text: clock() }),
      ),
    );
  }

  /**
   * A peer's description arrived or changed: its lines show the new name.
   * (The server may describe a newcomer just after announcing it.)
   *
   * @param {string} peerId
   */
  rename(peerId) {
    for (const element of this.log.querySelectorAll(`[data-name-of="${CSS.escape(peerId)}"]`)) {
      element.textContent = this.nameOf(peerId);
    }
  }

  /** @param {string} peerId */
  remove(peerId) {
    this.gone.add(peerId);
    this.channels.get(peerId)?.close();
    this.channels.delete(peerId);
  }

  /** A new pool: the old channels closed with their connections. */
  reset() {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.gone.clear();
  }

  /**
   * @param {string} peerId
   * @param {RTCDataChannel} channel an open channel
   */
  #attach(peerId, channel) {
    if (this.gone.has(peerId)) return channel.close();
    // A second channel from the same peer (a client following another rule) is still read, but not sent on.
    if (!this.channels.has(peerId)) this.channels.set(peerId, channel);
    channel.addEventListener('message', ({ data }) => this.#receive(peerId, data));
    channel.addEventListener('close', () => this.#closed(peerId, channel), { once: true });
    this.onChannel(peerId, 'open');
  }

  /**
   * @param {string} peerId
   * @param {RTCDataChannel | null} channel
   */
  #closed(peerId, channel) {
    if (channel && this.channels.get(peerId) !== channel) return;
    this.channels.delete(peerId);
    if (!this.gone.has(peerId)) this.onChannel(peerId, 'closed');
  }

  /**
   * @param {string} peerId
   * @param {unknown} data
   */
  #receive(peerId, data) {
    if (typeof data !== 'string') return;
    let text;
    try {
      text = JSON.parse(data).text;
    } catch {
      return;
    }
    if (typeof text === 'string') this.#entry(peerId, this.nameOf(peerId), text.slice(0, MAX_TEXT));
  }

  /**
   * @param {string} from a peer id, or 'me'
   * @param {string} name
   * @param {string} text
   * @param {number} [sent] for our own messages: how many peers it went to
   */
  #entry(from, name, text, sent) {
    const dataset = /** @type {Record<string, string>} */ ({ testid: 'chat-message', from });
    if (sent !== undefined) dataset.delivered = String(sent);
    this.#append(
      h(
        'li',
        {
          class: from === 'me' ? 'message mine' : 'message',
          dataset,
          style: from === 'me' ? null : `--peer-hue: ${hueOf(from)}`,
        },
        h('span', {
          class: 'who',
          text: name,
          title: from === 'me' ? 'you' : from,
          dataset: from === 'me' ? {} : { nameOf: from },
        }),
        h('span', { class: 'text', text }),
        h('time', {
          text: clock().slice(0, 8),
          title: sent === undefined ? '' : sent === 1 ? 'sent to 1 peer' : `sent to ${sent} peers`,
        }),
      ),
    );
  }

  /** @param {HTMLLIElement} entry */
  #append(entry) {
    const { log } = this;
    // Follow the conversation unless the reader scrolled up to read older lines.
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(entry);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }
}
