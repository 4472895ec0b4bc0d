// @ts-check
/** Tiny DOM helpers: the demo has no framework, only these. */

/**
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener | Record<string, string>>} Props
 * `class`, `text`, `dataset` (an object) and `on<event>` handlers are special;
 * anything else is an attribute (false/null/undefined leave it out).
 */

/**
 * Creates an HTML element.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  apply(element, props);
  for (const child of children) if (child) element.append(child);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an SVG element (attributes only, plus `class`, `text` and `dataset`).
 *
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Node | null | undefined | false)} children
 * @returns {SVGElementTagNameMap[K]}
 */
export function s(tag, props = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, props);
  for (const child of children) if (child) element.append(child);
  return element;
}

/**
 * @param {HTMLElement | SVGElement} element
 * @param {Props} props
 */
function apply(element, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') element.textContent = String(value);
    else if (key === 'class') element.setAttribute('class', String(value));
    else if (key === 'dataset' && typeof value === 'object') Object.assign(element.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
}

/**
 * The element with `data-testid="id"`: the page's own hooks double as its
 * element ids, so tests and code agree on one name.
 *
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {ParentNode} [root]
 * @returns {T}
 */
export function byTestId(id, root = document) {
  const element = root.querySelector(`[data-testid="${id}"]`);
  if (!element) throw new Error(`missing element data-testid="${id}"`);
  return /** @type {T} */ (element);
}

/** Current time as HH:MM:SS.mmm, for logs. */
export function clock() {
  const now = new Date();
  const pad = (/** @type {number} */ n, size = 2) => String(n).padStart(size, '0');
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
}

/** The first 8 characters of an endpoint id (they are UUIDs): enough to tell peers apart on screen. */
export function shortId(/** @type {string} */ id) {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

/** A stable hue (0-359) from a string, so each peer keeps its colour everywhere on the page. */
export function hueOf(/** @type {string} */ text) {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}
