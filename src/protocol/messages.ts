/** Events a server sends, by their version 2 names: what {@link parseServerFrame} yields. */
export const SERVER_EVENTS = [
  'rtc:joined',
  'rtc:peer',
  'rtc:sdp',
  'rtc:candidate',
  'rtc:close',
  'rtc:stop',
  'rtc:describe',
  'rtc:error',
  'rtc:resumed',
] as const;

/**
 * Version 1 event names that are still accepted from a server and renamed:
 * `rtc:request_offers` becomes `rtc:peer`, `rtc:offer` and `rtc:answer` become `rtc:sdp`.
 */
export const LEGACY_SERVER_EVENTS = ['rtc:request_offers', 'rtc:offer', 'rtc:answer'] as const;

/**
 * `rtc:error` reasons with which a server refuses an `rtc:join`: the endpoint
 * is not in any pool and may try again (another name, later).
 */
export const JOIN_REFUSALS = ['pool-not-found', 'pool-refused', 'pool-full'] as const;

export type JoinRefusal = (typeof JOIN_REFUSALS)[number];

/** Events a client sends (version 2 only). */
export const CLIENT_EVENTS = ['rtc:join', 'rtc:sdp', 'rtc:candidate', 'rtc:resume'] as const;

/**
 * The `rtc:error` reason with which a server refuses an `rtc:resume`: the
 * session is unknown, expired, its token wrong, or what the client missed is
 * no longer held. One reason for all of them, so ids cannot be probed. The
 * endpoint has left its pool; it may join again.
 */
export const RESUME_REFUSED = 'resume-refused';

export type ServerEventType = (typeof SERVER_EVENTS)[number];
export type ClientEventType = (typeof CLIENT_EVENTS)[number];

/**
 * Bounds every parser enforces. Lengths are in UTF-16 code units, as
 * `string.length` counts them; `maxFrameBytes` is in UTF-8 bytes.
 */
export const PROTOCOL_LIMITS = {
  /** Default largest raw frame (a string or bytes) that is parsed at all. */
  maxFrameBytes: 64 * 1024,
  maxIdLength: 128,
  maxPoolLength: 256,
  maxSdpLength: 256 * 1024,
  maxCandidateLength: 4 * 1024,
  /** `sdpMid` and `usernameFragment` (RFC 8839 caps an ufrag at 256 characters). */
  maxIceFieldLength: 256,
  /** `rtc:error` message and reason. */
  maxErrorLength: 4 * 1024,
  /** Nesting of a peer's JSON description. */
  maxDescriptionDepth: 32,
  /** Values (every array, object, string, ...) in all the JSON descriptions of one frame. */
  maxDescriptionValues: 10_000,
} as const;

/** What `JSON.parse` can produce. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An SDP offer or answer as it travels: what `RTCSessionDescription.toJSON()`
 * produces for an offer or an answer.
 */
export interface SessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

/** A trickled ICE candidate as it travels: what `RTCIceCandidate.toJSON()` produces. */
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/** `rtc:joined`: this endpoint is in the pool. */
export interface JoinedData {
  /** This endpoint's id. */
  client_id: string;
  /** Ids of the peers already in the pool: the joiner is polite toward each of them. Distinct, never `client_id`. */
  peers: string[];
  /**
   * Peer id -> the JSON description the back-end set, or null. Has an entry for
   * every peer (null when the server sent none: version 1 servers may omit the
   * whole map) and may have others, such as `client_id`'s own. It has no
   * prototype, so a peer named `toString` or `__proto__` reads back safely.
   */
  descriptions: Record<string, JsonValue>;
  /** The pool actually joined (the server may map the requested name); null when a version 1 server did not say. */
  pool: string | null;
  /**
   * Present when the server keeps this session through a lost connection:
   * the secret that resumes it (`rtc:resume`), and for how long after the
   * connection is lost. Absent from version 1 servers and with resumption off.
   */
  resume?: ResumeGrant;
}

/** What a server grants in `rtc:joined` for resuming the session. */
export interface ResumeGrant {
  /** Secret: whoever holds it can take over the endpoint's id. */
  token: string;
  /** Milliseconds the server keeps the session after losing the connection. */
  window_ms: number;
}

/** `rtc:resumed`: the session is back on this connection. */
export interface ResumedData {
  /** The resumed endpoint's id (unchanged). */
  client_id: string;
  /**
   * How many frames the server has received from this session since
   * `rtc:joined` (the `rtc:resume` itself excepted): the client sends again
   * whatever it sent after those. The server sends again, right after this
   * event, whatever it sent after the client's `received`.
   */
  received: number;
}

/** A message from the signalling server, normalized to version 2 names and fields. */
export type ServerMessage =
  | { type: 'rtc:joined'; data: JoinedData }
  /** A peer joined after us; we are impolite toward it. */
  | { type: 'rtc:peer'; data: { id: string } }
  /** A description from peer `peer`. */
  | { type: 'rtc:sdp'; data: { peer: string; description: SessionDescription } }
  /** A trickled candidate from peer `from`; null marks the end of its candidates. */
  | { type: 'rtc:candidate'; data: { from: string; candidate: IceCandidate | null } }
  /** Peer `id` left the pool. */
  | { type: 'rtc:close'; data: { id: string } }
  /** The server force-closed the pool. */
  | { type: 'rtc:stop'; data: Record<string, never> }
  /** The back-end set peer `id`'s description. */
  | { type: 'rtc:describe'; data: { id: string; description: JsonValue } }
  /** The server rejected something this client sent. */
  | { type: 'rtc:error'; data: { message: string; reason?: string } }
  /** The session survived a lost connection and continues on this one. */
  | { type: 'rtc:resumed'; data: ResumedData };

/** A message from a client to the signalling server (version 2). */
export type ClientMessage =
  | { type: 'rtc:join'; data: { pool: string } }
  | { type: 'rtc:sdp'; data: { to: string; description: SessionDescription } }
  | { type: 'rtc:candidate'; data: { for: string; candidate: IceCandidate | null } }
  /**
   * Takes session `id` back after a lost connection, proving it with the
   * `token` from `rtc:joined`; `received` counts the frames this client has
   * received from the server since `rtc:joined` (`rtc:resumed` excepted).
   */
  | { type: 'rtc:resume'; data: { id: string; token: string; received: number } };

/** Either side's message, as it travels: `{ type, data }`. */
export type ProtocolMessage = ServerMessage | ClientMessage;

/** One server message by its type, e.g. `ServerMessageOf<'rtc:sdp'>`. */
export type ServerMessageOf<T extends ServerEventType> = Extract<ServerMessage, { type: T }>;

/** One client message by its type, e.g. `ClientMessageOf<'rtc:join'>`. */
export type ClientMessageOf<T extends ClientEventType> = Extract<ClientMessage, { type: T }>;

/**
 * Asks to join (or create, on a public server) a pool.
 *
 * @example
 * socket.send(encodeFrame(joinMessage('room-42')));
 */
export function joinMessage(pool: string): ClientMessageOf<'rtc:join'> {
  return { type: 'rtc:join', data: { pool } };
}

/**
 * Relays an offer or answer to peer `to`.
 *
 * @example
 * socket.send(encodeFrame(sdpMessage(peerId, { type: 'offer', sdp })));
 */
export function sdpMessage(to: string, description: SessionDescription): ClientMessageOf<'rtc:sdp'> {
  return { type: 'rtc:sdp', data: { to, description } };
}

/**
 * Relays a trickled candidate (null: end of candidates) to peer `forId`.
 *
 * @example
 * socket.send(encodeFrame(candidateMessage(peerId, candidate)));
 */
export function candidateMessage(forId: string, candidate: IceCandidate | null): ClientMessageOf<'rtc:candidate'> {
  return { type: 'rtc:candidate', data: { for: forId, candidate } };
}

/**
 * Resumes session `id` on a new connection (see {@link ResumeGrant}).
 *
 * @example
 * socket.send(encodeFrame(resumeMessage(id, grant.token, framesReceived)));
 */
export function resumeMessage(id: string, token: string, received: number): ClientMessageOf<'rtc:resume'> {
  return { type: 'rtc:resume', data: { id, token, received } };
}

/**
 * The JSON text frame `{"type": ..., "data": {...}}` for a raw WebSocket.
 * (A socket.io transport emits `message.type` with `message.data` instead.)
 *
 * @example
 * socket.send(encodeFrame({ type: 'rtc:peer', data: { id } })); // on the server
 */
export function encodeFrame(message: ProtocolMessage): string {
  return JSON.stringify({ type: message.type, data: message.data });
}
