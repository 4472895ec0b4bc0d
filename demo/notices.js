// @ts-check
/** The errors/notices area under the join bar. */
import { clock, h } from './dom.js';

const MAX_ENTRIES = 20;

/**
 * @typedef {object} ErrorEntry
 * @property {string} message
 * @property {string | undefined} [code] who refused it: a PoolError or SignallingError code, or the page's own ('camera', ...)
 * @property {string | undefined} [reason] the server's `reason`, when the server sent the error
 */

export class Notices {
  /** @param {HTMLElement} list the `errors` container */
  constructor(list) {
    this.list = list;
  }

  /** @param {ErrorEntry} entry */
  error({ message, code, reason }) {
    const dataset = /** @type {Record<string, string>} */ ({});
    if (code) dataset.code = code;
    if (reason) dataset.reason = reason;
    const label = reason ?? code ?? 'error';
    this.#add(
      h(
        'li',
        { class: 'notice error', dataset: { testid: 'error', ...dataset }, role: 'alert' },
        h('span', { class: 'tag', text: label }),
        h('span', { class: 'notice-text', text: message }),
        h('time', { text: clock() }),
        this.#dismiss(),
      ),
    );
  }

  /** @param {string} message something worth knowing that is not an error */
  info(message) {
    this.#add(
      h(
        'li',
        { class: 'notice info', dataset: { testid: 'notice' } },
        h('span', { class: 'tag', text: 'note' }),
        h('span', { class: 'notice-text', text: message }),
        h('time', { text: clock() }),
        this.#dismiss(),
      ),
    );
  }

  /** @param {HTMLLIElement} entry */
  #add(entry) {
    this.list.prepend(entry);
    while (this.list.children.length > MAX_ENTRIES) this.list.lastElementChild?.remove();
  }

  #dismiss() {
    return h('button', {
      type: 'button',
      class: 'dismiss',
      'aria-label': 'Dismiss',
      text: '×',
      onclick: (event) => /** @type {HTMLElement} */ (event.currentTarget).closest('li')?.remove(),
    });
  }
}
