/**
 * Hand-written validators for the fields of signalling messages. They read
 * only own properties (a frame's prototype chain is none of our business),
 * copy what they accept into fresh objects (so unknown fields fall away), and
 * throw {@link InvalidField}, which the parsers turn into a `SignallingError`.
 */
import { type IceCandidate, type JsonValue, PROTOCOL_LIMITS as limits, type SessionDescription } from './messages.js';

export type Fields = Record<string, unknown>;

/** Thrown by validators; cheaper than an Error because it needs no stack. */
export class InvalidField {
  constructor(
    readonly field: string,
    readonly expected: string,
  ) {}
}

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function own(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined;
}

export function string(value: unknown, field: string, max: number, min = 1): string {
  if (typeof value === 'string' && value.length >= min && value.length <= max) return value;
  throw new InvalidField(field, `a ${min ? 'non-empty ' : ''}string of at most ${max} characters`);
}

export const id = (value: unknown, field: string): string => string(value, field, limits.maxIdLength);

/** A count of frames or a duration: a non-negative safe integer. */
export function count(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new InvalidField(field, 'a non-negative integer');
}
export const poolName = (value: unknown, field: string): string => string(value, field, limits.maxPoolLength);

/**
 * The value of whichever of several alias fields is present (version 1 and 2
 * spell some fields differently, PyRTC sends both). Two present aliases must
 * hold the same value: a frame that names two different peers is refused
 * rather than guessed at. Returns `[name, value]`, or undefined if none is there.
 */
export function alias(fields: Fields, names: readonly string[]): [string, unknown] | undefined {
  let found: [string, unknown] | undefined;
  for (const name of names) {
    const value = own(fields, name);
    if (value === undefined) continue;
    if (found && found[1] !== value) throw new InvalidField(`data.${name}`, `equal to data.${found[0]}`);
    found ??= [name, value];
  }
  return found;
}

/** A peer id under any of `names`. */
export function aliasedId(fields: Fields, names: readonly string[]): string {
  const [name, value] = alias(fields, names) ?? [names.join('|'), undefined];
  return id(value, `data.${name}`);
}

export function sessionDescription(value: unknown, field: string, type?: 'offer' | 'answer'): SessionDescription {
  if (!isFields(value)) throw new InvalidField(field, 'an object { type, sdp }');
  const actual = own(value, 'type');
  if (actual !== 'offer' && actual !== 'answer') throw new InvalidField(`${field}.type`, '"offer" or "answer"');
  if (type && actual !== type) throw new InvalidField(`${field}.type`, `"${type}" in this event`);
  return { type: actual, sdp: string(own(value, 'sdp'), `${field}.sdp`, limits.maxSdpLength) };
}

const iceText = (value: unknown, field: string) => string(value, field, limits.maxIceFieldLength, 0);

function lineIndex(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535) return value;
  throw new InvalidField(field, 'an integer from 0 to 65535 or null');
}

/** An ICE candidate, or null for end-of-candidates. The field itself must be present. */
export function iceCandidate(value: unknown, field: string): IceCandidate | null {
  if (value === null) return null;
  if (!isFields(value)) throw new InvalidField(field, 'an object { candidate, sdpMid, sdpMLineIndex } or null');
  const candidate: IceCandidate = {
    candidate: string(own(value, 'candidate'), `${field}.candidate`, limits.maxCandidateLength, 0),
  };
  // Kept in RTCIceCandidate.toJSON() order; absent stays absent, null stays null.
  const mid = own(value, 'sdpMid');
  const index = own(value, 'sdpMLineIndex');
  const ufrag = own(value, 'usernameFragment');
  if (mid !== undefined) candidate.sdpMid = mid === null ? null : iceText(mid, `${field}.sdpMid`);
  if (index !== undefined) candidate.sdpMLineIndex = index === null ? null : lineIndex(index, `${field}.sdpMLineIndex`);
  if (ufrag !== undefined) {
    candidate.usernameFragment = ufrag === null ? null : iceText(ufrag, `${field}.usernameFragment`);
  }
  // addIceCandidate() rejects such a candidate outright (WebRTC 1.0, 4.4.1.6): refuse it here instead.
  if (candidate.candidate && candidate.sdpMid == null && candidate.sdpMLineIndex == null) {
    throw new InvalidField(`${field}.sdpMid`, 'given (or sdpMLineIndex) for a non-empty candidate');
  }
  return candidate;
}

/** Counts the JSON values still allowed in one frame's descriptions. */
export interface Budget {
  values: number;
}

type Container = JsonValue[] | { [key: string]: JsonValue };

/**
 * A copy of `value` if it is plain JSON: finite numbers, arrays and plain
 * objects only, no cycles, nested at most `maxDescriptionDepth` deep. The copy
 * detaches the message from whatever object a transport handed over. The walk
 * is breadth-first over its own queue, so no input can exhaust the call stack,
 * and it stops as soon as the budget runs out, so a cycle or a huge object
 * costs little.
 */
export function jsonValue(value: unknown, field: string, budget: Budget): JsonValue {
  const invalid = (expected: string) => new InvalidField(field, expected);
  const spend = (values: number) => {
    budget.values -= values;
    if (budget.values < 0) throw invalid(`JSON of at most ${limits.maxDescriptionValues} values`);
  };
  spend(1);
  const root: JsonValue[] = [];
  const queue: [item: unknown, depth: number, into: Container, key: string][] = [[value, 0, root, '']];
  for (let i = 0; i < queue.length; i++) {
    const [item, depth, into, key] = queue[i] as (typeof queue)[number];
    let copy = item as JsonValue;
    let children: [string, unknown][] = [];
    if (typeof item === 'object' && item !== null) {
      if (depth >= limits.maxDescriptionDepth) throw invalid(`JSON nested at most ${limits.maxDescriptionDepth} deep`);
      if (Array.isArray(item)) {
        // Spent before reading, so a sparse array claiming billions of items costs nothing.
        spend(item.length);
        // Index rather than entries(): a hole becomes undefined and is refused, not skipped.
        for (let index = 0; index < item.length; index++) children.push(['', item[index]]);
        copy = [];
      } else {
        const prototype = Object.getPrototypeOf(item);
        if (prototype !== Object.prototype && prototype !== null) throw invalid('JSON (plain objects only)');
        children = Object.entries(item);
        spend(children.length);
        copy = {};
      }
    } else if (!(typeof item === 'string' || typeof item === 'boolean' || Number.isFinite(item) || item === null)) {
      throw invalid('JSON (no undefined, functions or non-finite numbers)');
    }
    if (Array.isArray(into)) into.push(copy);
    // defineProperty, not assignment: a key named __proto__ must stay a key.
    else Object.defineProperty(into, key, { value: copy, writable: true, enumerable: true, configurable: true });
    for (const [childKey, child] of children) queue.push([child, depth + 1, copy as Container, childKey]);
  }
  return root[0] ?? null;
}
