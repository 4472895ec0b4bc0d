// @ts-check
/** Display names: a random friendly one for newcomers, and how a peer's description is shown. */

const ADJECTIVES =
  'Amber Brave Calm Clever Cosmic Gentle Happy Lucky Mellow Nimble Quiet Rapid Sunny Swift Witty Zesty'.split(' ');
const ANIMALS =
  'Badger Falcon Gecko Heron Koala Lynx Marmot Narwhal Otter Panda Puffin Quokka Raven Tapir Walrus Yak'.split(' ');

/** @param {readonly string[]} list */
const pick = (list) => list[Math.floor(Math.random() * list.length)] ?? '';

/** A random friendly name such as "Nimble Otter". */
export function randomName() {
  return `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
}

/**
 * What to call an endpoint, from its trusted description: the demo server
 * describes each endpoint as `{ name }` (from `?name=` on its WebSocket URL).
 * Names come from the server, never from what a peer says about itself, so a
 * peer cannot pass itself off as another.
 *
 * @param {import('./lib.js').JsonValue} description
 * @returns {string | null} the name, or null when the description has none
 */
export function nameOf(description) {
  if (description && typeof description === 'object' && !Array.isArray(description)) {
    const { name } = description;
    if (typeof name === 'string' && name.trim() !== '') return name.trim();
  }
  return null;
}

/**
 * A description as text for the peer list: its name, or its JSON when it has
 * none, or a dash when the server set none.
 *
 * @param {import('./lib.js').JsonValue} description
 */
export function describe(description) {
  if (description === null || description === undefined) return '—';
  return nameOf(description) ?? JSON.stringify(description);
}
