/**
 * Hand-written validators for the fields of signalling messages. They read
 * only own properties (a frame's prototype chain is none of our business),
 * copy what they accept into fresh objects (so unknown fields fall away), and
 * throw {@link InvalidField}, which the parsers turn into a `SignallingError`.
 */
import type { IceCandidate, SessionDescription } from '../types.js';
import { type JsonValue, PROTOCOL_LIMITS as limits } from './messages.js';

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

/** An ICE candidate, or null for end-of-candidates. The field itself must be present. */
export function iceCandidate(value: unknown, field: string): IceCandidate | null {
  if (value === null) return null;
  if (!isFields(value)) throw new InvalidField(field, 'an object { candidate, sdpMid, sdpMLineIndex } or null');
  const candidate: IceCandidate = {
    candidate: string(own(value, 'candidate'), `${field}.candidate`, limits.maxCandidateLength, 0),
  };
  for (const key of ['sdpMid', 'usernameFragment'] as const) {
    const text = own(value, key);
    if (text === null) candidate[key] = null;
    else if (text !== undefined) candidate[key] = string(text, `${field}.${key}`, limits.maxIceFieldLength, 0);
  }
  const index = own(value, 'sdpMLineIndex');
  if (index === null) candidate.sdpMLineIndex = null;
  else if (index !== undefined) {
    if (!Number.isInteger(index) || (index as number) < 0 || (index as number) > 65535) {
      throw new InvalidField(`${field}.sdpMLineIndex`, 'an integer from 0 to 65535 or null');
    }
    candidate.sdpMLineIndex = index as number;
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

/**
 * Checks that `value` is plain JSON: finite numbers, arrays and plain objects
 * only, no cycles, nested at most `maxDescriptionDepth` deep. The walk keeps
 * its own stack, so no input can exhaust the call stack, and it stops as soon
 * as the budget runs out, so a cycle or a huge object costs little.
 */
export function jsonValue(value: unknown, field: string, budget: Budget): JsonValue {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (--budget.values < 0) throw new InvalidField(field, `JSON of at most ${limits.maxDescriptionValues} values`);
    const [item, depth] = next;
    if (item === null || typeof item === 'string' || typeof item === 'boolean') continue;
    if (typeof item === 'number' && Number.isFinite(item)) continue;
    if (typeof item !== 'object') throw new InvalidField(field, 'JSON (no undefined, functions or non-finite numbers)');
    if (depth >= limits.maxDescriptionDepth) {
      throw new InvalidField(field, `JSON nested at most ${limits.maxDescriptionDepth} deep`);
    }
    let children: unknown[];
    if (Array.isArray(item)) children = item;
    else {
      const prototype = Object.getPrototypeOf(item);
      if (prototype !== Object.prototype && prototype !== null)
        throw new InvalidField(field, 'JSON (plain objects only)');
      children = Object.values(item);
    }
    // Checked before pushing, so a sparse array claiming a billion items costs nothing.
    if (children.length > budget.values) {
      throw new InvalidField(field, `JSON of at most ${limits.maxDescriptionValues} values`);
    }
    // Index rather than spread: holes in a sparse array become undefined and are refused.
    for (let i = 0; i < children.length; i++) pending.push([children[i], depth + 1]);
  }
  return value as JsonValue;
}
