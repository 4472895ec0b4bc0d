// @ts-check
/**
 * A small state chart of the negotiation machine, drawn in SVG.
 *
 * The states and transitions are read from the machine definition itself
 * (`negotiationMachine.root`), so the chart cannot drift from the machine the
 * pool runs; only the positions are laid out by hand below. A state missing
 * from the layout still appears (in a spare cell of an extra row).
 */
import { s } from './dom.js';

/** Grid cell of each state path (column, row); see docs/negotiation.md for the same machine as Mermaid. */
const LAYOUT = /** @type {Record<string, [number, number]>} */ ({
  makingAnswer: [0, 0],
  acceptingOffer: [1, 0],
  rollingBack: [2, 0],
  'stable.idle': [0, 1],
  'stable.aboutToOffer': [1, 1],
  makingOffer: [2, 1],
  haveLocalOffer: [3, 1],
  recovering: [0, 2],
  failed: [1, 2],
  acceptingAnswer: [2, 2],
  closed: [3, 2],
});

/**
 * Transitions into these are drawn only when taken: every step can fail into
 * `recovering`, and drawing all those arrows would hide the normal flow.
 */
const DRAWN_WHEN_TAKEN = new Set(['recovering', 'failed']);

const COLUMNS = 4;
const CELL_W = 130;
const NODE_W = 108;
const NODE_H = 26;
const ROW_H = 64;
const PAD = 10;
const GROUP_PAD = 6;
const GROUP_LABEL = 13;

/**
 * @typedef {{ x: number, y: number, w: number, h: number }} Box
 * @typedef {{ path: string, label: string, description: string, final: boolean, box: Box }} Leaf
 * @typedef {{ path: string, label: string, box: Box }} Group
 * @typedef {{ from: string, to: string, events: string[] }} Edge
 * @typedef {{ leaves: Leaf[], groups: Group[], edges: Edge[], width: number, height: number }} Model
 */

/**
 * The minimal shape of an XState v5 state node this chart reads.
 *
 * @typedef {object} StateNodeLike
 * @property {string} key
 * @property {string[]} path
 * @property {string} type
 * @property {string} [description]
 * @property {Record<string, StateNodeLike>} states
 * @property {Map<string, Array<{ eventType: string, target?: StateNodeLike[] }>>} [transitions]
 * @property {Array<{ eventType: string, target?: StateNodeLike[] }>} [always]
 */

/**
 * Reads states, groups and transitions from a machine's root state node.
 *
 * @param {{ root: unknown }} machine
 * @returns {Model}
 */
export function modelOf(machine) {
  const root = /** @type {StateNodeLike} */ (machine.root);
  /** @type {StateNodeLike[]} */
  const leafNodes = [];
  /** @type {StateNodeLike[]} */
  const groupNodes = [];
  const walk = (/** @type {StateNodeLike} */ node) => {
    for (const child of Object.values(node.states)) {
      if (Object.keys(child.states).length > 0) {
        groupNodes.push(child);
        walk(child);
      } else leafNodes.push(child);
    }
  };
  walk(root);

  const cells = placeLeaves(leafNodes.map((node) => node.path.join('.')));
  const rows = Math.max(...[...cells.values()].map(([, row]) => row)) + 1;
  const leaves = leafNodes.map((node) => {
    const path = node.path.join('.');
    const [column, row] = cells.get(path) ?? [0, 0];
    return {
      path,
      label: node.key,
      description: node.description ?? '',
      final: node.type === 'final',
      box: {
        x: PAD + column * CELL_W + (CELL_W - NODE_W) / 2,
        y: PAD + GROUP_LABEL + row * ROW_H,
        w: NODE_W,
        h: NODE_H,
      },
    };
  });
  const groups = groupNodes.map((node) => {
    const path = node.path.join('.');
    const inside = leaves.filter((leaf) => leaf.path.startsWith(`${path}.`)).map((leaf) => leaf.box);
    const x = Math.min(...inside.map((box) => box.x)) - GROUP_PAD;
    const y = Math.min(...inside.map((box) => box.y)) - GROUP_PAD - GROUP_LABEL;
    const right = Math.max(...inside.map((box) => box.x + box.w)) + GROUP_PAD;
    const bottom = Math.max(...inside.map((box) => box.y + box.h)) + GROUP_PAD;
    return { path, label: node.key, box: { x, y, w: right - x, h: bottom - y } };
  });

  /** @type {Map<string, Edge>} */
  const edges = new Map();
  for (const node of [...groupNodes, ...leafNodes]) {
    const from = node.path.join('.');
    const transitions = [...(node.transitions?.values() ?? [])].flat().concat(node.always ?? []);
    for (const transition of transitions) {
      for (const target of transition.target ?? []) {
        const to = target.path.join('.');
        // Root-level transitions (app.close from anywhere) and self-loops are not drawn.
        if (to === from || to === '' || from === '') continue;
        const key = `${from}->${to}`;
        const edge = edges.get(key) ?? { from, to, events: [] };
        const label = eventLabel(transition.eventType);
        if (!edge.events.includes(label)) edge.events.push(label);
        edges.set(key, edge);
      }
    }
  }
  return {
    leaves,
    groups,
    edges: [...edges.values()],
    width: PAD * 2 + COLUMNS * CELL_W,
    height: PAD * 2 + GROUP_LABEL + (rows - 1) * ROW_H + NODE_H + GROUP_PAD,
  };
}

/**
 * Cells for every leaf: the hand layout first, then free cells row by row.
 *
 * @param {string[]} paths
 */
function placeLeaves(paths) {
  /** @type {Map<string, [number, number]>} */
  const cells = new Map();
  const taken = new Set();
  for (const path of paths) {
    const cell = LAYOUT[path];
    if (cell) {
      cells.set(path, cell);
      taken.add(cell.join());
    }
  }
  let next = 0;
  for (const path of paths) {
    if (cells.has(path)) continue;
    while (taken.has(`${next % COLUMNS},${Math.floor(next / COLUMNS)}`)) next++;
    /** @type {[number, number]} */
    const cell = [next % COLUMNS, Math.floor(next / COLUMNS)];
    cells.set(path, cell);
    taken.add(cell.join());
  }
  return cells;
}

/**
 * A short name for what caused a transition.
 *
 * @param {string} type an event type, e.g. `xstate.done.actor.0.negotiation.makingOffer`
 */
export function eventLabel(type) {
  if (type.startsWith('xstate.done.actor.')) return 'done';
  if (type.startsWith('xstate.error.actor.')) return 'error';
  if (type.startsWith('xstate.after.')) return 'after delay';
  if (type === '') return 'always';
  if (type === 'xstate.init') return 'start';
  return type;
}

let charts = 0;

/**
 * Draws one chart; `show(current, previous)` highlights the current state and
 * the transition just taken.
 *
 * @param {Model} model
 */
export function drawChart(model) {
  const id = `chart-${++charts}`;
  const boxes = new Map([...model.leaves, ...model.groups].map((item) => [item.path, item.box]));
  const arrow = (/** @type {string} */ name) =>
    s(
      'marker',
      {
        id: `${id}-${name}`,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
      },
      s('path', { d: 'M0,1 L9,5 L0,9 z', class: `arrowhead ${name}` }),
    );
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${model.width} ${model.height}`,
      class: 'chart',
      role: 'img',
      'aria-label': 'negotiation state chart',
    },
    s('defs', {}, arrow('faint'), arrow('hot')),
  );

  for (const group of model.groups) {
    svg.append(
      s(
        'g',
        { class: 'group', dataset: { path: group.path } },
        s('rect', { ...rect(group.box), rx: 12 }),
        s('text', { x: group.box.x + 10, y: group.box.y + 12, text: group.label }),
      ),
    );
  }
  for (const edge of model.edges) {
    if (DRAWN_WHEN_TAKEN.has(edge.to)) continue;
    const from = boxes.get(edge.from);
    const to = boxes.get(edge.to);
    if (!from || !to || contains(from, to) || contains(to, from)) continue;
    svg.append(
      s(
        'path',
        { d: curve(from, to), class: 'edge', 'marker-end': `url(#${id}-faint)` },
        s('title', { text: `${edge.from} → ${edge.to}: ${edge.events.join(', ')}` }),
      ),
    );
  }
  /** @type {Map<string, SVGGElement>} */
  const nodes = new Map();
  for (const leaf of model.leaves) {
    const node = s(
      'g',
      { class: leaf.final ? 'node final' : 'node', dataset: { path: leaf.path } },
      s('rect', { ...rect(leaf.box), rx: leaf.box.h / 2 }),
      s('text', { x: leaf.box.x + leaf.box.w / 2, y: leaf.box.y + leaf.box.h / 2 + 4, text: leaf.label }),
      s('title', { text: leaf.description ? `${leaf.path}: ${leaf.description}` : leaf.path }),
    );
    nodes.set(leaf.path, node);
    svg.append(node);
  }
  const taken = s('path', { class: 'taken', 'marker-end': `url(#${id}-hot)` });
  svg.append(taken);

  /**
   * @param {string} current state path, e.g. `stable.idle`
   * @param {string | null} previous the state before, when the machine just moved
   */
  const show = (current, previous) => {
    for (const [path, node] of nodes) {
      node.classList.toggle('current', path === current);
      node.classList.toggle('previous', path === previous && previous !== current);
    }
    for (const group of svg.querySelectorAll('g.group')) {
      const path = /** @type {SVGGElement} */ (group).dataset.path ?? '';
      group.classList.toggle('current', current.startsWith(`${path}.`));
    }
    const from = previous ? boxes.get(previous) : undefined;
    const to = boxes.get(current);
    if (from && to && previous !== current) {
      taken.setAttribute('d', curve(from, to));
      // Restart the draw-in animation for every new transition.
      taken.classList.remove('animate');
      void taken.getBoundingClientRect();
      taken.classList.add('animate');
    } else taken.removeAttribute('d');
  };
  return { svg, show };
}

/** @param {Box} box the attributes of an SVG rect */
function rect({ x, y, w, h }) {
  return { x, y, width: w, height: h };
}

/** @param {Box} outer @param {Box} inner */
function contains(outer, inner) {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.w <= outer.x + outer.w &&
    inner.y + inner.h <= outer.y + outer.h
  );
}

/**
 * A gently bent arrow between two boxes, from border to border. The bend is
 * to the left of the direction of travel, so A→B and B→A do not overlap.
 *
 * @param {Box} from
 * @param {Box} to
 */
function curve(from, to) {
  const a = { x: from.x + from.w / 2, y: from.y + from.h / 2 };
  const b = { x: to.x + to.w / 2, y: to.y + to.h / 2 };
  const start = border(from, a, b);
  const end = border(to, b, a);
  const length = Math.hypot(end.x - start.x, end.y - start.y) || 1;
  const bend = Math.min(14, length / 4);
  const control = {
    x: (start.x + end.x) / 2 + ((end.y - start.y) / length) * bend,
    y: (start.y + end.y) / 2 - ((end.x - start.x) / length) * bend,
  };
  const round = (/** @type {number} */ n) => Math.round(n * 10) / 10;
  return `M${round(start.x)},${round(start.y)} Q${round(control.x)},${round(control.y)} ${round(end.x)},${round(end.y)}`;
}

/**
 * Where the segment from `center` (inside `box`) toward `toward` leaves the box.
 *
 * @param {Box} box
 * @param {{ x: number, y: number }} center
 * @param {{ x: number, y: number }} toward
 */
function border(box, center, toward) {
  const dx = toward.x - center.x;
  const dy = toward.y - center.y;
  const sx = dx === 0 ? Number.POSITIVE_INFINITY : box.w / 2 / Math.abs(dx);
  const sy = dy === 0 ? Number.POSITIVE_INFINITY : box.h / 2 / Math.abs(dy);
  const scale = Math.min(sx, sy);
  // A few pixels off the border, so the arrowhead does not sit on the outline.
  const gap = 3 / (Math.hypot(dx, dy) || 1);
  return { x: center.x + dx * (scale + gap), y: center.y + dy * (scale + gap) };
}
