/**
 * Draws each machine listed in `diagrams` as a Mermaid `stateDiagram-v2` and
 * keeps the copy in its Markdown file current, so the docs cannot drift from
 * the definitions.
 *
 *   npx tsx scripts/diagram.ts           rewrite the diagram blocks
 *   npx tsx scripts/diagram.ts --check   exit 1 if a block is stale
 *
 * A block sits between `<!-- diagram:NAME:start -->` and
 * `<!-- diagram:NAME:end -->`; everything outside the markers is left alone.
 *
 * How a machine is drawn (`toMermaid`):
 * - every state node becomes a Mermaid state, nested as in the machine;
 *   compound states get `[*] -->` to their initial child, parallel states
 *   separate their regions with `--`, final states get `--> [*]`;
 * - every transition with a target becomes one arrow per target, labelled
 *   with its event, `[guard]` when guarded and `[else]` when it is the
 *   unguarded fallback after guarded branches of the same event; invoked
 *   actors' results read `done: src` / `error: src`, delayed transitions
 *   `after delay`, eventless ones `always`;
 * - transitions without a target are not arrows: each state lists them under
 *   `internal:` (they run actions) and `ignores:` (they do nothing, which
 *   shadows any handler further up);
 * - descriptions are shown inside the state's box, or in a note beside a
 *   composite state (Mermaid gives those a title only);
 * - transitions defined on the machine itself apply whatever the current state
 *   is. They are drawn once, from a synthetic dashed state labelled
 *   "any state", whose box also lists the machine-wide internal transitions.
 *
 * Mermaid ids are the state keys made safe (`[A-Za-z0-9_]`), or the state path
 * where a key is reused or unsafe; the key is then kept as the label through
 * `state "key" as id`. Output depends only on the machine definition.
 */

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { negotiationMachine } from '../machines/negotiation.js';
import { poolMachine } from '../machines/pool.js';
import { runAsScript } from './run-as-script.js';

/** One diagram to keep up to date: add a line here to document another machine. */
export interface DiagramTarget {
  /** Marker name: the block sits between `<!-- diagram:NAME:start -->` and `<!-- diagram:NAME:end -->`. */
  name: string;
  machine: AnyStateMachine;
  /** Markdown file, relative to the repository root. */
  file: string;
}

export const diagrams: readonly DiagramTarget[] = [
  { name: 'negotiation', machine: negotiationMachine, file: 'docs/negotiation.md' },
  { name: 'pool', machine: poolMachine, file: 'docs/pool.md' },
];

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// ---------------------------------------------------------------------------
// Machine → Mermaid

const INDENT = '  ';
/** Longest line, in characters, of a description or a transition list. */
const WRAP = 56;
const ANY_STATE_LABEL = 'any state';
const ANY_STATE_CLASS = 'machineWide';
/** Words the Mermaid state-diagram grammar reads as keywords where a state id would stand (and a few more, to be safe). */
const RESERVED_IDS = new Set([
  'accdescr',
  'acctitle',
  'as',
  'class',
  'classdef',
  'click',
  'default',
  'direction',
  'end',
  'hide',
  'href',
  'note',
  'scale',
  'state',
  'statediagram',
  'style',
]);

export function toMermaid(machine: AnyStateMachine): string {
  return new MermaidWriter(machine.root).write();
}

interface Arrow {
  from: string;
  to: string;
  label: string;
}

/** What a state does with the transitions that do not leave it. */
interface InPlace {
  internal: string[];
  ignores: string[];
}

/** Where a line of Mermaid goes: the top of the diagram, or inside a compound state's block. */
type Doc = AnyStateNode | 'top';

class MermaidWriter {
  private readonly ids = new Map<AnyStateNode, string>();
  private readonly anyStateId: string;
  /** Id of the composite wrapping a parallel machine (Mermaid splits regions only inside one). */
  private readonly rootBlockId: string;
  private readonly arrows = new Map<Doc, Arrow[]>();
  private readonly inPlace = new Map<AnyStateNode, InPlace>();

  constructor(private readonly root: AnyStateNode) {
    [this.anyStateId, this.rootBlockId] = this.assignIds();
    for (const node of descendants(root)) this.collectTransitions(node);
    this.collectTransitions(root);
  }

  write(): string {
    const lines = ['stateDiagram-v2'];
    const body: string[] = [];
    if (this.root.type === 'parallel') {
      body.push(`[*] --> ${this.rootBlockId}`, ...this.composite(this.root, quoted(this.root.id)));
    } else {
      body.push(...this.docLines(this.root));
    }
    body.push(...this.anyStateLines());
    body.push(...arrowLines(this.arrows.get('top') ?? []));
    lines.push(...body.map((line) => INDENT + line));
    return `${lines.join('\n')}\n`;
  }

  // -- ids ------------------------------------------------------------------

  /** Gives every state node a unique Mermaid id; returns the ids of the "any state" and of the machine's block. */
  private assignIds(): [string, string] {
    const nodes = descendants(this.root);
    const keyCount = new Map<string, number>();
    for (const node of nodes) {
      const base = safeId(node.key);
      keyCount.set(base, (keyCount.get(base) ?? 0) + 1);
    }
    const used = new Set<string>();
    const claim = (wanted: string): string => {
      let id = wanted;
      for (let n = 2; used.has(id); n++) id = `${wanted}_${n}`;
      used.add(id);
      return id;
    };
    for (const node of nodes) {
      const base = safeId(node.key);
      this.ids.set(node, claim((keyCount.get(base) ?? 0) > 1 ? safeId(node.path.join('_')) : base));
    }
    return [claim(safeId(`${this.root.id}_any`)), claim(safeId(this.root.id))];
  }

  private id(node: AnyStateNode): string {
    const id = node === this.root ? this.anyStateId : this.ids.get(node);
    if (id === undefined) throw new Error(`state node ${node.id} is not part of this machine`);
    return id;
  }

  // -- transitions ----------------------------------------------------------

  private collectTransitions(node: AnyStateNode): void {
    const groups: Array<[string, readonly AnyTransitionDefinition[]]> = [];
    for (const [eventType, transitions] of node.transitions) {
      groups.push([this.eventLabel(node, eventType), transitions]);
    }
    if (node.always && node.always.length > 0) groups.push(['always', node.always]);

    const inPlace: InPlace = { internal: [], ignores: [] };
    for (const [event, transitions] of groups) {
      const targetless = transitions.filter((t) => t.target === undefined || t.target.length === 0);
      const kinds = new Set(targetless.map((t) => (t.actions.length > 0 ? 'internal' : 'ignores')));
      // All branches stay put and behave alike: the event alone says it.
      const plain = targetless.length === transitions.length && kinds.size === 1;
      let guardedBefore = false;
      for (const transition of transitions) {
        const guard =
          transition.guard === undefined ? (guardedBefore ? 'else' : undefined) : guardLabel(transition.guard);
        if (transition.guard !== undefined) guardedBefore = true;
        const label = guard === undefined ? event : `${event} [${guard}]`;
        const targets = transition.target ?? [];
        if (targets.length === 0) {
          const list = transition.actions.length > 0 ? inPlace.internal : inPlace.ignores;
          const entry = plain ? event : label;
          if (!list.includes(entry)) list.push(entry);
          continue;
        }
        for (const target of targets) {
          this.addArrow(this.arrowDoc(node, target), { from: this.id(node), to: this.id(target), label });
        }
      }
    }
    if (inPlace.internal.length > 0 || inPlace.ignores.length > 0) this.inPlace.set(node, inPlace);
  }

  /** Names the event of a transition, turning XState's generated event types into something readable. */
  private eventLabel(node: AnyStateNode, eventType: string): string {
    for (const delayed of node.after) {
      if (delayed.eventType === eventType) {
        return `after ${typeof delayed.delay === 'number' ? `${delayed.delay}ms` : String(delayed.delay)}`;
      }
    }
    for (const [index, invoke] of node.invoke.entries()) {
      const source = actorLabel(node, invoke.id, invoke.src, index);
      if (eventType === `xstate.done.actor.${invoke.id}`) return `done: ${source}`;
      if (eventType === `xstate.error.actor.${invoke.id}`) return `error: ${source}`;
      if (eventType === `xstate.snapshot.${invoke.id}`) return `snapshot: ${source}`;
    }
    // A compound or parallel state's own onDone: all its regions reached a final state.
    if (eventType === `xstate.done.state.${node.id}`) return 'onDone';
    const actorEvent = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
    if (actorEvent) return `${actorEvent[1]}: ${actorEvent[2]}`;
    return eventType;
  }

  /**
   * The block an arrow is written in: the deepest compound state enclosing
   * both ends. Mermaid places a state in the block that first names it, so
   * every state is declared before any arrow, and arrows never sit in a
   * parallel state's regions.
   */
  private arrowDoc(source: AnyStateNode, target: AnyStateNode): Doc {
    if (source === this.root) return 'top';
    const targetAncestors = new Set(ancestors(target));
    let doc: AnyStateNode | undefined =
      source === target ? source.parent : ancestors(source).find((a) => targetAncestors.has(a));
    while (doc && doc.type === 'parallel') doc = doc.parent;
    return doc === undefined || doc === this.root ? 'top' : doc;
  }

  private addArrow(doc: Doc, arrow: Arrow): void {
    const list = this.arrows.get(doc);
    if (list) list.push(arrow);
    else this.arrows.set(doc, [arrow]);
  }

  // -- states ---------------------------------------------------------------

  /** The inside of a compound state's block (or of the diagram, for the machine). */
  private docLines(node: AnyStateNode): string[] {
    const lines: string[] = [];
    if (node.type === 'compound') {
      for (const target of node.initial.target) lines.push(`[*] --> ${this.id(target)}`);
    }
    for (const child of children(node)) lines.push(...this.stateLines(child));
    for (const child of children(node)) if (child.type === 'final') lines.push(`${this.id(child)} --> [*]`);
    if (node !== this.root) lines.push(...arrowLines(this.arrows.get(node) ?? []));
    return lines;
  }

  private stateLines(node: AnyStateNode): string[] {
    const id = this.id(node);
    const details = [...wrapText(node.description ?? ''), ...this.inPlaceLines(node)];
    if (node.type === 'compound' || node.type === 'parallel') {
      const lines = [...this.composite(node, stateLabel(node))];
      // A line reading `end note` would close the note early.
      const noteLines = details.map((d) => INDENT + d.replace(/^end note\b/i, 'end-note'));
      if (details.length > 0) lines.push(`note right of ${id}`, ...noteLines, 'end note');
      return lines;
    }
    const label = stateLabel(node);
    if (label === id && details.length === 0) return [id];
    // With descriptions, the first `state "…"` text is the title and the rest are rows beneath it.
    return [`state "${label}" as ${id}`, ...details.map((d) => `${id} : ${d}`)];
  }

  /** A compound or parallel state's block; `label` is already quoted. */
  private composite(node: AnyStateNode, label: string): string[] {
    const id = node === this.root ? this.rootBlockId : this.id(node);
    const head = label === id ? `state ${id} {` : `state "${label}" as ${id} {`;
    const inner: string[] = [];
    if (node.type === 'parallel') {
      children(node).forEach((region, index) => {
        if (index > 0) inner.push('--');
        inner.push(...this.stateLines(region));
      });
    } else {
      inner.push(...this.docLines(node));
    }
    return [head, ...inner.map((line) => INDENT + line), '}'];
  }

  private inPlaceLines(node: AnyStateNode): string[] {
    const inPlace = this.inPlace.get(node);
    if (!inPlace) return [];
    return [...listLines('internal', inPlace.internal), ...listLines('ignores', inPlace.ignores)];
  }

  /** The synthetic state standing for "whatever the current state is": the machine's own transitions. */
  private anyStateLines(): string[] {
    const hasArrows = [...this.arrows.values()].some((list) => list.some((a) => a.from === this.anyStateId));
    const details = this.inPlaceLines(this.root);
    if (!hasArrows && details.length === 0) return [];
    return [
      `%% "${ANY_STATE_LABEL}": transitions defined on the machine itself, taken from whichever state is active`,
      `state "${ANY_STATE_LABEL}" as ${this.anyStateId}`,
      ...details.map((d) => `${this.anyStateId} : ${d}`),
      `classDef ${ANY_STATE_CLASS} stroke-dasharray: 5 5`,
      `class ${this.anyStateId} ${ANY_STATE_CLASS}`,
    ];
  }
}

function children(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states) as AnyStateNode[];
}

/** Every state node under `node`, in document order. */
function descendants(node: AnyStateNode): AnyStateNode[] {
  return children(node).flatMap((child) => [child, ...descendants(child)]);
}

/** Strict ancestors, nearest first. */
function ancestors(node: AnyStateNode): AnyStateNode[] {
  const list: AnyStateNode[] = [];
  for (let parent = node.parent; parent; parent = parent.parent) list.push(parent);
  return list;
}

function arrowLines(arrows: readonly Arrow[]): string[] {
  return arrows.map(({ from, to, label }) => `${from} --> ${to} : ${sanitize(label)}`);
}

function stateLabel(node: AnyStateNode): string {
  if (node.type === 'history') return quoted(`${node.key} [H${node.history === 'deep' ? '*' : ''}]`);
  return quoted(node.key);
}

/** `invoke.src` names the actor, unless it was inline logic, when the invoke id (if chosen) is the best name. */
function actorLabel(node: AnyStateNode, id: string, src: unknown, index: number): string {
  if (typeof src === 'string' && !src.startsWith('xstate.invoke.')) return src;
  return id === `${index}.${node.id}` ? 'inline actor' : id;
}

/** Names a guard: its type, `not`/`and`/`or` spelled out, or `inline` for an anonymous function. */
function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return guardLabel(guard.type);
  if (typeof guard === 'function') {
    if ('stateValue' in guard) return `in ${stateValueLabel(guard.stateValue)}`;
    if ('guards' in guard && Array.isArray(guard.guards)) {
      const parts = guard.guards.map((g: unknown) => {
        const label = guardLabel(g);
        return /\s/.test(label) ? `(${label})` : label;
      });
      if (guard.name === 'not') return `not ${parts[0] ?? ''}`;
      return parts.join(` ${guard.name} `);
    }
    return guard.name !== '' && guard.name !== 'guard' ? guard.name : 'inline';
  }
  return 'guard';
}

function stateValueLabel(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([key, child]) => `${key}.${stateValueLabel(child)}`)
      .join(', ');
  }
  return String(value);
}

/** Mermaid ids: word characters only, not a keyword, not starting with a digit. */
function safeId(text: string): string {
  let id = text.replace(/\W+/g, '_');
  if (id === '' || /^\d/.test(id)) id = `s_${id}`;
  if (RESERVED_IDS.has(id.toLowerCase())) id = `${id}_state`;
  return id;
}

function quoted(text: string): string {
  return sanitize(text).replace(/"/g, "'");
}

/**
 * Makes free text safe after a Mermaid `:` or inside a note: one line, no `;`
 * (a statement end), no `::` or trailing `:`, no braces, no HTML, no `%%`
 * comment, and no `direction XX` (read as a statement anywhere on a line).
 */
function sanitize(text: string): string {
  const clean = text
    .replace(/\s+/g, ' ')
    .replace(/;/g, ',')
    .replace(/\{/g, '(')
    .replace(/\}/g, ')')
    .replace(/</g, '‹')
    .replace(/>/g, '›')
    .replace(/%%/g, '%')
    .replace(/::/g, '∷')
    .replace(/\b(direction)\s+(TB|BT|RL|LR)\b/gi, '$1: $2')
    .trim()
    .replace(/[\s:]+$/, '');
  return clean === '' ? '-' : clean;
}

/** Splits prose into sanitised lines of at most WRAP characters (longer words stay whole). */
function wrapText(text: string): string[] {
  if (text.trim() === '') return [];
  return wrapWords(sanitize(text).split(' '));
}

/** `internal: a, b, c` wrapped onto as many lines as it needs. */
function listLines(title: string, items: readonly string[]): string[] {
  if (items.length === 0) return [];
  const words = items.map((item, i) => sanitize(item) + (i < items.length - 1 ? ',' : ''));
  return wrapWords([`${title}:`, ...words]);
}

/**
 * Greedy word wrap. A word ending in `:` stays with the next one: Mermaid
 * rejects a description or label that ends in a colon.
 */
function wrapWords(words: readonly string[]): string[] {
  const units: string[] = [];
  let pending = '';
  for (const word of words) {
    pending = pending === '' ? word : `${pending} ${word}`;
    if (!pending.endsWith(':')) {
      units.push(pending);
      pending = '';
    }
  }
  if (pending !== '') units.push(pending);
  const lines: string[] = [];
  let line = '';
  for (const word of units) {
    if (line !== '' && line.length + 1 + word.length > WRAP) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

// ---------------------------------------------------------------------------
// Docs

const startMarker = (name: string) => `<!-- diagram:${name}:start -->`;
const endMarker = (name: string) => `<!-- diagram:${name}:end -->`;

/** Replaces the marker block named `name` in `markdown` with a fenced Mermaid block. */
export function replaceBlock(markdown: string, name: string, mermaid: string): string {
  const start = markdown.indexOf(startMarker(name));
  const end = markdown.indexOf(endMarker(name));
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`missing or misplaced markers ${startMarker(name)} … ${endMarker(name)}`);
  }
  const before = markdown.slice(0, start + startMarker(name).length);
  const after = markdown.slice(end);
  return `${before}\n\`\`\`mermaid\n${mermaid.trimEnd()}\n\`\`\`\n${after}`;
}

export interface DocStatus {
  name: string;
  /** Absolute path of the Markdown file. */
  file: string;
  current: string;
  expected: string;
  stale: boolean;
}

/** Compares each target's Markdown with what it should contain; writes nothing. */
export async function docStatus(targets: readonly DiagramTarget[] = diagrams, root = repoRoot): Promise<DocStatus[]> {
  const statuses: DocStatus[] = [];
  for (const target of targets) {
    const file = path.resolve(root, target.file);
    const current = await readFile(file, 'utf8');
    const expected = replaceBlock(current, target.name, toMermaid(target.machine));
    statuses.push({ name: target.name, file, current, expected, stale: current !== expected });
  }
  return statuses;
}

/** Rewrites every stale diagram block (unless `check`); returns what was found. */
export async function updateDocs(
  options: { check?: boolean; targets?: readonly DiagramTarget[]; root?: string } = {},
): Promise<DocStatus[]> {
  const statuses = await docStatus(options.targets, options.root);
  if (!options.check) {
    for (const status of statuses) if (status.stale) await writeFile(status.file, status.expected);
  }
  return statuses;
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  const statuses = await updateDocs({ check });
  let failed = false;
  for (const { name, file, stale } of statuses) {
    const where = path.relative(repoRoot, file);
    if (!stale) console.log(`diagram ${name}: ${where} is up to date`);
    else if (check) {
      failed = true;
      console.error(`diagram ${name}: ${where} is stale; run \`npm run diagram\` to update it`);
    } else console.log(`diagram ${name}: updated ${where}`);
  }
  return failed ? 1 : 0;
}

runAsScript(import.meta.url, 'diagram', main);
