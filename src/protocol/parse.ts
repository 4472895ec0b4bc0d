import { SignallingError } from './errors.js';
import {
  alias,
  aliasedId,
  type Budget,
  count,
  type Fields,
  InvalidField,
  iceCandidate,
  id,
  isFields,
  jsonValue,
  own,
  poolName,
  sessionDescription,
  string,
} from './fields.js';
import { iceServers } from './ice-servers.js';
import { type ClientMessage, type JsonValue, PROTOCOL_LIMITS as limits, type ServerMessage } from './messages.js';

/** A parser's verdict: a typed message, or the reason there is none. Parsers never throw. */
export type ParseResult<T> =
  | {
      /** Parsed: `message` is the typed message. */
      ok: true;
      /** The message, with only the fields the protocol defines. */
      message: T;
    }
  | {
      /** Refused: `error` says why. */
      ok: false;
      /** What was wrong, with a stable `code` (and the `field`, for `invalid-field`). */
      error: SignallingError;
    };

/** How strictly a parser reads a raw frame. */
export interface ParseOptions {
  /**
   * Largest raw frame, in UTF-8 bytes, that is parsed at all (default
   * `PROTOCOL_LIMITS.maxFrameBytes`, 64 KiB). Checked before `JSON.parse`.
   * Already-parsed objects are not measured: their transport bounds them.
   */
  maxFrameBytes?: number;
}

type EventParsers<T> = Record<string, (data: Fields) => T>;

/*
 * Version 1 field names. The original's protocol notes document v2 and name
 * v1's events but not their fields; those are known from the PyRTC 1.x relay,
 * which sent:
 *   rtc:request_offers { for: <the peer that joined> }
 *   rtc:offer          { for: <sender>, offer: <description> }
 *   rtc:answer         { for: <sender>, answer: <description> }
 *   rtc:close, rtc:describe { uid, ... }   (PyRTC 2 sends uid and id)
 *   rtc:joined         { client_id, peers, pool }   (descriptions came later)
 * Decision: accept exactly those, plus the v2 spellings of the same fields
 * (`id` for the peer an event is about; `peer` or `from` for a sender;
 * `description` for a description) so that a server that renamed its fields
 * before its events still parses. Nothing is guessed beyond that: no bare `sdp`
 * string (in v2 `sdp` is the field inside a description, so a top-level one is
 * ambiguous) and no `id` as a sender. Where two aliases are present they must
 * agree. A description in `rtc:offer` must say type "offer", in `rtc:answer`
 * "answer": its type is never inferred from the event name.
 * v2 events (`rtc:sdp`, `rtc:candidate`, ...) accept only the documented v2 fields,
 * except `uid` beside `id`, which PyRTC 2 sends on purpose.
 */
const subject = ['id', 'uid'];
const legacySender = ['for', 'peer', 'from'];

function legacySdp(data: Fields, type: 'offer' | 'answer'): ServerMessage {
  const [name, value] = alias(data, ['description', type]) ?? ['description', undefined];
  return {
    type: 'rtc:sdp',
    data: { peer: aliasedId(data, legacySender), description: sessionDescription(value, `data.${name}`, type) },
  };
}

function joined(data: Fields): ServerMessage {
  const clientId = id(own(data, 'client_id'), 'data.client_id');
  const list = own(data, 'peers');
  if (!Array.isArray(list)) throw new InvalidField('data.peers', 'an array of peer ids');
  const peers: string[] = [];
  const seen = new Set([clientId]);
  // An index loop, not map(): map() skips the holes of a sparse array instead of refusing them.
  for (let i = 0; i < list.length; i++) {
    const peer = id(list[i], `data.peers[${i}]`);
    if (seen.has(peer)) throw new InvalidField(`data.peers[${i}]`, 'distinct from client_id and the other peers');
    seen.add(peer);
    peers.push(peer);
  }
  // No prototype: `descriptions[peerId]` must never find Object.prototype's members.
  const descriptions: Record<string, JsonValue> = Object.create(null);
  for (const peer of peers) descriptions[peer] = null;
  const given = own(data, 'descriptions') ?? {};
  if (!isFields(given)) throw new InvalidField('data.descriptions', 'an object of peer id -> description');
  const budget: Budget = { values: limits.maxDescriptionValues };
  for (const key of Object.keys(given)) {
    id(key, 'data.descriptions (each key)');
    descriptions[key] = jsonValue(given[key], `data.descriptions.${key}`, budget);
  }
  const pool = own(data, 'pool');
  const message: ServerMessage = {
    type: 'rtc:joined',
    data: { client_id: clientId, peers, descriptions, pool: pool == null ? null : poolName(pool, 'data.pool') },
  };
  const resume = own(data, 'resume');
  if (resume != null) {
    if (!isFields(resume)) throw new InvalidField('data.resume', 'an object { token, window_ms }');
    message.data.resume = {
      token: id(own(resume, 'token'), 'data.resume.token'),
      window_ms: count(own(resume, 'window_ms'), 'data.resume.window_ms'),
    };
  }
  const servers = own(data, 'ice_servers');
  if (servers != null) message.data.ice_servers = iceServers(servers, 'data.ice_servers');
  const answersPing = own(data, 'answers_ping');
  if (answersPing != null) {
    if (typeof answersPing !== 'boolean') throw new InvalidField('data.answers_ping', 'a boolean');
    message.data.answers_ping = answersPing;
  }
  return message;
}

function resumed(data: Fields): ServerMessage {
  const message: ServerMessage = {
    type: 'rtc:resumed',
    data: {
      client_id: id(own(data, 'client_id'), 'data.client_id'),
      received: count(own(data, 'received'), 'data.received'),
    },
  };
  const servers = own(data, 'ice_servers');
  if (servers != null) message.data.ice_servers = iceServers(servers, 'data.ice_servers');
  return message;
}

function error(data: Fields): ServerMessage {
  const message = string(own(data, 'message'), 'data.message', limits.maxErrorLength, 0);
  const reason = own(data, 'reason');
  return reason == null
    ? { type: 'rtc:error', data: { message } }
    : { type: 'rtc:error', data: { message, reason: string(reason, 'data.reason', limits.maxErrorLength, 0) } };
}

const serverEvents: EventParsers<ServerMessage> = {
  'rtc:joined': joined,
  'rtc:peer': (data) => ({ type: 'rtc:peer', data: { id: aliasedId(data, subject) } }),
  'rtc:request_offers': (data) => ({ type: 'rtc:peer', data: { id: aliasedId(data, [...subject, 'for']) } }),
  'rtc:sdp': (data) => ({
    type: 'rtc:sdp',
    data: {
      peer: id(own(data, 'peer'), 'data.peer'),
      description: sessionDescription(own(data, 'description'), 'data.description'),
    },
  }),
  'rtc:offer': (data) => legacySdp(data, 'offer'),
  'rtc:answer': (data) => legacySdp(data, 'answer'),
  'rtc:candidate': (data) => ({
    type: 'rtc:candidate',
    data: {
      from: id(own(data, 'from'), 'data.from'),
      candidate: iceCandidate(own(data, 'candidate'), 'data.candidate'),
    },
  }),
  'rtc:close': (data) => ({ type: 'rtc:close', data: { id: aliasedId(data, subject) } }),
  'rtc:stop': () => ({ type: 'rtc:stop', data: {} }),
  'rtc:describe': (data) => ({
    type: 'rtc:describe',
    data: {
      id: aliasedId(data, subject),
      description: jsonValue(own(data, 'description'), 'data.description', { values: limits.maxDescriptionValues }),
    },
  }),
  'rtc:error': error,
  'rtc:resumed': resumed,
  'rtc:pong': () => ({ type: 'rtc:pong', data: {} }),
};

/** Client events that are named in the protocol but refused outright, with why. */
function forbidden(why: string): () => never {
  return () => {
    throw new SignallingError('forbidden-event', why);
  };
}

const clientEvents: EventParsers<ClientMessage> = {
  'rtc:describe': forbidden('rtc:describe: descriptions are set by the server only'),
  'rtc:join': (data) => ({ type: 'rtc:join', data: { pool: poolName(own(data, 'pool'), 'data.pool') } }),
  'rtc:sdp': (data) => ({
    type: 'rtc:sdp',
    data: {
      to: id(own(data, 'to'), 'data.to'),
      description: sessionDescription(own(data, 'description'), 'data.description'),
    },
  }),
  'rtc:candidate': (data) => ({
    type: 'rtc:candidate',
    data: { for: id(own(data, 'for'), 'data.for'), candidate: iceCandidate(own(data, 'candidate'), 'data.candidate') },
  }),
  'rtc:resume': (data) => ({
    type: 'rtc:resume',
    data: {
      id: id(own(data, 'id'), 'data.id'),
      token: id(own(data, 'token'), 'data.token'),
      received: count(own(data, 'received'), 'data.received'),
    },
  }),
  'rtc:ping': (data) => {
    const received = own(data, 'received');
    return { type: 'rtc:ping', data: received === undefined ? {} : { received: count(received, 'data.received') } };
  },
};

/** Whether `text` takes more than `max` bytes as UTF-8, without encoding it. */
function exceeds(text: string, max: number): boolean {
  if (text.length > max) return true; // every UTF-16 unit needs at least one byte
  if (text.length * 3 <= max) return false; // and at most three
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= max; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if ((unit & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes > max;
}

/** One decoder for every frame: without `stream` it keeps no state between calls. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON text (string, or bytes as `ws` delivers them) parsed; anything else passes through as a parsed frame. */
function decode(raw: unknown, max: number): unknown {
  let text: string;
  if (typeof raw === 'string') {
    if (exceeds(raw, max)) throw new SignallingError('frame-too-large', `frame larger than ${max} bytes`);
    text = raw;
  } else if (raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
    if (raw.byteLength > max) throw new SignallingError('frame-too-large', `frame larger than ${max} bytes`);
    try {
      text = utf8.decode(raw);
    } catch (cause) {
      throw new SignallingError('malformed-frame', 'frame is not UTF-8 text', { cause });
    }
  } else return raw;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SignallingError('malformed-frame', 'frame is not JSON', { cause });
  }
}

/** A raw frame's event name and data, read but not yet validated. */
export interface DecodedFrame {
  /** The event name, not yet checked against the protocol's. */
  type: string;
  /** The event's data, not yet validated. */
  data: unknown;
}

function readEnvelope(raw: unknown, options: ParseOptions | undefined): DecodedFrame {
  const frame = decode(raw, options?.maxFrameBytes ?? limits.maxFrameBytes);
  if (!isFields(frame)) throw new SignallingError('malformed-frame', 'frame must be an object { type, data }');
  const type = own(frame, 'type');
  if (typeof type !== 'string') throw new SignallingError('malformed-frame', 'frame "type" must be a string');
  return { type, data: own(frame, 'data') };
}

function readEvent<T>(parsers: EventParsers<T>, type: unknown, data: unknown): T {
  if (typeof type !== 'string') throw new SignallingError('malformed-frame', 'frame "type" must be a string');
  const parse = Object.hasOwn(parsers, type) ? parsers[type] : undefined;
  if (!parse) throw new SignallingError('unknown-event', `unknown event ${JSON.stringify(type.slice(0, 64))}`);
  if (!isFields(data)) throw new SignallingError('malformed-frame', `${type}: frame "data" must be an object`);
  try {
    return parse(data);
  } catch (error) {
    if (!(error instanceof InvalidField)) throw error;
    throw new SignallingError('invalid-field', `${type}: ${error.field} must be ${error.expected}`, {
      field: error.field,
    });
  }
}

function readFrame<T>(parsers: EventParsers<T>, raw: unknown, options: ParseOptions | undefined): T {
  const { type, data } = readEnvelope(raw, options);
  return readEvent(parsers, type, data);
}

/** Runs a reader; whatever it throws (even a hostile getter's error) becomes a `SignallingError`. */
function settle<T>(read: () => T): ParseResult<T> {
  try {
    return { ok: true, message: read() };
  } catch (cause) {
    const error =
      cause instanceof SignallingError ? cause : new SignallingError('malformed-frame', 'unreadable frame', { cause });
    return { ok: false, error };
  }
}

/**
 * Reads a raw frame (a JSON text, its UTF-8 bytes, or an already-parsed
 * object) into its event name and data, with the size rules every parser
 * applies, without validating the event: the one frame decoder of both the
 * client's transports and the server. A transport that hands events on
 * separately (socket.io) validates them with {@link parseServerEvent} (or,
 * on the server, `parseClientEvent`).
 *
 * @example
 * const frame = decodeFrame(event.data);
 * if (frame.ok) transceiver.receive(frame.message.type, frame.message.data);
 */
export function decodeFrame(raw: unknown, options?: ParseOptions): ParseResult<DecodedFrame> {
  return settle(() => readEnvelope(raw, options));
}

/**
 * Parses a frame from the signalling server: a JSON string, its bytes, or an
 * already-parsed `{ type, data }` object. Accepts both protocol versions and
 * yields version 2 names (see {@link ServerMessage}). Unknown fields are dropped.
 *
 * @example
 * ws.addEventListener('message', ({ data }) => {
 *   const result = parseServerFrame(data);
 *   if (!result.ok) return logger.log('warn', 'signal', result.error.message);
 *   if (result.message.type === 'rtc:sdp') deliver(result.message.data.peer, result.message.data.description);
 * });
 */
export function parseServerFrame(raw: unknown, options?: ParseOptions): ParseResult<ServerMessage> {
  return settle(() => readFrame(serverEvents, raw, options));
}

/**
 * Parses a frame from a client (version 2: `rtc:join`, `rtc:sdp`, `rtc:candidate`, `rtc:resume`, `rtc:ping`).
 *
 * @example
 * socket.on('message', (data) => {
 *   const result = parseClientFrame(data);
 *   if (!result.ok) socket.send(encodeFrame({ type: 'rtc:error', data: { message: result.error.message, reason: result.error.code } }));
 *   else relay(result.message);
 * });
 */
export function parseClientFrame(raw: unknown, options?: ParseOptions): ParseResult<ClientMessage> {
  return settle(() => readFrame(clientEvents, raw, options));
}

/**
 * Parses one server event delivered as a separate type and data, as socket.io does.
 *
 * @example
 * io.onAny((type, data) => {
 *   const result = parseServerEvent(type, data);
 *   if (result.ok) handle(result.message);
 * });
 */
export function parseServerEvent(type: string, data: unknown): ParseResult<ServerMessage> {
  return settle(() => readEvent(serverEvents, type, data));
}

/**
 * Parses one client event delivered as a separate type and data, as socket.io does.
 *
 * @example
 * socket.onAny((type, data) => {
 *   const result = parseClientEvent(type, data);
 *   if (result.ok) relay(socket, result.message);
 * });
 */
export function parseClientEvent(type: string, data: unknown): ParseResult<ClientMessage> {
  return settle(() => readEvent(clientEvents, type, data));
}
